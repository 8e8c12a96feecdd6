"""The process's settings and adapters, each created once, on first use.

A Functions worker process serves many invocations: keeping one table client, one queue client, one
HTTP session and one token cache per process means a burst of leads costs one token request and
reuses connections. Nothing heavy is created at import, so cold starts stay short.
"""

from __future__ import annotations

from functools import cache

from leads.queue import LeadQueue
from leads.settings import StorageSettings, load_storage
from leads.table import LeadTable


@cache
def storage_settings() -> StorageSettings:
    return load_storage()


@cache
def lead_table() -> LeadTable:
    return LeadTable(storage_settings())


@cache
def lead_queue() -> LeadQueue:
    return LeadQueue(storage_settings())


def reset() -> None:
    """Forget everything created so far (settings are read again on next use)."""
    for cached in (storage_settings, lead_table, lead_queue):
        cached.cache_clear()
