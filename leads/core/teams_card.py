"""The Teams cards: a new lead, a lead that did not get through, and the setup check's test card. Each is a
Workflows webhook message with one Adaptive Card. Pure functions, no I/O.

Every text, the customer's and ours, goes through core/card_text, so a name typed as ``**x**``, ``- item`` or
``[a](http://evil)`` shows exactly so on Teams desktop, web, iOS and Android, never as formatting or a link (the
module says how and why). The only link is the button to the lead in Dynamics, a URL this app built from
DYNAMICS_URL.

The cards are written for the salespeople in the channel: the source and the action in words, the customer's
own note (not the campaign parameters the marketplace put in the Description: the Campaign fact shows those),
and, when a lead did not get into Dynamics, what that means for them. Error codes, commands and LastError are
for operations and go to the failure mail and Azure Monitor, never to a sales channel.

Every value is capped twice: in characters, so a card stays readable, and in bytes as the request carries it
(``\\uXXXX`` for each non-ASCII character), so a card with every value at its cap stays under the Workflows
limit of about 28 KB (REFERENCE §9.1) in any alphabet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from leads.core import returning_text
from leads.core.campaign import customer_note
from leads.core.card_text import fitted, plain
from leads.core.mapping import SOURCE_NAMES
from leads.core.messages import DynamicsState
from leads.core.payload import Lead
from leads.core.wording import action_words, multi_line, one_line, utc_text

CARD_VERSION = "1.2"  # what the Workflows "post card" action renders everywhere Teams runs (REFERENCE §8.3)
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_VALUE_CHARS = 300
MAX_VALUE_BYTES = 1_000  # 11 values at most per card: 11 KB
MAX_DESCRIPTION_CHARS = 1500
MAX_DESCRIPTION_BYTES = 8_000  # with the values and the card itself, under 24 KB whatever is typed


def lead_card(lead: Lead, received_at: datetime, dynamics: DynamicsState, campaign: str = "") -> dict[str, Any]:
    """The card telling a sales channel about a new lead, or a returning customer's new event (``campaign``: the
    parameters, as campaign.summary)."""
    facts = [
        *_contact_facts(lead),
        ("Offer", _offer(lead)),
        ("Action", action_words(one_line(lead.action))),
        ("Source", _source(lead)),
        ("Campaign", one_line(campaign)),
        ("Received", utc_text(received_at)),
    ]
    body: list[dict[str, Any]] = []
    if lead.is_test:
        body.append(
            _text("Test lead: Partner Center sent it to check that leads arrive. No customer is waiting.", "warning")
        )
    body += [
        _text(returning_text.TITLE if dynamics.returning else "New marketplace lead", size="Medium", weight="Bolder"),
        _text(_headline(lead), weight="Bolder", capped=True),
    ]
    if dynamics.returning:  # what is new: the event this time (the facts below are all of this event)
        body.append(_text(f"New this time: {returning_text.whats_new(lead)}", capped=True))
    body.append(_facts(facts))
    lines = [line for line in multi_line(customer_note(lead.description, lead.campaign_parameters)).split("\n") if line]
    if lines:  # one paragraph a line: a single line break is a space on Teams desktop
        note = fitted("\n\n".join(lines), MAX_DESCRIPTION_CHARS, MAX_DESCRIPTION_BYTES)
        body.append({"type": "TextBlock", "text": note, "wrap": True, "isSubtle": True})
    body += _dynamics_blocks(dynamics)
    return _message(body, _actions(dynamics))


def failure_card(lead_id: str, lead: Lead, received_at: datetime | None, dynamics: DynamicsState) -> dict[str, Any]:
    """What a sales channel hears when a lead did not get through: in plain words, with the customer's contact
    details so that someone can act. Why it failed and how to fix it go to operations (the failure mail)."""
    test = "Test lead: " if lead.is_test else ""
    if dynamics.kind == "created":
        title = f"{test}A marketplace lead is in Dynamics 365, but not every notification about it went out"
        advice = "Operations have been alerted. The lead is safe; open it in Dynamics 365 to follow it up."
    else:
        title = f"{test}Action needed: a marketplace lead is not in Dynamics 365 yet"
        advice = (
            "Operations have been alerted and will get it there. So that the customer is not missed, "
            "follow them up from here meanwhile."
        )
    facts = [
        *_contact_facts(lead),
        ("Offer", _offer(lead)),
        ("Action", action_words(one_line(lead.action))),
        ("Received", utc_text(received_at) if received_at else ""),
    ]
    body = [
        _text(title, "attention", size="Medium", weight="Bolder"),
        _text(advice),
        _text(_headline(lead), weight="Bolder", capped=True),
        _facts(facts),
        _text(f"Reference for operations: lead {one_line(lead_id)}", subtle=True),
    ]
    return _message(body, _actions(dynamics))


def probe_card(where: str) -> dict[str, Any]:
    """What `check --teams-test-card` posts: proof that the channel receives cards from this app."""
    body = [
        _text("Test card from marketplace-leads", size="Medium", weight="Bolder"),
        _text(
            f"This is a test, nothing to do. The app's setup check posted it through the Teams workflow in the "
            f"{one_line(where)} setting, to show that this channel receives its cards. New marketplace leads will "
            "appear here as cards like this one."
        ),
    ]
    return _message(body, [])


def _contact_facts(lead: Lead) -> list[tuple[str, str]]:
    contact = lead.contact
    return [
        ("Title", one_line(contact.title)),
        ("Company", one_line(contact.company)),
        ("Country", one_line(contact.country)),
        ("Email", one_line(contact.email)),
        ("Phone", one_line(contact.phone)),
    ]


def _headline(lead: Lead) -> str:
    name = one_line(f"{lead.contact.first_name} {lead.contact.last_name}")
    return " · ".join(part for part in (name, one_line(lead.contact.company)) if part) or "A customer"


def _offer(lead: Lead) -> str:
    return one_line(lead.offer_title) or one_line(lead.lead_source.offer_id) or "unnamed offer"


def _source(lead: Lead) -> str:
    source = one_line(lead.lead_source.source)
    return SOURCE_NAMES.get(source.lower(), source)


def _value(text: str) -> str:
    return fitted(text, MAX_VALUE_CHARS, MAX_VALUE_BYTES)


def _dynamics_blocks(dynamics: DynamicsState) -> list[dict[str, Any]]:
    if dynamics.kind == "created" and dynamics.returning:
        filled = returning_text.filled_sentence(dynamics.filled)
        return [_text(returning_text.CARD_IN_DYNAMICS, "good"), *([_text(filled, subtle=True)] if filled else [])]
    if dynamics.kind == "created":
        return [_text("In Dynamics 365.", "good")]
    if dynamics.kind == "held":
        return [
            _text(
                "Not in Dynamics 365: sending leads there is switched off, so follow this one up from here.", "warning"
            )
        ]
    return [
        _text(
            "Not in Dynamics 365 yet: operations have been alerted. Follow this customer up from here so that they "
            "are not missed.",
            "attention",
            weight="Bolder",
        )
    ]


def _actions(dynamics: DynamicsState) -> list[dict[str, Any]]:
    link = dynamics.link
    parts = urlsplit(link)
    if dynamics.kind != "created" or parts.scheme not in ("https", "http") or not parts.netloc:
        return []
    title = returning_text.OPEN_LINK if dynamics.returning else "Open the lead in Dynamics 365"
    return [{"type": "Action.OpenUrl", "title": title, "url": link}]


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
    text: str, color: str = "", *, size: str = "", weight: str = "", subtle: bool = False, capped: bool = False
) -> dict[str, Any]:
    """A TextBlock: made plain, our words too (they name settings with ``_``); ``capped`` for a lead's value."""
    block: dict[str, Any] = {"type": "TextBlock", "text": _value(text) if capped else plain(text), "wrap": True}
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
    """The facts that have a value (a .edu lead has no contact details, a lead without parameters no campaign)."""
    return {
        "type": "FactSet",
        "facts": [{"title": plain(label), "value": _value(value)} for label, value in facts if value],
    }
