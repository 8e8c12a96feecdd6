"""A deterministic scheduler for interleaving the app's own code: each actor (a delivery, the poison handler, the
reconcile timer, a replay, the marketplace sending a lead again) runs in a thread of its own, and stops at every
call into storage or a service (a checkpoint). Exactly one actor runs at a time; the test decides which one goes
on next, which fault the next call meets, and when an actor crashes (it is stopped at a checkpoint and never
resumes, as a host that dies leaves a function). The same decisions give the same run, so Hypothesis can shrink a
failing run to the shortest schedule that still fails.

Only the doubles (tests/doubles.py) are wrapped; the steps run unchanged.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from leads.steps.notify import Due

_current = threading.local()


class Crash(BaseException):
    """Raised at a checkpoint to stop an actor where it stands: no `except Exception` of the app catches it."""


@dataclass
class Resumption:
    fault: str = ""  # what the call about to be made meets ("" none)
    crash: bool = False


class Actor:
    """One invocation of the app's code, run step by step."""

    def __init__(self, name: str, body: Callable[[], object], started_at: float) -> None:
        self.name = name
        self.body = body
        self.started_at = started_at
        self.kind = ""  # the checkpoint it waits at: read, write, dynamics, mail, teams, sleep
        self.done = False
        self.crashed = False
        self.outcome: object = None
        self.error: BaseException | None = None
        self.unrecorded: set[str] = set()  # messages sent whose record has not been written yet
        self._resumption = Resumption()
        self._go = threading.Semaphore(0)
        self._stopped = threading.Semaphore(0)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._stopped.acquire()

    def step(self, resumption: Resumption) -> None:
        self._resumption = resumption
        self._go.release()
        self._stopped.acquire()

    def finish_crashed(self) -> None:
        self.step(Resumption(crash=True))

    def checkpoint(self, kind: str) -> str:
        self.kind = kind
        self._stopped.release()
        self._go.acquire()
        if self._resumption.crash:
            raise Crash
        return self._resumption.fault

    def _run(self) -> None:
        _current.actor = self
        try:
            self.outcome = self.body()
        except Crash:
            self.crashed = True
        except BaseException as exc:
            self.error = exc
        finally:
            self.done = True
            self._stopped.release()


def checkpoint(kind: str) -> str:
    """Called by the wrapped doubles before each call: stop here until scheduled; the fault to play ("" none).
    Outside an actor (the test's own set-up and checks) nothing stops."""
    actor: Actor | None = getattr(_current, "actor", None)
    return actor.checkpoint(kind) if actor is not None else ""


def current_actor() -> Actor | None:
    return getattr(_current, "actor", None)


def message_being_delivered() -> str:
    """The entity field of the message being sent right now (NotifiedAt, TeamsAlertedAt…), read from the steps'
    own frame: how the recording services tell a lead's card from a failure card whatever their wording."""
    frame = sys._getframe(1)
    while frame is not None:
        message = frame.f_locals.get("message")
        if isinstance(message, Due):
            return message.field
        frame = frame.f_back  # type: ignore[assignment]
    raise AssertionError("a message was sent outside steps/notify.Delivery.send")


@dataclass
class Sent:
    """What actually went out, per message kind, and how many repeats the documented exceptions allow."""

    counts: dict[str, int] = field(default_factory=dict)
    allowed_repeats: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def allow_repeat(self, kind: str) -> None:
        self.allowed_repeats[kind] = self.allowed_repeats.get(kind, 0) + 1

    def over_the_limit(self, limits: dict[str, int]) -> dict[str, Any]:
        return {
            kind: (count, limits.get(kind, 1) + self.allowed_repeats.get(kind, 0))
            for kind, count in self.counts.items()
            if count > limits.get(kind, 1) + self.allowed_repeats.get(kind, 0)
        }
