"""Following Microsoft's Azure Table destination (MARKETPLACE_TABLE): each run imports the rows written since the
last one, so a publisher can keep that destination and still get Dynamics and mail from this app.

The watermark (the service's ``Timestamp`` of what has been read) is kept in our own table and advanced only after
every row of the run is stored: a run that fails part-way reads the same rows again next time, and the rows already
stored are then recognised by their lead id. For the same reason the watermark stays ``OVERLAP`` behind the run's
start (a row being written while we read may carry an earlier Timestamp than rows we saw): re-reading is harmless,
skipping is not. The first run only records where to start; older rows are imported once, by hand
(``python -m leads import --from-table``), so turning the timer on does not replay a table's history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leads.core import lead_row
from leads.core.clock import now
from leads.core.export_rows import table_entity_fields
from leads.core.imported import parse_time
from leads.steps.importing import Importer, ImportOptions, ImportReport, SourceRow
from leads.steps.ports import LeadQueue, LeadStore, SourceTable, Watermarks

log = logging.getLogger(__name__)
OVERLAP = timedelta(minutes=5)


def table_rows(rows: Iterator[dict[str, Any]], seen: list[datetime] | None = None) -> Iterator[SourceRow]:
    """The source table's rows as import rows (named by their keys, which are not personal data). ``seen``
    collects each row's Timestamp."""
    for entity in rows:
        stamp = entity.get("Timestamp")
        if seen is not None and isinstance(stamp, datetime):
            seen.append(stamp)
        where = f"row {entity.get('PartitionKey', '?')}/{entity.get('RowKey', '?')}"
        fields = table_entity_fields(entity)
        if isinstance(stamp, datetime) and not _is_time(fields.get("created", "")):
            # CreatedTime's format is not documented: when it is missing or not a time, when the row was written.
            fields["created"] = stamp.isoformat()
        yield SourceRow(where, fields)


def _is_time(text: str) -> bool:
    try:
        parse_time(text)
    except ValueError:
        return False
    return True


@dataclass
class TableFollower:
    source: SourceTable
    store: LeadStore
    queue: LeadQueue
    watermarks: Watermarks
    clock: Callable[[], datetime] = now

    @property
    def watermark_name(self) -> str:
        return f"marketplace-table-{self.source.name}"

    def run(self) -> ImportReport | None:
        """Import what was written since the watermark; None on the first run (which only sets it)."""
        started = self.clock()
        since = self.watermarks.read_watermark(self.watermark_name)
        if since is None:
            self.watermarks.write_watermark(self.watermark_name, started - OVERLAP)
            log.info("following table %s from now on (older rows: `import --from-table`)", self.source.name)
            return None
        seen: list[datetime] = []
        options = ImportOptions(origin=lead_row.ORIGIN_TABLE, apply=True)
        importer = Importer(self.store, self.queue, options, clock=self.clock)
        report = importer.run(table_rows(self.source.rows(since), seen))
        # Every row is stored now: move on, but never past rows that may still be arriving.
        advanced = min(max(seen, default=since), started - OVERLAP)
        if advanced > since:
            self.watermarks.write_watermark(self.watermark_name, advanced)
        if report.rows:
            log.info(
                "table %s: %d row(s), %d new lead(s) stored, %d already here, %d unusable",
                self.source.name, report.rows, report.stored, report.already_here, len(report.unusable),
            )  # fmt: skip
        if report.erased:  # erased stays erased: `import --from-table --include-erased` is the way back
            log.info("table %s: %d lead(s) of people erased with `forget` not brought back", self.source.name,
                     report.erased)  # fmt: skip
        for finding in report.unusable:
            log.warning("table %s, %s: %s", self.source.name, finding.where, finding.text)
        return report
