"""The looser match between two sightings of one lead: same email, offer, action and day. Pure: no I/O.

The marketplace's payload has no lead id and no timestamp (REFERENCE.md §8.4), so a lead exported from Partner
Center can only be recognised by its content: the lead id (a hash of the whole payload) when every field is
the same, else this key. It is a hash, so the column that keeps it (``MatchKey``) holds no personal data.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

MATCH_KEY = "MatchKey"
EMAIL_HASH = "EmailHash"  # the address alone, hashed: `forget` finds a person's rows by it (core/personal.py)

# The export names the call to action in words where the HTTPS payload has a code (REFERENCE.md §1.2; the
# pairs are an inference from Microsoft's descriptions of each code).
_ACTION_CODES = {
    "contactme": "plt",
    "partnerledtrial": "plt",
    "getitnow": "ins",
    "install": "ins",
    "testdrive": "starttestdrive",
    "donotcontact": "dnc",
}


def normalise_action(action: str) -> str:
    squashed = re.sub(r"[\W_]+", "", action.casefold())
    return _ACTION_CODES.get(squashed, squashed)


def match_key(email: str, offer: str, action: str, day: date) -> str:
    """The key of (email, offer, action, day), case and spacing aside; "" without an email (nothing to match)."""
    email = email.strip().casefold()
    if not email:
        return ""
    offer = " ".join(offer.casefold().split())
    text = "\n".join((email, offer, normalise_action(action), day.isoformat()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def email_hash(email: str) -> str:
    """The key of an address, case and surrounding spaces aside; "" without one."""
    email = email.strip().casefold()
    return hashlib.sha256(f"email\n{email}".encode()).hexdigest()[:32] if email else ""


def keys_around(email: str, offer: str, action: str, when: datetime) -> list[str]:
    """The keys of the day before, the day and the day after: the export's time zone is not documented, and a
    lead created near midnight is received on either side of it."""
    day = when.astimezone(UTC).date()
    keys = [match_key(email, offer, action, day + timedelta(days=shift)) for shift in (-1, 0, 1)]
    return [key for key in keys if key]


def stored_match_key(entity: dict[str, Any]) -> str:
    """A stored lead's key: its MatchKey column, or (rows stored before the column existed) computed from the
    columns every row has. Nothing of it is logged."""
    if entity.get(MATCH_KEY):
        return str(entity[MATCH_KEY])
    try:
        contact = json.loads(entity.get("CustomerInfo") or "{}")
    except ValueError:
        return ""
    email = contact.get("Email") if isinstance(contact, dict) else None
    when = entity.get("ReceivedAt")
    if not isinstance(email, str) or not isinstance(when, datetime):
        return ""
    offer = entity.get("OfferTitle") or entity.get("OfferDisplayName") or ""
    action = entity.get("Action") or entity.get("ActionCode") or ""
    return match_key(email, str(offer), str(action), when.astimezone(UTC).date())
