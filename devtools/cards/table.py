"""``python -m devtools.cards.table``: what each value of a lead's Teams card looks like on each client, as a
Markdown table, for the ordinary and the hostile sample lead of devtools/cards/preview.py.

Columns: the value as typed; what the model of Teams for iOS and Android shows (tests/teams_mobile/: current
builds and those that read ``1.`` as a list; one column when they agree); what the Adaptive Cards renderer with
markdown-it shows (Teams desktop and web, devtools/cards/render.js; its paragraphs on one line here). U+2060 is
invisible, so a cell shows the text as read; ``[formatted]`` or ``[link …]`` would mark what is not plain text.
"""

from __future__ import annotations

from typing import Any

from devtools.cards.preview import HOSTILE, ORDINARY, sample_message
from leads.core.payload import parse_lead
from tests.teams_mobile import phones
from tests.teams_web import render_texts


def rows(card: str, document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, as typed, the text in the card) for each value the card shows."""
    lead = parse_lead(document)
    contact = lead.contact
    body = sample_message(card)["attachments"][0]["content"]["body"]  # type: ignore[index]
    facts = {fact["title"]: fact["value"] for block in body for fact in block.get("facts", [])}
    [note] = [block["text"] for block in body if block.get("isSubtle")] or [""]
    typed = {
        "Title": contact.title,
        "Company": contact.company,
        "Country": contact.country,
        "Email": contact.email,
        "Phone": contact.phone,
        "Offer": lead.offer_title,
        "Action": lead.action,
        "Source": lead.lead_source.source,
        "Campaign": lead.description,
        "Received": "",
    }
    labels = {"Action": "Action (a code: known ones in words)", "Source": "Source (likewise)"}
    labels |= {"Campaign": "Campaign (parsed from the Description)", "Received": "Received (ours)"}
    found = [
        ("Name · Company", f"{contact.first_name} {contact.last_name} · {contact.company}", body[1]["text"]),
        *((labels.get(label, label), typed[label], facts[label]) for label in typed if label in facts),
    ]
    if note:
        found.append(("Description", lead.description, note))
    return found


def table(card: str, document: dict[str, Any]) -> str:
    found = rows(card, document)
    webs = render_texts([text for _, _, text in found])
    lines = ["| value | as typed | mobile model | web renderer |", "|---|---|---|---|"]
    for (label, typed, text), web in zip(found, webs, strict=True):
        mobile = {client: _cell(shown.as_read, shown.formatted, ()) for client, shown in phones(text).items()}
        same = len(set(mobile.values())) == 1
        shown_on_phones = next(iter(mobile.values())) if same else "; ".join(f"{k}: {v}" for k, v in mobile.items())
        lines.append(f"| {label} | {_md(typed)} | {shown_on_phones} | {_cell(web.as_read, web.formatted, web.links)} |")
    return "\n".join(lines)


def _cell(text: str, formatted: bool, links: tuple[tuple[str, str], ...]) -> str:
    marks = (" [formatted]" if formatted else "") + "".join(f" [link {href}]" for href, _ in links)
    return _md(text) + marks


def _md(text: str) -> str:
    """Text in a Markdown table cell, shown literally."""
    return "`` " + text.replace("\n", "⏎").replace("|", "\\|") + " ``"


def main() -> int:
    for card, document in (("lead", ORDINARY), ("hostile", HOSTILE)):
        print(f"### {card}\n\n{table(card, document)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
