"""What the operator commands share: the marks they print, and opening the lead table and queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from leads.adapters.lead_queue import LeadQueue
from leads.adapters.lead_table import LeadTable
from leads.core.lead_row import Status
from leads.settings import SettingsError, StorageSettings

PASS, FAIL, SKIP = "✓", "✗", "-"
UNFINISHED = (Status.RECEIVED.value, Status.HELD.value)
T = TypeVar("T")


def open_table(storage: StorageSettings) -> LeadTable:
    return _opened(lambda: LeadTable(storage))


def open_queue(storage: StorageSettings) -> LeadQueue:
    return _opened(lambda: LeadQueue(storage))


def _opened(client: Callable[[], T]) -> T:
    """The storage SDK checks a connection string when the client is made (it reaches nothing yet): a string it
    cannot use is a setting to fix, named as such."""
    try:
        return client()
    except ValueError as exc:
        raise SettingsError(
            [
                f"AzureWebJobsStorage cannot be used: {exc} Copy the connection string from the storage account's "
                "'Access keys' page (UseDevelopmentStorage=true for Azurite)"
            ]
        ) from None
