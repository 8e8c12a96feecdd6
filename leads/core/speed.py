"""Speed to lead: how long a lead took from being received to being in Dynamics and to reaching the contacts,
and the spread of those durations over many leads. Pure functions over lead table rows, no I/O.

"Notified" is the moment the *first* notification went out: that is when a salesperson can first see the lead.
Each notification channel records its own time in one of NOTIFICATION_FIELDS; a new channel adds its field there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leads.core.lead_row import ORIGIN_IMPORT, ORIGIN_TABLE

IMPORTED = (ORIGIN_IMPORT, ORIGIN_TABLE)  # received by the marketplace long before this app saw them
NOTIFICATION_FIELDS = ("NotifiedAt", "TeamsNotifiedAt")  # one per channel: when that channel's notification went out


def _moment(value: Any) -> datetime | None:
    """A stored time, or None for a missing or cleared one (an empty string)."""
    return value if isinstance(value, datetime) else None


def notified_at(entity: Mapping[str, Any]) -> datetime | None:
    """When the contacts first heard of the lead, on whichever channel came first; None if none has yet."""
    moments = [moment for name in NOTIFICATION_FIELDS if (moment := _moment(entity.get(name))) is not None]
    return min(moments, default=None)


def _seconds_after(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())  # clocks of different workers may differ by a little


@dataclass(frozen=True)
class LeadTimings:
    to_dynamics: float | None  # seconds from ReceivedAt to DynamicsAt
    to_notified: float | None  # seconds from ReceivedAt to the first notification


def timings(entity: Mapping[str, Any]) -> LeadTimings:
    """A lead's durations; None where a moment is missing (not there yet, held, or stored before DynamicsAt
    existed), and for a lead imported from Partner Center's export or Microsoft's Azure Table destination: its
    ReceivedAt is when the marketplace got it, maybe days before the import, which says nothing about this app's
    speed."""
    if not measures_speed(entity):
        return LeadTimings(to_dynamics=None, to_notified=None)
    received = _moment(entity.get("ReceivedAt"))
    return LeadTimings(
        to_dynamics=_seconds_after(received, _moment(entity.get("DynamicsAt"))),
        to_notified=_seconds_after(received, notified_at(entity)),
    )


def measures_speed(entity: Mapping[str, Any]) -> bool:
    """Whether the lead's times say how fast this app is: only leads received over its HTTPS endpoint (rows stored
    before Origin existed came that way), not imported ones (`import`, the table-following timer)."""
    return entity.get("Origin") not in IMPORTED


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: always a value that was measured. ``values`` must not be empty."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True)
class Spread:
    count: int
    p50: float
    p95: float
    max: float


def spread(values: Iterable[float | None]) -> Spread | None:
    """p50, p95 and max of the durations that are known; None when there are none."""
    known = [value for value in values if value is not None]
    if not known:
        return None
    return Spread(len(known), percentile(known, 0.5), percentile(known, 0.95), max(known))


def duration_text(seconds: float) -> str:
    """``0.8 s``, ``42.5 s``, ``3 min 05 s``, ``2 h 10 min``: short and readable at every scale."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
