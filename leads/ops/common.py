"""What the operator commands share: the marks they print, and opening the lead table and queue."""

from __future__ import annotations

from leads.adapters.lead_queue import LeadQueue
from leads.adapters.lead_table import LeadTable
from leads.core.lead_row import Status
from leads.settings import StorageSettings

PASS, FAIL, SKIP = "✓", "✗", "-"
UNFINISHED = (Status.RECEIVED.value, Status.HELD.value)


def open_table(storage: StorageSettings) -> LeadTable:
    return LeadTable(storage)


def open_queue(storage: StorageSettings) -> LeadQueue:
    return LeadQueue(storage)
