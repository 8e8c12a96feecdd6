"""Re-enqueue leads stranded in `received` (a crash between storing a lead and enqueueing it, or a
queue that was down), so no stored lead waits forever."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from leads.core import events, lead_row
from leads.core.clock import now
from leads.core.errors import LeadChanged, StorageUnavailable
from leads.core.lead_row import Status
from leads.steps.ports import LeadQueue, LeadStore

log = logging.getLogger(__name__)


def reconcile(table: LeadStore, queue: LeadQueue, grace: timedelta, clock: Callable[[], datetime] = now) -> list[str]:
    """Enqueue every lead still `received` whose last update is older than ``grace``; returns their ids.

    The filter runs in the table service (only matching leads come back, with three columns). A lead
    being retried is updated on every attempt, so it is left alone. Each re-enqueue is claimed by
    bumping UpdatedAt under the entity's ETag: instances running at once enqueue a lead once."""
    cutoff = clock() - grace
    stranded = table.query(
        "Status eq @status and UpdatedAt lt @cutoff",
        {"status": Status.RECEIVED.value, "cutoff": cutoff},
        select=["RowKey", "Status", "UpdatedAt"],
    )
    enqueued = []
    for entity in stranded:
        lead_id = entity["RowKey"]
        if not _claimed(table, lead_id, entity["_etag"], clock()):
            continue  # another instance (or the lead's own processing) got there first
        try:
            queue.send(lead_row.queue_message(lead_id))
        except StorageUnavailable:
            table.update(lead_id, {"UpdatedAt": cutoff})  # leave it due for the next run
            raise
        log.warning("lead %s was stranded in 'received'; enqueued again", lead_id, extra=events.reenqueued(entity))
        enqueued.append(lead_id)
    return enqueued


def _claimed(table: LeadStore, lead_id: str, etag: str, stamp: datetime) -> bool:
    """Claim the re-enqueue by writing ``stamp`` under the ETag. A 412 can also answer our own write, when it went
    through but its answer was lost and the storage SDK retried it: the stamp (to the microsecond) says whose it is."""
    try:
        table.update(lead_id, {"UpdatedAt": stamp}, etag=etag)
    except LeadChanged:
        found = table.get(lead_id)
        return found is not None and found.get("UpdatedAt") == stamp and found.get("Status") == Status.RECEIVED
    return True
