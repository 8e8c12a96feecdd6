"""The reconciliation timer: when a lead still `received` counts as stranded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from leads.settings.reader import Reader


@dataclass(frozen=True)
class ReconcileSettings:
    grace_minutes: int


def load_reconcile(env: Mapping[str, str] | None = None) -> ReconcileSettings:
    read = Reader(env)
    grace = read.integer("RECONCILE_GRACE_MINUTES", 10, 1, 7 * 24 * 60)
    read.done()
    return ReconcileSettings(grace_minutes=grace)
