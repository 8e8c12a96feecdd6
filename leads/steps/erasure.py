"""Erasure on request (`python -m leads forget`): a person's rows in the lead table, found by address, and their
personal data removed; a tombstone per address so `import` and the table follower do not bring them back.

A person's rows are found in one scan of the lead partitions (a few small columns each): by ``EmailHash`` (every
row stored or scrubbed since the column exists) or, for older rows, by the address in ``CustomerInfo``. Nothing of
the addresses is logged: rows are named by lead id, addresses by a short prefix of their hash.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leads.core import lead_row, mapping, personal
from leads.core.clock import now
from leads.core.errors import LeadChanged
from leads.core.lead_row import ERASED_AT, SCRUBBED_AT
from leads.core.matching import EMAIL_HASH, email_hash
from leads.core.returning import RETURNING
from leads.core.speed import NOTIFICATION_FIELDS
from leads.steps.ports import LeadStore, ScrubbableStore

log = logging.getLogger(__name__)
SCAN_COLUMNS = ["RowKey", "Status", "ReceivedAt", "DynamicsLeadId", EMAIL_HASH, "CustomerInfo", SCRUBBED_AT, ERASED_AT,
                *NOTIFICATION_FIELDS, RETURNING]  # fmt: skip
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
ATTEMPTS = 5  # a lead being processed while it is erased: read it again and retry


@dataclass(frozen=True)
class PersonRow:
    """One stored lead of the person: no personal data, only what the report shows."""

    lead_id: str
    address_hash: str
    status: str
    received: datetime | None
    dynamics_lead_id: str  # recorded on the row; "" when the lead had not reached Dynamics (as far as we know)
    erased: bool
    scrubbed: bool
    notified: bool  # a mail or a Teams card about it went out (beyond the app's reach)
    returning: bool = False  # a note on the person's open lead (dynamics_lead_id), not a lead of its own

    @property
    def possible_dynamics_lead_id(self) -> str:
        """Where the lead is in Dynamics if it is there: the recorded id, else the id its creation would use (a
        worker may have created it and not recorded it yet)."""
        return self.dynamics_lead_id or mapping.dataverse_lead_id(self.lead_id)


@dataclass
class ErasureReport:
    erased: list[str] = field(default_factory=list)  # lead ids whose personal data went now
    already: list[str] = field(default_factory=list)  # erased before
    tombstones: int = 0


def address_hashes(addresses: Iterable[str]) -> list[str]:
    """Each address's hash, once, in the order given (an empty one is left out)."""
    return list(dict.fromkeys(filter(None, (email_hash(address) for address in addresses))))


def short(address_hash: str) -> str:
    """How the report and the log name an address: the start of its hash."""
    return address_hash[:10]


def find_rows(store: LeadStore, hashes: list[str]) -> list[PersonRow]:
    """The stored leads of these addresses, oldest first."""
    wanted = set(hashes)
    rows = store.query(lead_row.LEAD_PARTITIONS, dict(lead_row.LEAD_PARTITION_BOUNDS), select=SCAN_COLUMNS)
    found = []
    for entity in rows:
        address_hash = _address_hash(store, entity)
        if address_hash in wanted:
            found.append(_person_row(entity, address_hash))
    found.sort(key=lambda row: (row.received or _LONG_AGO, row.lead_id))
    return found


def _address_hash(store: LeadStore, entity: dict[str, Any]) -> str:
    if entity.get(EMAIL_HASH):
        return str(entity[EMAIL_HASH])
    try:
        contact = json.loads(entity.get("CustomerInfo") or "{}")
    except ValueError:
        contact = None  # cut to what a property holds: the raw payload tells
    if isinstance(contact, dict):
        return email_hash(str(contact.get("Email") or ""))
    whole = store.get(entity["RowKey"])
    return personal.stored_email_hash(whole) if whole is not None else ""


def _person_row(entity: dict[str, Any], address_hash: str) -> PersonRow:
    received = entity.get("ReceivedAt")
    return PersonRow(
        lead_id=entity["RowKey"],
        address_hash=address_hash,
        status=str(entity.get("Status") or ""),
        received=received if isinstance(received, datetime) else None,
        dynamics_lead_id=str(entity.get("DynamicsLeadId") or ""),
        erased=bool(entity.get(ERASED_AT)),
        scrubbed=bool(entity.get(SCRUBBED_AT)),
        notified=any(entity.get(name) for name in NOTIFICATION_FIELDS),
        returning=bool(entity.get(RETURNING)),
    )


def erase(
    store: ScrubbableStore, hashes: list[str], rows: list[PersonRow], clock: Callable[[], datetime] = now
) -> ErasureReport:
    """Remove the personal data of ``rows`` (each whole or not at all; a lead changed meanwhile is read again), then
    record a tombstone per address, found or not: its leads may still be in Partner Center's export or Microsoft's
    table. Running it again changes nothing more (rows already erased are left as they are)."""
    report = ErasureReport()
    for row in rows:
        if _erase_row(store, row.lead_id, clock):
            report.erased.append(row.lead_id)
            log.info("lead %s: personal data erased on request", row.lead_id)
        else:
            report.already.append(row.lead_id)
    for address_hash in hashes:
        store.write_tombstone(address_hash, clock())
        report.tombstones += 1
    log.info(
        "forget: %d address(es) (%s): %d lead(s) erased, %d erased before; tombstones recorded",
        len(hashes), ", ".join(short(address_hash) for address_hash in hashes), len(report.erased),
        len(report.already),
    )  # fmt: skip
    return report


def _erase_row(store: ScrubbableStore, lead_id: str, clock: Callable[[], datetime]) -> bool:
    """True when the row's personal data went now; False when it had been erased before (or is gone)."""
    for _ in range(ATTEMPTS):
        entity = store.get(lead_id)
        if entity is None or personal.is_erased(entity):
            return False
        try:
            store.replace(lead_id, personal.erased(entity, clock()), etag=entity["_etag"])
        except LeadChanged:
            continue  # a worker wrote to it meanwhile: read it again
        return True
    raise LeadChanged(lead_id)
