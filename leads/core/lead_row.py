"""How a lead is kept: its table row (keys, columns, statuses and the changes between them) and its queue
message. Pure functions, no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from leads.core import campaign
from leads.core.matching import EMAIL_HASH, MATCH_KEY, email_hash, match_key
from leads.core.payload import Lead, cut, parse_lead, utf16_chunks

# A string property holds at most 64 KiB of UTF-16: 32,768 code units (an emoji takes two). Stay a little under.
MAX_PROPERTY_UNITS = 32_000
RAW_PAYLOAD_PROPERTY = "RawPayload"
MAX_ERROR_CHARS = 1000
# Lead ids are hex, so every lead's PartitionKey is two hex digits; rows of our own (the watermarks) sort after.
LEAD_PARTITIONS = "PartitionKey ge @first_partition and PartitionKey le @last_partition"
LEAD_PARTITION_BOUNDS = {"first_partition": "00", "last_partition": "ff"}
# Where a lead came from (the Origin column; rows stored before it existed came over HTTPS).
ORIGIN_ENDPOINT, ORIGIN_IMPORT, ORIGIN_TABLE = "https", "import", "table"
# Set on leads imported with --no-notify: the contacts are not mailed about them (the failure alert still goes).
SKIP_NOTIFICATION = "SkipNotification"
# When a row's personal data was removed: by the retention timer or by `forget` (ScrubbedAt), on request (ErasedAt).
SCRUBBED_AT, ERASED_AT = "ScrubbedAt", "ErasedAt"


class Status(StrEnum):
    RECEIVED = "received"  # stored and enqueued, not yet processed
    HELD = "held"  # DYNAMICS_ENABLED is off: kept, not sent
    DONE = "done"  # in Dynamics and notified
    FAILED = "failed"  # a permanent error; LastError says which


FINISHED = (Status.DONE, Status.FAILED)  # nothing more happens to these unless replayed


def keys_for(lead_id: str) -> tuple[str, str]:
    """PartitionKey and RowKey. Both come from the lead id, so a repeat of a lead on any day hits the same
    row (and is refused as a duplicate), while the two-hex-digit partition spreads load over 256 partitions."""
    return lead_id[:2], lead_id


def new_entity(lead: Lead, received_at: datetime) -> dict[str, Any]:
    """The row for a newly received lead: Microsoft's Table-destination columns first, then ours."""
    partition_key, row_key = keys_for(lead.lead_id)
    entity: dict[str, Any] = {
        "PartitionKey": partition_key,
        "RowKey": row_key,
        # Columns of the marketplace's own "Azure Table" destination (OfferDisplayName is its name for
        # OfferTitle in the wild; both are written so either export keeps working).
        # These copies are cut to what a property holds; RawPayload keeps every character.
        "ActionCode": cut(lead.action_code, MAX_PROPERTY_UNITS),
        "CreatedTime": received_at.astimezone(UTC).isoformat(),
        "CustomerInfo": cut(json.dumps(lead.contact.as_marketplace_json(), ensure_ascii=False), MAX_PROPERTY_UNITS),
        "Description": cut(lead.description, MAX_PROPERTY_UNITS),
        "LeadSource": cut(lead.lead_source.raw, MAX_PROPERTY_UNITS),
        "OfferTitle": cut(lead.offer_title, MAX_PROPERTY_UNITS),
        "OfferDisplayName": cut(lead.offer_title, MAX_PROPERTY_UNITS),
        # Ours.
        "LeadId": lead.lead_id,
        "Status": Status.RECEIVED.value,
        "IsTest": lead.is_test,
        "Source": cut(lead.lead_source.source, MAX_PROPERTY_UNITS),
        "Action": cut(lead.action, MAX_PROPERTY_UNITS),
        "OfferId": cut(lead.lead_source.offer_id, MAX_PROPERTY_UNITS),
        "Origin": ORIGIN_ENDPOINT,
        MATCH_KEY: match_key(lead.contact.email, lead.offer_title, lead.action, received_at.astimezone(UTC).date()),
        EMAIL_HASH: email_hash(lead.contact.email),
        "ReceivedAt": received_at,
        "UpdatedAt": received_at,
    }
    # CampaignMktcmpid, CampaignUtmSource…: only those found
    entity.update(campaign.row_columns(lead.campaign_parameters))
    entity.update(raw_payload_properties(lead.raw))
    return entity


def imported_entity(
    lead: Lead, created_at: datetime, origin: str, now: datetime, notify: bool = True
) -> dict[str, Any]:
    """The row for a lead found in Partner Center's export or Microsoft's table: received when the marketplace
    created it (the export's time), imported now."""
    entity = new_entity(lead, created_at) | {"Origin": origin, "ImportedAt": now, "UpdatedAt": now}
    if not notify:
        entity[SKIP_NOTIFICATION] = True
    return entity


