"""The queue trigger's polling back-off, as the Queues extension computes it, so that the time a message waits in the
queue on this host is the time it would wait on the real one.

The extension's QueueListener (Microsoft.Azure.WebJobs.Extensions.Storage.Queues) polls again at once while it finds
messages. After an empty poll (or a storage error) it waits ``RandomizedExponentialBackoffStrategy(minimum=100 ms,
maximum=maxPollingInterval)``, whose delta is the minimum: the first empty poll after messages waits the minimum;
each further one waits ``minimum + uniform(0.8, 1.2) × 2^(n−1) × minimum`` (about 0.2, 0.3, 0.5, 0.9, 1.7, 3.3 s…)
until that reaches the maximum, which it then keeps. With a 1-minute maximum, a quiet queue is polled about once a
minute after roughly two minutes of silence.
"""

from __future__ import annotations

import random
from collections.abc import Callable

RANDOMIZATION_FACTOR = 0.2


class PollingBackoff:
    """``next_delay(found_messages)`` after each poll that found nothing: how long to wait before the next one."""

    def __init__(self, minimum: float, maximum: float, uniform: Callable[[], float] = random.random) -> None:
        if not 0 <= minimum <= maximum:
            raise ValueError(f"polling intervals must satisfy 0 <= minimum ({minimum}) <= maximum ({maximum})")
        self.minimum, self.maximum = minimum, maximum
        self._uniform = uniform  # in [0, 1): the extension's Random.NextDouble()
        self._current = 0.0
        self._exponent = 0

    def next_delay(self, found_messages: bool) -> float:
        """``found_messages``: whether any poll since the last delay found messages (which resets the back-off)."""
        if found_messages:
            self._current, self._exponent = self.minimum, 1
        elif self._current != self.maximum:
            interval = self.minimum
            if self._exponent > 0:
                factor = 1 - RANDOMIZATION_FACTOR + 2 * RANDOMIZATION_FACTOR * self._uniform()
                interval += factor * 2 ** (self._exponent - 1) * self.minimum
            if interval < self.maximum:
                self._current = interval
                self._exponent += 1
            else:
                self._current = self.maximum
        return self._current
