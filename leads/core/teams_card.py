"""The Teams card for a lead: a Workflows webhook message with one Adaptive Card. Pure functions, no I/O.

Teams renders a Markdown subset in a card's TextBlock and FactSet texts, so every value that came from the
marketplace form is escaped: a name typed as ``**x**`` or ``[a](http://evil)`` shows as typed, never as bold
text or a link. The only link is the button to the lead in Dynamics, a URL this app built from DYNAMICS_URL.
Contact details appear in the card (sales need them); the failure alert holds no personal data.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from leads.core.messages import DynamicsState
from leads.core.payload import Lead
from leads.core.wording import cap, explain_action, multi_line, one_line, utc_text

CARD_VERSION = "1.2"  # what the Workflows "post card" action renders everywhere Teams runs (REFERENCE §8.3)
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_VALUE_CHARS = 300
MAX_DESCRIPTION_CHARS = 1500
# Every ASCII punctuation character may be backslash-escaped in CommonMark, and shows as itself when it is.
# Escaping all of them (not only * _ [ ] ( ) # `) also breaks up bare URLs, which Teams would otherwise
# turn into links, and leading "1." or "-" that would become lists.
_PUNCTUATION = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")


def escape_markdown(value: str) -> str:
    """A lead value as plain text in a card: Markdown punctuation escaped, so it renders as typed."""
    return _PUNCTUATION.sub(r"\\\1", value)


def lead_card(lead: Lead, received_at: datetime, dynamics: DynamicsState, campaign: str = "") -> dict[str, Any]:
    """The card telling a sales channel about a new lead."""
    contact = lead.contact
    name = one_line(f"{contact.first_name} {contact.last_name}")
    headline = " · ".join(part for part in (name, one_line(contact.company)) if part) or "A customer"
    offer = one_line(lead.offer_title) or one_line(lead.lead_source.offer_id) or "unnamed offer"
    facts = [
        ("Title", one_line(contact.title)),
        ("Company", one_line(contact.company)),
        ("Country", one_line(contact.country)),
        ("Email", one_line(contact.email)),
        ("Phone", one_line(contact.phone)),
        ("Offer", offer),
        ("Action", explain_action(one_line(lead.action))),
        ("Source", one_line(lead.lead_source.source)),
        ("Campaign", one_line(campaign)),
        ("Received", utc_text(received_at)),
    ]
    body: list[dict[str, Any]] = []
    if lead.is_test:
        body.append(_text("TEST lead (MSFT_TEST): Partner Center sent it to validate the destination.", "warning"))
    body += [
        _text("New marketplace lead", size="Medium", weight="Bolder"),
        _text(escape_markdown(cap(headline, MAX_VALUE_CHARS)), weight="Bolder"),
        _facts([(label, value) for label, value in facts if value]),  # left out when the lead has none
    ]
    if description := multi_line(lead.description):
        body.append(_text(escape_markdown(cap(description, MAX_DESCRIPTION_CHARS)), wrap=True, subtle=True))
    body += _dynamics_blocks(dynamics)
    return _message(body, _actions(dynamics))


def failure_card(
    lead_id: str, offer_title: str, is_test: bool, error: str, received_at: datetime | None
) -> dict[str, Any]:
    """The alert that a lead could not be delivered: ids and the error only, no personal data."""
    body = [
        _text(
            ("[Test] " if is_test else "") + "Action needed: a marketplace lead could not be delivered",
            "attention",
            size="Medium",
            weight="Bolder",
        ),
        _facts(
            [
                ("Offer", one_line(offer_title) or "unnamed offer"),
                ("Lead id", one_line(lead_id)),
                ("Received", utc_text(received_at) if received_at else "unknown"),
            ]
        ),
        _text(escape_markdown(cap(one_line(error) or "no error details", MAX_DESCRIPTION_CHARS)), wrap=True),
        _text(
            escape_markdown(
                f"python -m leads status --status failed shows it; python -m leads replay {lead_id} "
                "sends it again once the cause is fixed."
            ),
            wrap=True,
            subtle=True,
        ),
    ]
    return _message(body, [])


def _dynamics_blocks(dynamics: DynamicsState) -> list[dict[str, Any]]:
    if dynamics.kind == "created":
        return [_text("In Dynamics 365.", "good")]
    if dynamics.kind == "held":
        return [
            _text(
                "Not sent to Dynamics 365: DYNAMICS\\_ENABLED is false. The lead is kept; follow it up from here.",
                "warning",
            )
        ]
    error = escape_markdown(cap(one_line(dynamics.error) or "no error details", MAX_DESCRIPTION_CHARS))
    return [
        _text(
            "NOT in Dynamics 365: follow it up from here so the customer is not missed.", "attention", weight="Bolder"
        ),
        _text(f"Dynamics said: {error}", wrap=True, subtle=True),
    ]


def _actions(dynamics: DynamicsState) -> list[dict[str, Any]]:
    link = dynamics.link
    parts = urlsplit(link)
    if dynamics.kind != "created" or parts.scheme not in ("https", "http") or not parts.netloc:
        return []
    return [{"type": "Action.OpenUrl", "title": "Open the lead in Dynamics 365", "url": link}]


def _message(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return {"type": "message", "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}]}


def _text(
    text: str, color: str = "", *, size: str = "", weight: str = "", wrap: bool = True, subtle: bool = False
) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "TextBlock", "text": text, "wrap": wrap}
    if color:
        block["color"] = {"warning": "Warning", "attention": "Attention", "good": "Good"}[color]
    if size:
        block["size"] = size
    if weight:
        block["weight"] = weight
    if subtle:
        block["isSubtle"] = True
    return block


def _facts(facts: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "FactSet",
        "facts": [{"title": label, "value": escape_markdown(cap(value, MAX_VALUE_CHARS))} for label, value in facts],
    }


def probe_card(where: str) -> dict[str, Any]:
    """What `check --teams-test-card` posts: proof that the channel receives cards from this app."""
    body = [
        _text("Test card from marketplace-leads", size="Medium", weight="Bolder"),
        _text(
            escape_markdown(
                f"`python -m leads check` posted this to see that {where} reaches this channel. New "
                "marketplace leads will appear here as cards like this one."
            ),
            wrap=True,
        ),
    ]
    return _message(body, [])
