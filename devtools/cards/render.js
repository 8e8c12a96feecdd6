// Renders an Adaptive Card the way Teams does (the adaptivecards SDK, with markdown-it for the Markdown subset)
// and prints the HTML. Usage: node devtools/cards/render.js < message.json   (a Workflows webhook message)
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
AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
  result.outputHtml = markdownIt.render(text);
  result.didProcess = true;
};

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const message = JSON.parse(input);
  const card = new AdaptiveCards.AdaptiveCard();
  const context = new AdaptiveCards.SerializationContext();
  card.parse(message.attachments[0].content, context);
  const errors = context.eventCount ? Array.from({ length: context.eventCount }, (_, i) => context.getEventAt(i).message) : [];
  for (const event of card.validateProperties().validationEvents) errors.push(event.message);
  const element = card.render();
  process.stdout.write(JSON.stringify({ html: element ? element.outerHTML : "", errors }));
});
