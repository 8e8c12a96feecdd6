"""Timer triggers on their NCRONTAB schedule, in UTC; missed occurrences are skipped, as the Functions host does."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from azure.functions.timer import TimerRequest

from devtools.host.functions import Function, Invoker
from devtools.host.schedule import CronSchedule


class TimerRunner:
    """Fires one timer function on its schedule (and first at startup with ``runOnStartup``) until the host stops."""

    def __init__(self, local: Invoker, function: Function, schedule: CronSchedule) -> None:
        self.local, self.function, self.schedule = local, function, schedule
        self._thread = threading.Thread(target=self._run, name=f"timer-{function.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the timer to end (after the host's ``stopping`` is set), with the invocation it was running."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _fire(self, past_due: bool) -> None:
        self.local.begin_work()
        try:
            self.local.invoke(self.function, TimerRequest(past_due=past_due), f"PastDue={past_due}")
        finally:
            self.local.end_work()

    def _run(self) -> None:
        stopping, anchor = self.local.stopping, datetime.now(UTC)
        if self.function.run_on_startup:
            self._fire(False)
        while not stopping.is_set():
            due = self.schedule.next_after(anchor)
            past_due = (datetime.now(UTC) - due).total_seconds() > 1.0  # the previous invocation overran it
            while not past_due and (wait := (due - datetime.now(UTC)).total_seconds()) > 0:
                if stopping.wait(wait):
                    return
            self._fire(past_due)
            anchor = datetime.now(UTC) if past_due else due  # missed occurrences are skipped, not replayed
