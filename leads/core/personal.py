"""A lead's personal data on its table row: which columns hold it, the row without them (retention and erasure),
and the hashed keys that still recognise the lead and the person afterwards. Pure: no I/O.

A scrubbed row keeps what the app needs (KEPT_COLUMNS: id, status, times, offer, action, Dynamics id, the
notification record) and the hashed keys: the lead id (RowKey, a hash of the payload: a redelivery is refused as
a duplicate), ``MatchKey`` (email, offer, action and day: imports still match) and ``EmailHash`` (the address:
``forget`` still finds the row). Everything else goes: contact details, description, raw payload, campaign
parameters, and any column added later that is not listed here (an allowlist, so a new column is personal until
someone says otherwise: tests/core/test_personal.py makes them say).

The hashes are unsalted SHA-256, like MatchKey: they name nobody, but whoever already knows an address can test
it against them. That is what recognising a person again needs; README "Personal data" says so.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from leads.core.lead_row import ERASED_AT, MAX_ERROR_CHARS, SCRUBBED_AT, Status, lead_from_entity
from leads.core.matching import EMAIL_HASH, MATCH_KEY, email_hash, stored_match_key
from leads.core.returning import RETURNING, RETURNING_FILLED

# Our own rows beside the leads: one per erased address, RowKey its EmailHash, ErasedAt the last erasure. The
# partition name sorts after the lead partitions' "ff" (lead_row.LEAD_PARTITIONS), as "watermarks" does.
TOMBSTONES = "tombstones"
TOMBSTONE_QUERY = "PartitionKey eq @tombstones"
ERASED_BEFORE_PROCESSING = "erased on request (forget) before it was processed; it was not sent on"

KEPT_COLUMNS = (
    "PartitionKey", "RowKey", "LeadId", "Status", "IsTest", "Origin",
    # the offer and the action (Microsoft's columns and ours)
    "ActionCode", "LeadSource", "OfferTitle", "OfferDisplayName", "Source", "Action", "OfferId",
    # times
    "CreatedTime", "ReceivedAt", "UpdatedAt", "ImportedAt", "DynamicsAt",
    "NotifiedAt", "AlertedAt", "TeamsNotifiedAt", "TeamsAlertedAt", SCRUBBED_AT, ERASED_AT,
    # Dynamics, and what happened (LastError and RoutingNotes are stored without the lead's contact values)
    "DynamicsLeadId", "SkipNotification", "LastError", "RoutingNotes",
    # a returning customer's event (core/returning.py): which of the open lead's columns it filled in, by name
    RETURNING, RETURNING_FILLED,
    # the hashed keys
    MATCH_KEY, EMAIL_HASH,
)  # fmt: skip


def row_email(entity: dict[str, Any]) -> str:
    """The address a stored lead was sent with: CustomerInfo, else the raw payload; "" when there is none (or the
    row was scrubbed)."""
    try:
        contact = json.loads(entity.get("CustomerInfo") or "{}")
    except ValueError:
        contact = None
    if isinstance(contact, dict) and isinstance(contact.get("Email"), str):
        return str(contact["Email"])
    try:
        return lead_from_entity(entity).contact.email
    except (ValueError, KeyError, TypeError):
        return ""


def stored_email_hash(entity: dict[str, Any]) -> str:
    """A row's EmailHash column, or (rows stored before it existed) computed from the row."""
    return str(entity.get(EMAIL_HASH) or "") or email_hash(row_email(entity))


def is_scrubbed(entity: dict[str, Any]) -> bool:
    return bool(entity.get(SCRUBBED_AT))


def is_erased(entity: dict[str, Any]) -> bool:
    return bool(entity.get(ERASED_AT))


def scrubbed(entity: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The whole row as it is kept once its personal data goes (written in REPLACE mode: every other column goes).
    The hashed keys are worked out from the row first, for rows stored before those columns existed."""
    kept = {name: entity[name] for name in KEPT_COLUMNS if name in entity and not name.startswith("_")}
    kept[MATCH_KEY] = stored_match_key(entity)
    kept[EMAIL_HASH] = stored_email_hash(entity)
    kept[SCRUBBED_AT] = entity.get(SCRUBBED_AT) or now
    return kept


def erased(entity: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The row after `forget`: scrubbed, and marked erased. A lead not yet processed (received, held) is never
    processed now: it fails, saying why (replay leaves it alone: lead_row.replayed)."""
    row = scrubbed(entity, now) | {ERASED_AT: now}
    if row.get("Status") in (Status.RECEIVED, Status.HELD):
        error = f"{ERASED_BEFORE_PROCESSING} (was {row['Status']})"[:MAX_ERROR_CHARS]
        row |= {"Status": Status.FAILED.value, "LastError": error, "UpdatedAt": now}
    return row


def tombstone(address_hash: str, now: datetime) -> dict[str, Any]:
    """The row that keeps an erased person from coming back through `import` or the table follower."""
    return {"PartitionKey": TOMBSTONES, "RowKey": address_hash, ERASED_AT: now}


# The Dynamics lead's columns this app fills with the customer's details (core/mapping.py), emptied by
# `forget --dynamics anonymise`; the subject names only the offer and the action, and stays.
DYNAMICS_PERSONAL_COLUMNS = (
    "firstname", "lastname", "emailaddress1", "telephone1", "companyname", "jobtitle", "address1_country",
)  # fmt: skip


def anonymised(lead_id: str, erased_at: datetime) -> dict[str, Any]:
    """The Dynamics update that takes the person out of a lead this app created: the contact columns emptied, the
    description (which held the customer's note) replaced by a line saying what happened."""
    note = (
        f"Personal data erased on request on {erased_at.date().isoformat()} (python -m leads forget). "
        f"Marketplace lead id: {lead_id}"
    )
    return dict.fromkeys(DYNAMICS_PERSONAL_COLUMNS) | {"description": note}