def raw_payload_properties(document: dict[str, Any]) -> dict[str, str]:
    """The payload as received (unknown keys included), split over RawPayload, RawPayload1, … when it is
    longer than one string property can hold (a 64 KiB body can be 64 K UTF-16 units, or more with emoji)."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    chunks = utf16_chunks(text, MAX_PROPERTY_UNITS)
    return {f"{RAW_PAYLOAD_PROPERTY}{index or ''}": chunk for index, chunk in enumerate(chunks)}


def raw_payload(entity: dict[str, Any]) -> dict[str, Any]:
    parts = []
    index = 0
    while (part := entity.get(f"{RAW_PAYLOAD_PROPERTY}{index or ''}")) is not None:
        parts.append(part)
        index += 1
    document: dict[str, Any] = json.loads("".join(parts))
    return document


def lead_from_entity(entity: dict[str, Any]) -> Lead:
    """Re-parse the stored payload: the raw JSON is the single source of truth for a lead's content."""
    return parse_lead(raw_payload(entity))


def queue_message(lead_id: str) -> str:
    """The queue message for a lead: its id and keys only, never personal data."""
    partition_key, row_key = keys_for(lead_id)
    return json.dumps({"id": lead_id, "PartitionKey": partition_key, "RowKey": row_key}, separators=(",", ":"))


def lead_id_from_message(text: str) -> str:
    """The lead id in a queue message; ValueError if the message is not one of ours."""
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("queue message is not JSON") from None
    lead_id = message.get("id") if isinstance(message, dict) else None
    if not isinstance(lead_id, str) or not is_lead_id(lead_id):
        raise ValueError("queue message has no valid lead id")
    return lead_id


def is_lead_id(text: str) -> bool:
    """Whether the text can be a lead id (8 to 64 letters and digits): anything else names no lead."""
    return text.isascii() and text.isalnum() and 8 <= len(text) <= 64


# --- status changes ----------------------------------------------------------------------------------


def channel_of(field: str) -> str:
    """Which channel a notification field records: ``teams`` (TeamsNotifiedAt, TeamsAlertedAt) or ``mail``."""
    return "teams" if field.startswith("Teams") else "mail"


def notification_due(entity: dict[str, Any], field: str) -> bool:
    """Whether the message recorded in ``field`` (NotifiedAt, AlertedAt, TeamsNotifiedAt, TeamsAlertedAt) still
    has to go out for this lead. An imported lead with SkipNotification tells no channel about itself (the contacts
    may have seen Partner Center's own mail); a failure alert still goes out."""
    if field.endswith("NotifiedAt") and entity.get(SKIP_NOTIFICATION):
        return False
    return not entity.get(field)


def is_finished(entity: dict[str, Any]) -> bool:
    return entity.get("Status") in FINISHED


def finished(status: Status, now: datetime) -> dict[str, Any]:
    """The end of a delivery: the lead's new status; an error is cleared unless the lead failed."""
    changes: dict[str, Any] = {"Status": status.value, "UpdatedAt": now}
    if status != Status.FAILED:
        changes["LastError"] = ""
    return changes


def may_become(current: str, new: Status) -> bool:
    """Whether a lead whose Status is ``current`` may change to ``new``. A lead that is done stays done: a stale
    poison message, a late worker or a replay never fails it or sends it round again. Done may follow anything
    (the lead is in Dynamics and its contacts told, whatever was believed before); held only follows received."""
    if new == Status.DONE:
        return True
    if current == Status.DONE:
        return False
    return new != Status.HELD or current in ("", Status.RECEIVED, Status.HELD)


def gave_up(reason: str, last_error: str, now: datetime) -> dict[str, Any]:
    """The lead exhausted its retries (poison queue): failed, saying why and what went wrong last."""
    error = f"{reason}; last error: {last_error or 'no error was recorded'}"[:MAX_ERROR_CHARS]
    return {"Status": Status.FAILED.value, "LastError": error, "UpdatedAt": now}


def replayed(entity: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """`replay`: back to received, to be processed again; None for a lead that is done, or whose personal data was
    removed (nothing to replay: the payload is gone). A failed lead may alert again; the notification, if it went
    out, is not sent twice."""
    if entity.get("Status") == Status.DONE or entity.get(SCRUBBED_AT) or entity.get(ERASED_AT):
        return None
    changes: dict[str, Any] = {"Status": Status.RECEIVED.value, "UpdatedAt": now}
    if entity.get("Status") == Status.FAILED:
        changes |= {"AlertedAt": "", "TeamsAlertedAt": "",
                    "LastError": f"replayed after: {entity.get('LastError', '')}"[:MAX_ERROR_CHARS]}  # fmt: skip
    return changes
