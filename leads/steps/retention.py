"""Retention: LEAD_RETENTION_DAYS after a lead was done, its row keeps only what the app needs (core/personal.py).

Only ``done`` leads are scrubbed: received, held and failed leads keep everything, so nothing unprocessed is lost
(a failed lead that is replayed and done later is scrubbed that much later). ``UpdatedAt`` is when a lead became
done. A scrubbed lead is still recognised: a redelivery hits its row (the lead id) and is refused as a duplicate,
and imports match its ``MatchKey``.

Table storage indexes nothing but the keys, so the timer keeps a watermark in our table (``retention``): every done
lead that became done before it has been scrubbed. Each run reads the done leads between the watermark and the
cutoff (three columns each), oldest first, scrubs at most ``limit`` of them within ``budget``, and moves the
watermark up to the first one it left. Each scrub is one conditional REPLACE of the row, whole or not at all. A run
that stops part-way (a crash, a time-out, storage trouble) leaves the watermark where it was: the next run reads the
same leads, skips the ones already scrubbed (``ScrubbedAt``) and goes on. A lead changed meanwhile (its ETag) is
left for the next run, and the watermark stays behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leads.core import personal
from leads.core.clock import now
from leads.core.errors import LeadChanged
from leads.core.lead_row import SCRUBBED_AT, Status
from leads.steps.ports import ScrubbableStore, Watermarks

log = logging.getLogger(__name__)
WATERMARK = "retention"
LIMIT = 500  # rows scrubbed per run: one read and one write each
BUDGET = timedelta(minutes=4)  # and no longer than this (host.json's functionTimeout is 10 minutes)


@dataclass
class RetentionReport:
    cutoff: datetime
    scrubbed: int = 0
    already: int = 0  # scrubbed before (by an earlier run that stopped, or by `forget`)
    left: int = 0  # due, left for the next run (limit, time budget, or changed meanwhile)


@dataclass
class Retention:
    store: ScrubbableStore
    watermarks: Watermarks
    days: int
    clock: Callable[[], datetime] = now
    limit: int = LIMIT
    budget: timedelta = BUDGET

    def run(self) -> RetentionReport:
        started = self.clock()
        cutoff = started - timedelta(days=self.days)
        since = self.watermarks.read_watermark(WATERMARK)
        report = RetentionReport(cutoff)
        if since is not None and since >= cutoff:
            return report  # the retention period was made longer: nothing is due before the old mark
        due = sorted(self._done_before(cutoff, since), key=lambda row: (row["UpdatedAt"], row["RowKey"]))
        mark = cutoff  # where the next run starts: the first lead not scrubbed, else the cutoff
        for index, row in enumerate(due):
            if row.get(SCRUBBED_AT):
                report.already += 1
                continue
            if report.scrubbed >= self.limit or self.clock() - started > self.budget:
                report.left += sum(1 for rest in due[index:] if not rest.get(SCRUBBED_AT))
                mark = min(mark, row["UpdatedAt"])
                break
            outcome = self._scrub(row["RowKey"], cutoff)
            if outcome == "left":
                report.left += 1
                mark = min(mark, row["UpdatedAt"])
            elif outcome == "scrubbed":
                report.scrubbed += 1
        if since is None or mark > since:
            self.watermarks.write_watermark(WATERMARK, mark)
        if report.scrubbed or report.left:
            log.info(
                "retention: personal data removed from %d lead(s) done before %s; %d left for the next run",
                report.scrubbed, cutoff.isoformat(timespec="seconds"), report.left,
            )  # fmt: skip
        return report

    def _done_before(self, cutoff: datetime, since: datetime | None) -> list[dict[str, Any]]:
        query = "Status eq @done and UpdatedAt lt @cutoff"
        parameters: dict[str, Any] = {"done": Status.DONE.value, "cutoff": cutoff}
        if since is not None:
            query += " and UpdatedAt ge @since"
            parameters["since"] = since
        rows = self.store.query(query, parameters, select=["RowKey", "UpdatedAt", SCRUBBED_AT])
        return [row for row in rows if isinstance(row.get("UpdatedAt"), datetime)]

    def _scrub(self, lead_id: str, cutoff: datetime) -> str:
        """Scrub one lead, read whole first: ``scrubbed``; ``gone`` (scrubbed or deleted meanwhile); ``left`` when
        it changed since the query (the next run looks again)."""
        entity = self.store.get(lead_id)
        if entity is None or personal.is_scrubbed(entity):
            return "gone"
        if entity.get("Status") != Status.DONE or entity.get("UpdatedAt", cutoff) >= cutoff:
            return "left"  # replayed or updated meanwhile: not due (yet)
        try:
            self.store.replace(lead_id, personal.scrubbed(entity, self.clock()), etag=entity["_etag"])
        except LeadChanged:
            return "left"
        log.debug("lead %s: personal data removed (retention)", lead_id)
        return "scrubbed"
