"""Scripted faults: what a stand-in does to the next matching requests instead of (or before) answering them."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

from .messages import JSON, Request, Response


@dataclass
class Fault:
    """What to do to the next ``times`` requests matching ``method`` and ``path`` (a regex searched in the path).

    ``status`` None with a ``delay`` only slows the request down (e.g. past a client timeout) and then answers
    normally. ``body`` None uses the service's own error body for ``status``.
    """

    status: int | None = None
    body: JSON = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    delay: float = 0.0
    times: int = 1
    method: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if self.times < 1:
            raise ValueError("times must be at least 1")
        if self.status is None and not self.delay:
            raise ValueError("a fault needs a status, a delay, or both")
        if self.path is not None:
            re.compile(self.path)

    def matches(self, request: Request) -> bool:
        if self.method and self.method.upper() != request.method:
            return False
        return self.path is None or re.search(self.path, request.path) is not None

    def describe(self) -> str:
        parts = [f"status {self.status}" if self.status else "no status"]
        if self.retry_after is not None:
            parts.append(f"Retry-After {self.retry_after}")
        if self.delay:
            parts.append(f"delay {self.delay}s")
        return ", ".join(parts)

    def to_json(self) -> dict[str, JSON]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: JSON) -> Fault:
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)


class FaultScript:
    """One stand-in's pending faults, guarded by that stand-in's lock."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, request: Request) -> Fault | None:
        """The first fault matching ``request``, counted as used once."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(request):
                    fault.times -= 1
                    if fault.times == 0:
                        del self._faults[index]
                    return fault
        return None


def scripted_response(fault: Fault, service_error: Callable[[int], Response]) -> Response:
    """The answer ``fault`` scripts; ``service_error`` gives the service's own error response for a status."""
    assert fault.status is not None
    if fault.body is not None:
        if isinstance(fault.body, str):
            response = Response(fault.status, fault.body.encode("utf-8"), {"Content-Type": "text/plain"})
        else:
            response = Response.json(fault.status, fault.body)
    else:
        response = service_error(fault.status)
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    response.headers.update(fault.headers)
    return response
