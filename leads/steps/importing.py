"""Importing leads the HTTPS endpoint missed: rows of Partner Center's export or of Microsoft's Azure Table
destination, through the same pipeline (stored, enqueued, processed) so nothing is created twice.

A row is *already here* when a stored lead has the same identity (the lead id the HTTPS endpoint would have given
it) or, looser, the same email, offer, action and day (``core/matching.py``); a lead whose row was scrubbed is
still here. A row of a person erased with `forget` (a tombstone: the address's hash and when) is *erased* when it
was created before that erasure: it is not brought back unless ``include_erased`` (a lead the person sent after
being erased is a new lead). Which leads are stored is read once,
in one query over our table (ids and match keys only), before the first row is compared: one scan rather than a
read per row. By default nothing is written (a report); ``apply`` stores and enqueues the new leads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from leads.core import lead_row
from leads.core.clock import now
from leads.core.imported import ImportedLead, UnusableRow, contact_text, imported_lead
from leads.core.lead_row import ERASED_AT
from leads.core.matching import MATCH_KEY, email_hash, stored_match_key
from leads.core.personal import TOMBSTONE_QUERY, TOMBSTONES
from leads.steps.intake import admit
from leads.steps.ports import LeadQueue, LeadStore

log = logging.getLogger(__name__)
PROGRESS_EVERY = 500
# What the scan reads of each stored lead: its id and match key, and for rows stored before MatchKey existed
# the columns it is computed from (in memory only, never logged).
KNOWN_COLUMNS = ["RowKey", MATCH_KEY, "CustomerInfo", "OfferTitle", "Action", "ActionCode", "ReceivedAt"]


@dataclass(frozen=True)
class SourceRow:
    """One row of the source: where it is (``line 12``), its fields, or why it could not even be split."""

    where: str
    fields: dict[str, str]
    problem: str = ""


@dataclass(frozen=True)
class ImportOptions:
    origin: str  # lead_row.ORIGIN_IMPORT or ORIGIN_TABLE
    apply: bool = False
    notify: bool = True
    since: datetime | None = None
    include_erased: bool = False  # bring back leads of people erased with `forget` (only if they asked again)


@dataclass(frozen=True)
class Finding:
    """A row worth listing: a new lead (its id) or an unusable row (the reason). ``contact`` is personal data,
    printed only with --show-contact."""

    where: str
    text: str
    contact: str = ""


@dataclass
class ImportReport:
    rows: int = 0
    same_lead: int = 0
    similar: int = 0
    before_since: int = 0
    erased: int = 0  # leads of a person erased with `forget`, created before that: not brought back
    stored: int = 0
    new: list[Finding] = field(default_factory=list)
    unusable: list[Finding] = field(default_factory=list)

    @property
    def already_here(self) -> int:
        return self.same_lead + self.similar


class KnownLeads:
    """The stored leads' ids and match keys (hashes), those added during the run, and the erased addresses (hashes)
    with the time of their erasure."""

    def __init__(self, ids: set[str], keys: set[str], erased: dict[str, datetime] | None = None) -> None:
        self.ids, self.keys, self.erased = ids, keys, erased or {}

    @classmethod
    def scan(cls, store: LeadStore) -> KnownLeads:
        ids, keys = set(), set()
        rows = store.query(lead_row.LEAD_PARTITIONS, dict(lead_row.LEAD_PARTITION_BOUNDS), select=KNOWN_COLUMNS)
        for entity in rows:
            ids.add(entity["RowKey"])
            keys.add(stored_match_key(entity))
        keys.discard("")
        tombstones = store.query(TOMBSTONE_QUERY, {"tombstones": TOMBSTONES}, select=["RowKey", ERASED_AT])
        erased = {row["RowKey"]: row[ERASED_AT] for row in tombstones if isinstance(row.get(ERASED_AT), datetime)}
        return cls(ids, keys, erased)

    def same_lead(self, imported: ImportedLead) -> bool:
        return imported.lead.lead_id in self.ids

    def similar(self, imported: ImportedLead) -> bool:
        return any(key in self.keys for key in imported.match_keys)

    def erased_before(self, imported: ImportedLead) -> bool:
        """The lead's person was erased with `forget` after the marketplace created this lead."""
        erased_at = self.erased.get(email_hash(imported.lead.contact.email))
        return erased_at is not None and imported.created_at <= erased_at

    def add(self, imported: ImportedLead) -> None:
        self.ids.add(imported.lead.lead_id)
        self.keys.update(imported.match_keys)


@dataclass
class Importer:
    store: LeadStore
    queue: LeadQueue
    options: ImportOptions
    progress: Callable[[int], None] | None = None
    clock: Callable[[], datetime] = now

    def run(self, rows: Iterable[SourceRow]) -> ImportReport:
        """Compare (and with ``apply`` store) every row. A bad row is listed and skipped; storage trouble raises
        (StorageUnavailable): what was stored stays, and running again picks up the rest."""
        report = ImportReport()
        known: KnownLeads | None = None
        for row in rows:
            report.rows += 1
            if self.progress is not None and report.rows % PROGRESS_EVERY == 0:
                self.progress(report.rows)
            imported = self._usable(row, report)
            if imported is None:
                continue
            if self.options.since is not None and imported.created_at < self.options.since:
                report.before_since += 1
                continue
            known = known or KnownLeads.scan(self.store)
            self._compare(row, imported, known, report)
        return report

    def _usable(self, row: SourceRow, report: ImportReport) -> ImportedLead | None:
        reason = row.problem
        if not reason:
            try:
                return imported_lead(row.fields)
            except UnusableRow as exc:
                reason = str(exc)
        fields = row.fields
        name = " ".join(fields.get(part, "") for part in ("first_name", "last_name", "full_name"))
        report.unusable.append(Finding(row.where, reason, contact_text(name, fields.get("email", ""))))
        return None

    def _compare(self, row: SourceRow, imported: ImportedLead, known: KnownLeads, report: ImportReport) -> None:
        lead_id = imported.lead.lead_id
        if known.same_lead(imported):
            report.same_lead += 1
            return
        if known.similar(imported):
            report.similar += 1
            return
        if not self.options.include_erased and known.erased_before(imported):
            report.erased += 1  # nothing of the person is kept or logged: the count says it
            return
        known.add(imported)  # a repeat further down the file is then already here
        if self.options.apply:
            entity = lead_row.imported_entity(
                imported.lead, imported.created_at, self.options.origin, self.clock(), notify=self.options.notify
            )
            if not admit(lead_id, entity, self.store, self.queue):
                report.same_lead += 1  # stored meanwhile (the HTTPS endpoint, another import)
                return
            report.stored += 1
            log.info("lead %s imported (%s)", lead_id, self.options.origin)
        report.new.append(Finding(row.where, lead_id, imported.contact))
