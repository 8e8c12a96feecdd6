"""Retention: how long a finished lead's personal data stays in the lead table (steps/retention.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from leads.settings.reader import Reader

# A quarter: once a lead is done, Dynamics holds it and the mail has gone, so the table's copy of the contact only
# serves the operator (`status --show-contact`, a question about last month's leads). Unfinished and failed leads
# keep theirs whatever the setting.
DEFAULT_RETENTION_DAYS = 90
MAX_RETENTION_DAYS = 3650


@dataclass(frozen=True)
class RetentionSettings:
    days: int  # 0: kept for as long as the row (the timer does nothing)

    @property
    def enabled(self) -> bool:
        return self.days > 0


def load_retention(env: Mapping[str, str] | None = None) -> RetentionSettings:
    read = Reader(env)
    days = read.integer("LEAD_RETENTION_DAYS", DEFAULT_RETENTION_DAYS, 0, MAX_RETENTION_DAYS)
    read.done()
    return RetentionSettings(days=days)
