"""The ``/_standin/...`` control API: health, the request log, faults, reset and configuration over HTTP, so a
stand-in started in another process can be driven too. Services add their own actions with ``StandIn.control``.
"""

from __future__ import annotations

import threading
from typing import Protocol

from .faults import Fault, FaultScript
from .messages import JSON, Request, Response
from .recording import RecordedRequest

CONTROL_PREFIX = "/_standin/"


class Controlled(Protocol):
    """What the control API drives: a stand-in (standin.py), taken through this rather than imported, since the
    stand-in creates its control API (importing it back would make an import circle)."""

    @property
    def name(self) -> str: ...

    @property
    def base_url(self) -> str: ...

    @property
    def requests(self) -> list[RecordedRequest]: ...

    @property
    def pending_faults(self) -> list[Fault]: ...

    def control(self, request: Request, action: str) -> Response | None: ...

    def reset(self) -> None: ...

    def configure(self, changes: dict[str, JSON]) -> None: ...

    def config_snapshot(self) -> dict[str, JSON]: ...


class ControlApi:
    def __init__(self, standin: Controlled, faults: FaultScript, lock: threading.RLock) -> None:
        self._standin = standin
        self._faults = faults
        self._lock = lock

    def answer(self, request: Request) -> Response:
        action = request.path[len(CONTROL_PREFIX) :].strip("/")
        try:
            response = self._standin.control(request, action)
            if response is None:
                response = self._shared(request, action)
        except (ValueError, TypeError) as exc:
            return Response.json(400, {"error": f"{type(exc).__name__}: {exc}"})
        if response is not None:
            return response
        return Response.json(404, {"error": f"unknown control endpoint {request.method} {request.path}"})

    def _shared(self, request: Request, action: str) -> Response | None:
        """The actions every stand-in has; None for an unknown one."""
        standin = self._standin
        if (request.method, action) == ("GET", "health"):
            return Response.json(200, {"name": standin.name, "base_url": standin.base_url})
        if (request.method, action) == ("GET", "requests"):
            return Response.json(200, {"requests": [entry.to_json() for entry in standin.requests]})
        if action == "faults":
            return self._script_faults(request)
        if (request.method, action) == ("POST", "reset"):
            standin.reset()
            return Response(204)
        if action == "config":
            if request.method == "POST":
                with self._lock:
                    standin.configure(dict(request.json()))
            return Response.json(200, {"config": standin.config_snapshot()})
        return None

    def _script_faults(self, request: Request) -> Response:
        """POST adds one fault or a list of them, DELETE drops them all; every method answers the pending ones."""
        if request.method == "POST":
            data = request.json()
            for item in data if isinstance(data, list) else [data]:
                self._faults.add(Fault.from_json(item))
        elif request.method == "DELETE":
            self._faults.clear()
        return Response.json(200, {"faults": [fault.to_json() for fault in self._standin.pending_faults]})
