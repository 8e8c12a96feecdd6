"""The Teams card: what sales see, escaped so lead values show as typed. Rendered with the Adaptive Cards SDK
and markdown-it (as Teams renders the Markdown subset) through devtools/cards/render.js."""

from __future__ import annotations

import html
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.standins.workflows import card_problems
from leads.core.messages import DynamicsState
from leads.core.payload import parse_lead
from leads.core.teams_card import escape_markdown, failure_card, lead_card
from tests.leadsamples import marketplace_lead, validation_lead

ROOT = Path(__file__).resolve().parents[2]
RECEIVED = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
CREATED = DynamicsState("created", link="https://contoso.crm4.dynamics.com/main.aspx?etn=lead&id=1")
HOSTILE = {
    "FirstName": "**x**",
    "LastName": "[a](http://evil.example)",
    "Company": "1. Evil <b>Corp</b> http://evil.example",
    "Title": "# CTO _and_ `boss`",
    "Email": "ada@contoso.example",
    "Country": "",
    "Phone": "",
}


def rendered(message: dict[str, Any]) -> tuple[str, list[str]]:
    """The card as the Adaptive Cards renderer draws it: (HTML, the renderer's parse and validation errors)."""
    run = subprocess.run(
        ["node", str(ROOT / "devtools/cards/render.js")],
        input=json.dumps(message),
        text=True,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    result = json.loads(run.stdout)
    return result["html"], result["errors"]


def visible_text(markup: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))


def test_hostile_values_render_as_typed_never_as_markup_or_links() -> None:
    lead = parse_lead(marketplace_lead(UserDetails=HOSTILE))
    markup, errors = rendered(lead_card(lead, RECEIVED, CREATED))
    assert errors == []
    assert not re.search(r"<a\b", markup), "a lead value became a link"
    assert not re.search(r"<(strong|em|b|h\d|ol|ul|code)\b", markup), "a lead value became formatting"
    text = visible_text(markup)
    for typed in ("**x**", "[a](http://evil.example)", "1. Evil <b>Corp</b> http://evil.example", "# CTO _and_ `boss`"):
        assert typed in text


def test_unescaped_the_same_values_would_be_markup_so_the_check_can_fail() -> None:
    message = lead_card(parse_lead(marketplace_lead(UserDetails=HOSTILE)), RECEIVED, CREATED)
    message["attachments"][0]["content"]["body"][1]["text"] = "**x** [a](http://evil.example)"
    markup, _ = rendered(message)
    assert "<strong>" in markup and re.search(r"<a\b", markup)


def test_the_card_says_who_what_and_links_to_dynamics() -> None:
    lead = parse_lead(marketplace_lead())
    message = lead_card(lead, RECEIVED, CREATED, campaign="spring-launch")
    assert card_problems(message) == []
    card = message["attachments"][0]["content"]
    assert card["version"] == "1.2" and message["type"] == "message"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open the lead in Dynamics 365", "url": CREATED.link}
    ]
    text = visible_text(rendered(message)[0])
    for expected in (
        "Ada Lovelace",
        "Contoso Ltd",
        "Contoso CRM Connector",
        "Install",
        "spring-launch",
        "2026-11-30 09:15:00 UTC",
        "In Dynamics 365",
    ):
        assert expected in text


def test_missing_contact_values_are_left_out() -> None:
    lead = parse_lead(marketplace_lead(UserDetails={"FirstName": "Ada", "Email": "ada@contoso.example"}))
    facts = lead_card(lead, RECEIVED, CREATED)["attachments"][0]["content"]["body"][2]["facts"]
    titles = [fact["title"] for fact in facts]
    assert "Company" not in titles and "Country" not in titles and "Title" not in titles and "Campaign" not in titles


@pytest.mark.parametrize(
    ("state", "says"),
    [
        (DynamicsState("held"), "Not sent to Dynamics 365"),
        (DynamicsState("failed", error="0x80040203 Invalid argument"), "NOT in Dynamics 365"),
    ],
)
def test_held_and_failed_leads_say_so_and_have_no_button(state: DynamicsState, says: str) -> None:
    message = lead_card(parse_lead(marketplace_lead()), RECEIVED, state)
    assert "actions" not in message["attachments"][0]["content"]
    assert says in visible_text(rendered(message)[0])


def test_the_test_lead_is_marked() -> None:
    text = visible_text(rendered(lead_card(parse_lead(validation_lead()), RECEIVED, CREATED))[0])
    assert "TEST lead" in text


def test_the_failure_alert_holds_no_personal_data() -> None:
    message = failure_card("18b723f1031366536a30ca625b3ebcaa", "Contoso [CRM](http://x)", False, "gave up", RECEIVED)
    assert card_problems(message) == []
    markup, errors = rendered(message)
    assert errors == [] and not re.search(r"<a\b", markup)
    assert "18b723f1031366536a30ca625b3ebcaa" in visible_text(markup) and "Contoso [CRM](http://x)" in visible_text(
        markup
    )


def test_escape_markdown_keeps_plain_words_plain() -> None:
    assert escape_markdown("Ada Lovelace") == "Ada Lovelace"
    assert escape_markdown("a*b") == "a\\*b"
