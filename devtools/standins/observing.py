"""How tests and consoles follow a stand-in: one-line event listeners, and waiting for a state to be reached."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Listener = Callable[[str], None]


class Waitable:
    """A stand-in whose state tests can wait on: ``_changed`` is notified after every request."""

    _changed: threading.Condition

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate()`` holds; it is re-checked after every request. False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True
