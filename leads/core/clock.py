"""The one clock: timezone-aware UTC, so stored times compare and sort the same everywhere."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
