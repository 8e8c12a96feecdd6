"""Returning customers (DYNAMICS_DUPLICATES=attach|rules): what a marketplace event of someone who already has an open
lead in Dynamics becomes there, and what the lead's row says about it. Pure, no I/O (steps/returning.py acts).

- The event becomes a **note** (annotation) on the person's open lead. Its id is minted from the marketplace lead id
  (``dataverse_note_id``), as the lead's own id is (mapping.dataverse_lead_id), and it is created with
  ``If-None-Match: *``: a redelivered message never attaches twice, and each event is in Dynamics once, as a lead
  *or* as a note.
- Columns the open lead has empty and this event fills (a phone number given this time) are filled in
  (``filled_in``); nothing the lead already holds is overwritten.
- The row records the open lead's id as its ``DynamicsLeadId``, ``Returning`` true, and the columns filled in
  (``ReturningFilled``).
- While one delivery decides whether a person is new or returning, it holds a **person claim**: a row of its own in
  the lead table, keyed by the address's hash (core/matching.email_hash), so two events of one person never both
  decide "new" (README "Returning customers").
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leads.core import mapping
from leads.core.payload import Lead, cut

# Fixed namespaces: the same marketplace lead always maps to the same note id (and the same person claim row).
NOTE_NAMESPACE = uuid.UUID("0b3f5a52-9e1c-4f7e-8d2a-6c4b1e9f7a13")
RETURNING = "Returning"  # True on a row whose event was added to the person's open lead as a note
RETURNING_FILLED = "ReturningFilled"  # the open lead's columns this event filled in, comma-separated
# Rows of our own beside the leads: outside the lead partitions (two hex digits, lead_row.LEAD_PARTITIONS).
PEOPLE = "people"
CLAIM, CLAIM_AT = "Claim", "ClaimAt"  # the marketplace lead id deciding for the person, and since when
# Columns of the open lead that an event may fill in when they are empty there (the address is what matched).
FILLABLE = {
    "firstname": "first name",
    "lastname": "last name",
    "telephone1": "business phone",
    "companyname": "company",
    "jobtitle": "job title",
    "address1_country": "country",
}
NOTE_SUBJECT_CHARS = 500  # annotation.subject MaxLength (Dataverse reference)
NOTE_TEXT_CHARS = 100_000  # annotation.notetext MaxLength


@dataclass(frozen=True)
class OpenLead:
    """A lead in Dynamics as the duplicate query returns it."""

    lead_id: str
    created_on: str = ""  # ISO 8601 as Dataverse writes it
    is_open: bool = True  # statecode 0
    etag: str = ""  # its @odata.etag: a fill-in changes it only if nobody did meanwhile
    values: dict[str, Any] = field(default_factory=dict)  # its fillable columns, as they are


def dataverse_note_id(lead_id: str) -> str:
    """The annotationid of the note an event becomes on a returning customer's open lead."""
    return str(uuid.uuid5(NOTE_NAMESPACE, lead_id))


def person_keys(address_hash: str) -> tuple[str, str]:
    return PEOPLE, address_hash


def oldest_open(leads: list[OpenLead], own_id: str) -> OpenLead | None:
    """The lead an event joins: its own (created by an earlier try of this event) if found, else the oldest open one.
    Oldest first is a choice every worker makes alike, so events of one person converge on one lead."""
    mine = [found for found in leads if found.lead_id.lower() == own_id.lower()]
    if mine:
        return mine[0]
    candidates = [found for found in leads if found.is_open]
    return min(candidates, key=lambda found: (found.created_on, found.lead_id), default=None)


def filled_in(open_lead: OpenLead, body: dict[str, Any]) -> dict[str, Any]:
    """The columns the open lead has empty that this event's lead body fills (never one that holds a value)."""
    return {
        name: body[name]
        for name in FILLABLE
        if isinstance(body.get(name), str) and body[name].strip() and not str(open_lead.values.get(name) or "").strip()
    }


def filled_words(names: list[str] | tuple[str, ...]) -> str:
    """``telephone1,companyname`` → ``business phone, company``."""
    return ", ".join(FILLABLE.get(name, name) for name in names)


def note_body(lead: Lead, received_at: datetime, target_lead_id: str, filled: tuple[str, ...] = ()) -> dict[str, Any]:
    """The annotation: a subject naming the event, the event's details as text, and the lead it belongs to.

    Dataverse formats ``notetext`` as rich text (its column is RichText in the reference), and how the timeline shows
    a note written through the Web API is not documented: the text is HTML-escaped, so a customer's value can never
    become markup or a link there, and its lines are separated by line breaks."""
    contact = lead.contact
    given = [
        ("Name", f"{contact.first_name} {contact.last_name}".strip()),
        ("Company", contact.company),
        ("Job title", contact.title),
        ("Email", contact.email),
        ("Phone", contact.phone),
        ("Country", contact.country),
    ]
    lines = [
        "Returning customer: this marketplace event was added to their open lead instead of creating another.",
        mapping.description(lead, received_at),
        "",
        "As given this time:",
        *(f"{label}: {cut(value, 300)}" for label, value in given if value.strip()),
    ]
    if filled:
        lines.append(f"Filled in on this lead (it had none): {filled_words(filled)}")
    text = html.escape("\n".join(lines), quote=False)
    return {
        "subject": cut(f"Returning customer: {mapping.subject(lead)}", NOTE_SUBJECT_CHARS),
        "notetext": cut(text, NOTE_TEXT_CHARS),
        "objectid_lead@odata.bind": f"/leads({target_lead_id})",
    }


def marks(returning: bool, filled: tuple[str, ...]) -> dict[str, Any]:
    """The row's columns saying the event joined the person's open lead."""
    if not returning:
        return {}
    return {RETURNING: True} | ({RETURNING_FILLED: ",".join(filled)} if filled else {})


def claim_row(address_hash: str, lead_id: str, now: datetime) -> dict[str, Any]:
    partition_key, row_key = person_keys(address_hash)
    return {"PartitionKey": partition_key, "RowKey": row_key, CLAIM: lead_id, CLAIM_AT: now}
