// Renders an Adaptive Card the way Teams desktop and web do (the adaptivecards SDK, with markdown-it for the
// Markdown) and prints the HTML. Usage: node devtools/cards/render.js < message.json   (a Workflows webhook
// message), or with {"texts": ["…", …]} each text alone in a TextBlock, for tables of what each value shows.
"use strict";
const { JSDOM } = require("jsdom");

const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>");
global.window = dom.window;
global.document = dom.window.document;
global.navigator = dom.window.navigator;
for (const name of Object.getOwnPropertyNames(dom.window)) {
  if (/^(HTML|SVG)\w*Element$|^(Node|Element|Event|KeyboardEvent|MouseEvent|getComputedStyle)$/.test(name) && !(name in global)) {
    global[name] = dom.window[name];
  }
}

const AdaptiveCards = require("adaptivecards/dist/adaptivecards.min.js");
const markdownIt = require("markdown-it")({ linkify: true });
// CommonMark with linkify, as strict as Teams or stricter, except code spans: Teams does not render `code` in
// cards (Microsoft's cards-format page lists what it renders; AdaptiveCards issues 4906, 6091, 8836), and no
// escape of a backtick is removed on Teams for iOS and Android, so card text leaves backticks as typed.
markdownIt.disable("backticks");
AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
  result.outputHtml = markdownIt.render(text);
  result.didProcess = true;
};

function render(content) {
  const card = new AdaptiveCards.AdaptiveCard();
  const context = new AdaptiveCards.SerializationContext();
  card.parse(content, context);
  const errors = context.eventCount ? Array.from({ length: context.eventCount }, (_, i) => context.getEventAt(i).message) : [];
  for (const event of card.validateProperties().validationEvents) errors.push(event.message);
  const element = card.render();
  return { html: element ? element.outerHTML : "", errors };
}

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const message = JSON.parse(input);
  if (Array.isArray(message.texts)) {
    const one = (text) => ({ type: "AdaptiveCard", version: "1.2", body: [{ type: "TextBlock", text, wrap: true }] });
    process.stdout.write(JSON.stringify({ texts: message.texts.map((text) => render(one(text))) }));
    return;
  }
  process.stdout.write(JSON.stringify(render(message.attachments[0].content)));
});
