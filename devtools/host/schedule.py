"""NCRONTAB timer schedules, as the Functions timer trigger reads them; croniter computes the occurrences."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from croniter import DAY_FIELD, HOUR_FIELD, MINUTE_FIELD, MONTH_FIELD, SECOND_FIELD, CroniterBadDateError, croniter
from croniter.croniter import DOW_ALPHAS, DOW_FIELD, M_ALPHAS

# NCRONTAB's field order, with croniter's index for each field (croniter keeps the second last).
_FIELDS = (
    ("second", SECOND_FIELD),
    ("minute", MINUTE_FIELD),
    ("hour", HOUR_FIELD),
    ("day", DAY_FIELD),
    ("month", MONTH_FIELD),
    ("day-of-week", DOW_FIELD),
)
_NAMES = {MONTH_FIELD: M_ALPHAS, DOW_FIELD: DOW_ALPHAS}
# NCRONTAB's grammar for one comma-separated part: `*`, a value or a range `a-b`, each with an optional step.
# croniter accepts more (L, W, #, ?, H, @daily, a year field, wrapping ranges, 7 for Sunday): refused here.
_PART = re.compile(r"(?:\*|(\w+)(?:-(\w+))?)(?:/(\d+))?", re.ASCII)
_GIVE_UP_AFTER_YEARS = 30  # a schedule with no occurrence in this long never fires (30 February)


class CronSchedule:
    """NCRONTAB as the Functions timer reads it: ``{second} {minute} {hour} {day} {month} {day-of-week}`` with
    ``*``, numbers, names, ``a-b``, ``a,b`` and steps ``*/n``, ``a-b/n``, ``a/n``; five fields mean second 0.
    Day of month and day of week must both match (unlike Unix cron)."""

    def __init__(self, expression: str) -> None:
        fields = expression.split()
        if len(fields) == 5:
            fields.insert(0, "0")
        if len(fields) != 6:
            raise ValueError(f"{expression!r}: expected six fields ({' '.join(name for name, _ in _FIELDS)})")
        self.expression = expression
        fields_for_croniter = (_ncrontab_field(text, *field) for text, field in zip(fields, _FIELDS, strict=True))
        self._for_croniter = " ".join(fields_for_croniter)
        expanded = self._croniter(datetime(2000, 1, 1, tzinfo=UTC)).expanded
        self.seconds, self.minutes, self.hours, self.days, self.months, self.weekdays = (
            _field_values(expanded[index], index) for _, index in _FIELDS
        )
        self.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # fails now for a schedule that never fires (30 Feb)

    def __str__(self) -> str:
        return self.expression

    def _croniter(self, start: datetime) -> croniter[datetime]:
        return croniter(
            self._for_croniter,
            start,
            ret_type=datetime,
            day_or=False,  # NCRONTAB: the day of month and the day of week must both match
            second_at_beginning=True,
            max_years_between_matches=_GIVE_UP_AFTER_YEARS,
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence after the moment's whole second, in UTC."""
        try:
            return self._croniter(moment.astimezone(UTC).replace(microsecond=0)).get_next()
        except CroniterBadDateError:
            raise ValueError(f"{self.expression!r} never fires") from None


def _ncrontab_field(text: str, name: str, index: int) -> str:
    """The field for croniter, names replaced by numbers; ValueError for what NCRONTAB refuses."""
    low, high = croniter.RANGES[index]
    parts = []
    for part in text.split(","):
        match = _PART.fullmatch(part)
        if not match:
            raise ValueError(f"{part!r} is not a valid {name}")
        first, last, step = match.groups()
        if step is not None and int(step) == 0:
            raise ValueError(f"{part!r}: the step of the {name} field must be a positive number")
        if first is None:  # `*`
            parts.append(part)
            continue
        start = _value(first, name, index)
        end = _value(last, name, index) if last else start
        if not low <= start <= end <= high:
            raise ValueError(f"{part!r}: the {name} field takes {low}-{high}")
        if last is not None and end == start:  # croniter reads `a-a` as the whole field, NCRONTAB as just a
            parts.append(str(start))
        else:
            parts.append((f"{start}-{end}" if last else str(start)) + (f"/{step}" if step else ""))
    return ",".join(parts)


def _value(token: str, name: str, index: int) -> int:
    names = _NAMES.get(index, {})
    if token.isdigit():
        return int(token)
    if token[:3].lower() in names:  # NCRONTAB reads the first three letters: Mon, Monday
        return names[token[:3].lower()]
    raise ValueError(f"{token!r} is not a valid {name}")


def _field_values(expanded: list[str], index: int) -> frozenset[int]:
    low, high = croniter.RANGES[index]
    return frozenset(range(low, high + 1)) if expanded == ["*"] else frozenset(int(value) for value in expanded)
