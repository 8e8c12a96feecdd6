"""What `status` prints beyond the counts: speed to lead, leads per offer and action, and the recent leads as a
table. Pure formatting of the lead summaries built in status.py; no I/O.

Offer titles and actions come from leads: they are shown on one line each, with control characters and
line breaks replaced, so a lead cannot break the table or write escape sequences to the operator's terminal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from leads.core.speed import Spread, duration_text, spread

MAX_CELL = 40
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\s]+")
SPEEDS = (("to_dynamics", "received → in Dynamics"), ("to_notified", "received → contacts notified"))


def cell(value: Any, width: int = MAX_CELL) -> str:
    text = _UNPRINTABLE.sub(" ", str(value if value is not None else "")).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def speeds(leads: Sequence[dict[str, Any]]) -> dict[str, Spread | None]:
    """The spread of each speed-to-lead duration over the leads that have it."""
    return {name: spread(lead[f"seconds_{name}"] for lead in leads) for name, _ in SPEEDS}


def per_offer_and_action(leads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Leads counted per (offer, action), most first."""
    counts = Counter((lead["offer"] or "", lead["offer_id"] or "", lead["action"] or "") for lead in leads)
    return [
        {"offer": offer, "offer_id": offer_id, "action": action, "count": count}
        for (offer, offer_id, action), count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def returning_count(leads: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Of the leads in Dynamics, how many were returning customers' events (a note on their open lead)."""
    in_dynamics = [lead for lead in leads if lead["dynamics_lead_id"]]
    return {"returning": sum(1 for lead in in_dynamics if lead.get("returning")), "in_dynamics": len(in_dynamics)}


def returning_lines(counts: dict[str, int]) -> list[str]:
    if not counts["returning"]:
        return []
    return [f"returning customers: {counts['returning']} of {counts['in_dynamics']} lead(s) in Dynamics were added "
            "to the person's open lead as a note (DYNAMICS_DUPLICATES)"]  # fmt: skip


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart, indented by two; the last column is not padded."""
    widths = [max(len(row[index]) for row in [headers, *rows]) for index in range(len(headers))]
    return ["  " + "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
            for row in [headers, *rows]]  # fmt: skip


def speed_lines(spreads: dict[str, Spread | None]) -> list[str]:
    rows = [
        [label, duration_text(found.p50), duration_text(found.p95), duration_text(found.max), str(found.count)]
        for name, label in SPEEDS
        if (found := spreads[name]) is not None
    ]
    if not rows:
        return ["speed to lead: no lead in this window has reached Dynamics or the contacts yet"]
    return ["speed to lead:", *table(["", "p50", "p95", "max", "leads"], rows)]


def offer_lines(groups: Sequence[dict[str, Any]]) -> list[str]:
    if not groups:
        return []
    # The offer id beside the title: two offers (or two plans of one) can share a title.
    rows = [[str(group["count"]), cell(group["offer"]), cell(group["offer_id"]), cell(group["action"])]
            for group in groups]  # fmt: skip
    return ["leads per offer and action:", *table(["leads", "offer", "offer id", "action"], rows)]


def recent_lines(leads: Sequence[dict[str, Any]], show_contact: bool) -> list[str]:
    """The recent leads as a table: when, which offer, what the customer did, where it stands, where in Dynamics."""
    if not leads:
        return []
    headers = ["received (UTC)", "offer", "action", "status", "Dynamics"] + (["contact"] if show_contact else [])
    rows = []
    for lead in leads:
        received = (lead["received"] or "")[:19].replace("T", " ")
        status = f"{lead['status']} [test]" if lead["test"] else str(lead["status"] or "")
        if lead.get("scrubbed"):  # retention or `forget` removed the contact details: only the facts are left
            status += " [erased]" if lead.get("erased") else " [scrubbed]"
        if lead.get("returning"):  # a note on the person's open lead, which the Dynamics column opens
            status += " [returning]"
        where = lead["dynamics_link"] or lead["dynamics_lead_id"] or "—"
        row = [received, cell(lead["offer"]), cell(lead["action"], 24), status, where]
        if show_contact:
            contact = lead.get("contact") or {}
            names = (contact.get("FirstName"), contact.get("LastName"), contact.get("Email"))
            row.append(cell(" ".join(filter(None, names)), 60) or ("(removed)" if lead.get("scrubbed") else ""))
        rows.append(row)
    return ["recent leads (newest first):", *table(headers, rows)]
