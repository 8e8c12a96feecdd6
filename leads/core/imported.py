"""A lead found in Partner Center's export or in Microsoft's Azure Table destination. Pure: no I/O.

The fields are put back into the marketplace's own payload shape, so ``parse_lead`` gives the lead the id the
HTTPS endpoint would have given it: a lead that arrived over HTTPS and is found again in the export is one lead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leads.core.matching import keys_around
from leads.core.payload import Lead, parse_lead

CONTACT_KEYS = {
    "first_name": "FirstName",
    "last_name": "LastName",
    "email": "Email",
    "phone": "Phone",
    "country": "Country",
    "company": "Company",
    "title": "Title",
}
_WHO = ("email", "first_name", "last_name", "full_name", "company", "phone")
# Partner Center is a US-English portal: a slashed date is month/day/year unless the first number cannot be a month.
_SLASHED = re.compile(
    r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp][Mm])?)?"
    r"\s*(?:UTC|Z|GMT)?$"
)


class UnusableRow(ValueError):
    """A row that cannot become a lead; the message says why without quoting personal data."""


@dataclass(frozen=True)
class ImportedLead:
    lead: Lead
    created_at: datetime

    @property
    def match_keys(self) -> list[str]:
        """The looser-match keys this lead is known by (``matching.keys_around``)."""
        contact = self.lead.contact
        return keys_around(contact.email, self.lead.offer_title, self.lead.action, self.created_at)

    @property
    def contact(self) -> str:
        """``Ada Lovelace <ada@…>``: for the report with --show-contact only."""
        return contact_text(f"{self.lead.contact.first_name} {self.lead.contact.last_name}", self.lead.contact.email)


def contact_text(name: str, email: str) -> str:
    """``Ada Lovelace <ada@…>``, or what there is of it: a row's or a lead's contact, for --show-contact."""
    name = " ".join(name.split())
    return f"{name} <{email}>" if email else name or "(no contact details)"


def marketplace_payload(fields: dict[str, str]) -> dict[str, Any]:
    """The HTTPS endpoint's payload shape, every key present (empty when the source lacks it), as Microsoft sends
    it; the lead id is a hash of exactly this."""
    fields = _with_split_name(fields)
    return {
        "UserDetails": {key: fields.get(field, "") for field, key in CONTACT_KEYS.items()},
        "LeadSource": fields.get("lead_source", ""),
        "ActionCode": fields.get("action", ""),
        "OfferTitle": fields.get("offer", ""),
        "Description": fields.get("description", ""),
    }


def imported_lead(fields: dict[str, str]) -> ImportedLead:
    """A row's fields → the lead and when the marketplace created it; UnusableRow saying why not."""
    if not any(fields.values()):
        raise UnusableRow("empty row")
    if not any(fields.get(field) for field in (*_WHO, "offer")):
        raise UnusableRow("no contact details and no offer: nothing to make a lead of")
    created_text = fields.get("created", "")
    if not created_text:
        raise UnusableRow("no creation date")
    try:
        created_at = parse_time(created_text)
    except ValueError:
        # The value is not quoted: in a shifted row it can be someone's email or phone. The line number finds it.
        raise UnusableRow("creation date not understood") from None
    return ImportedLead(parse_lead(marketplace_payload(fields)), created_at)


def parse_time(text: str) -> datetime:
    """ISO 8601 (``2026-11-21T09:30:00Z``, ``2026-11-21 09:30``, ``2026-11-21``) or a US-style
    ``11/21/2026 9:30:00 AM``; no time zone means UTC. ValueError otherwise."""
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text.replace(" UTC", "").replace("Z", "+00:00"))
    except ValueError:
        parsed = _slashed(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _slashed(text: str) -> datetime:
    match = _SLASHED.match(text)
    if not match:
        raise ValueError(text)
    first, second, year, hour, minute, second_of_minute, half = match.groups()
    month, day = (int(first), int(second)) if int(first) <= 12 else (int(second), int(first))
    hours = int(hour or 0)
    if half:
        if not 1 <= hours <= 12:
            raise ValueError(text)
        hours = hours % 12 + (12 if half.lower() == "pm" else 0)
    return datetime(int(year), month, day, hours, int(minute or 0), int(second_of_minute or 0))


def _with_split_name(fields: dict[str, str]) -> dict[str, str]:
    """A single name column fills first and last name (last word = last name) when they are absent."""
    full = fields.get("full_name", "")
    if not full or fields.get("first_name") or fields.get("last_name"):
        return fields
    first, _, last = full.rpartition(" ")
    return fields | {"first_name": first.strip(), "last_name": last} if first else fields | {"last_name": last}
