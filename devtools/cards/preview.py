"""``python -m devtools.cards.preview OUT.png [--card lead|returning|hostile|failure|test]``: a picture of a Teams
card sales see, for reviews and the docs (``returning``: a returning customer's new event, DYNAMICS_DUPLICATES).

The card is built by the app's own code from a sample lead (``hostile``: every value tries Markdown, a link, a
list or HTML), then rendered in headless Chromium by the Adaptive Cards SDK from npm with markdown-it, configured
as devtools/cards/render.js is (Teams desktop and web). Needs Debian's ``chromium``; the tests check the same
rendering without a browser (render.js) and the phones' with tests/teams_mobile/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from leads.core import campaign
from leads.core.messages import DynamicsState
from leads.core.payload import parse_lead
from leads.core.teams_card import failure_card, lead_card, probe_card
from tests.leadsamples import marketplace_lead

ROOT = Path(__file__).resolve().parents[2]
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<style>body {{ margin: 0; padding: 24px; background: #f0f0f0; font-family: "Segoe UI", "DejaVu Sans", sans-serif; }}
#card {{ width: 520px; background: #ffffff; border-radius: 6px; box-shadow: 0 1px 4px rgba(0,0,0,.2); }}</style>
<script src="{markdown_it}"></script><script src="{adaptivecards}"></script></head>
<body><div id="card"></div><script>
const md = window.markdownit({{ linkify: true }});
md.disable("backticks");  // as render.js: Teams renders no code spans in cards
AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {{
  result.outputHtml = md.render(text);
  result.didProcess = true;
}};
const card = new AdaptiveCards.AdaptiveCard();
card.parse({card});
document.getElementById("card").appendChild(card.render());
</script></body></html>
"""


RECEIVED = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
LINK = "https://contoso.crm4.dynamics.com/main.aspx?etn=lead&pagetype=entityrecord&id=0b9e5c1a"
ORDINARY = marketplace_lead(Description='{"mktcmpid": "cmp-news-05", "utm_source": "newsletter"}')
RETURNING = marketplace_lead(  # the same person, a week after installing: "Contact me"
    LeadSource="AzureMarketplace-PLT|contoso.crm-connector",
    ActionCode="PLT",
    Description="Could we talk about the enterprise plan?\nCampaigns: cmp-webinar-11",
)
HOSTILE = marketplace_lead(  # the hostile set of issue 17, spread over the fields
    UserDetails={
        "FirstName": "**Ada** _x_",
        "LastName": "[Lovelace](http://evil.example)",
        "Email": "ada_lovelace+sales@contoso.example",
        "Phone": "+44 20 7946 0000",
        "Country": "> United Kingdom",
        "Company": "<at>Contoso</at> a & b < c <b>Ltd</b>",
        "Title": "`boss` # CTO",
    },
    LeadSource="+ item-* item|1. one",
    ActionCode="x)- y",
    OfferTitle="# Contoso CRM Connector (SaaS)",
    Description=(
        "1. Call me\n- item\n+ item\n* item\nafter 09:15 on 2026-11-30, or {{DATE(2026-11-30T09:15:00Z, SHORT)}}\n"
        "http://evil.example www.evil.example C:\\path\\file &amp; mailto:ada@contoso.example"
    ),
)


def sample_message(card: str = "lead") -> dict[str, object]:
    """The card to picture: a lead (ordinary or hostile), the failure card a sales channel gets, the test card."""
    if card == "test":
        return probe_card("TEAMS_WEBHOOK_URL")
    lead = parse_lead(HOSTILE if card == "hostile" else ORDINARY)
    if card == "failure":
        error = "DataverseRejected: 400 0x80060888 Could not find a property named 'x'"
        return failure_card(lead.lead_id, lead, RECEIVED, DynamicsState("failed", error=error))
    if card == "returning":
        lead = parse_lead(RETURNING)
        state = DynamicsState("created", link=LINK, returning=True, filled=("telephone1", "jobtitle"))
        return lead_card(lead, RECEIVED, state, campaign.summary(lead.campaign_parameters))
    return lead_card(lead, RECEIVED, DynamicsState("created", link=LINK), campaign.summary(lead.campaign_parameters))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.cards.preview")
    parser.add_argument("output", type=Path, help="PNG file to write")
    parser.add_argument("--json", type=Path, help="also write the webhook message (JSON) here")
    parser.add_argument("--card", choices=("lead", "returning", "hostile", "failure", "test"), default="lead")
    args = parser.parse_args()
    message = sample_message(args.card)
    if args.json:
        args.json.write_text(json.dumps(message, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("needs Chromium: apt-get install chromium")
    modules = ROOT / "node_modules"
    with tempfile.TemporaryDirectory() as work:
        page = Path(work) / "card.html"
        page.write_text(
            PAGE.format(
                markdown_it=(modules / "markdown-it/dist/browser/markdown-it.umd.min.js").as_uri(),
                adaptivecards=(modules / "adaptivecards/dist/adaptivecards.min.js").as_uri(),
                card=json.dumps(message["attachments"][0]["content"]),  # type: ignore[index]
            ),
            encoding="utf-8",
        )
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                f"--user-data-dir={work}/profile",
                "--allow-file-access-from-files",
                "--window-size=580,760",
                f"--screenshot={args.output.resolve()}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
