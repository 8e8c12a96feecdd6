"""A delivery's time budget. One delivery makes several requests (Dataverse up to five, Entra ID, Graph or SMTP,
Teams), and each may be retried after a back-off or a Retry-After of up to a minute; added up, that could outlast
the host's functionTimeout (host.json: 10 minutes), and the host would kill the invocation mid-send. So a delivery
runs ``within`` a budget: retries stop when their wait would pass it, a request's time-out never reaches past it,
and the steps stop starting new work once it is spent (OutOfTime: the queue delivers the lead again later).

The budget lives in a context variable: each invocation runs on a worker thread of its own, and the adapters
read it without being handed it. Outside a delivery (the commands, the tests) there is none. Pure: no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from leads.core.errors import OutOfTime

# Four minutes of work, then the queue: with what is already under way when it runs out (one request's connect and
# read time-outs, recording what was sent: steps/notify.py RECORD_PATIENCE), a delivery ends within about six
# minutes, well under functionTimeout (10 minutes).
DELIVERY_BUDGET_SECONDS = 240.0
MIN_REQUEST_SECONDS = 1.0  # a request started just before the end still gets this long

_ends_at: ContextVar[float | None] = ContextVar("delivery_ends_at", default=None)


@contextmanager
def within(seconds: float, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Run the block with ``seconds`` to spend (a budget already running stays in force if it ends sooner)."""
    ends_at = clock() + seconds
    running = _ends_at.get()
    token = _ends_at.set(ends_at if running is None else min(running, ends_at))
    try:
        yield
    finally:
        _ends_at.reset(token)


def remaining(clock: Callable[[], float] = time.monotonic) -> float | None:
    """Seconds left, None outside a budget."""
    ends_at = _ends_at.get()
    return None if ends_at is None else ends_at - clock()


def allows_wait(seconds: float) -> bool:
    """Whether waiting ``seconds`` (a back-off, a Retry-After) still leaves time to try again."""
    left = remaining()
    return left is None or seconds + MIN_REQUEST_SECONDS <= left


def capped(timeout: float) -> float:
    """A request's time-out, cut so it ends with the budget (never below MIN_REQUEST_SECONDS)."""
    left = remaining()
    return timeout if left is None else max(MIN_REQUEST_SECONDS, min(timeout, left))


def check(what: str) -> None:
    """OutOfTime when the budget is spent: ``what`` is the work that would have started."""
    left = remaining()
    if left is not None and left <= 0:
        raise OutOfTime(f"the delivery used its time budget before {what}; the queue delivers the lead again later")
