"""A delivery's time budget (core/deadline.py), with a clock the test moves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leads.adapters.webapi import TIMEOUT
from leads.core import deadline
from leads.core.errors import OutOfTime
from leads.steps.notify import RECORD_PATIENCE


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_outside_a_delivery_nothing_is_limited() -> None:
    assert deadline.remaining() is None and deadline.allows_wait(3600) and deadline.capped(30) == 30
    deadline.check("anything")


def test_within_a_budget_waits_and_timeouts_end_with_it() -> None:
    with deadline.within(10):
        assert 9 < (deadline.remaining() or 0) <= 10
        assert deadline.allows_wait(5) and not deadline.allows_wait(9.5)
        assert deadline.capped(30) <= 10 and deadline.capped(2) == 2
    assert deadline.remaining() is None  # the budget ends with the block


def test_a_spent_budget_stops_new_work_and_keeps_a_minimal_timeout() -> None:
    clock = Clock()
    with deadline.within(5, clock):
        clock.now += 6
        with pytest.raises(OutOfTime, match="before sending NotifiedAt"):
            deadline.check("sending NotifiedAt")
    with deadline.within(0):
        assert deadline.capped(30) == deadline.MIN_REQUEST_SECONDS


def test_an_inner_budget_never_extends_the_outer_one() -> None:
    with deadline.within(5), deadline.within(60):
        assert (deadline.remaining() or 0) <= 5


def test_the_budget_and_what_follows_it_stay_well_under_function_timeout(project_root: Path) -> None:
    hours, minutes, seconds = json.loads((project_root / "host.json").read_text())["functionTimeout"].split(":")
    function_timeout = int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    # What a spent budget can still be followed by: the request under way, recording what was sent.
    worst = deadline.DELIVERY_BUDGET_SECONDS + sum(TIMEOUT) + RECORD_PATIENCE.total_seconds()
    assert worst <= 0.6 * function_timeout
