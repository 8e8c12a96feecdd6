"""``StandIn``, the base of every HTTP stand-in: lifecycle, the test API (request log, faults, reset, listeners),
the hooks a service overrides and the request path that ties them together.

A service subclasses ``StandIn`` and implements ``handle`` (plus its own error bodies); everything else is here.
"""

from __future__ import annotations

import ssl
import threading
import traceback
from collections.abc import Iterable
from typing import Self

from .control import CONTROL_PREFIX, ControlApi
from .faults import Fault, FaultScript, scripted_response
from .messages import JSON, Request, Response
from .observing import Listener, Waitable
from .recording import RecordedRequest, recorded
from .server import LoopbackServer, require_loopback
from .tokens import IssuedToken, TokenProblem, TokenRegistry, normalise_audience


class StandIn(Waitable):
    """Base of every HTTP stand-in. Thread-safe; ``start()`` binds the port at once so errors surface there."""

    name = "stand-in"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        tokens: TokenRegistry | None = None,
        concurrency_limit: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        require_loopback(host)
        self.host = host
        self.tokens = tokens if tokens is not None else TokenRegistry()
        self.concurrency_limit = concurrency_limit
        self.peak_in_flight = 0
        self._requested_port = port
        self._tls = tls
        self._reuse_port = reuse_port
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._requests: list[RecordedRequest] = []
        self._faults = FaultScript(self._lock)
        self._control_api = ControlApi(self, self._faults, self._lock)
        self._listeners: list[Listener] = []
        self._in_flight = 0
        self._stopping = threading.Event()
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = LoopbackServer(self, (self.host, self._requested_port), self._tls, self._reuse_port)
        # A short poll interval keeps stop() quick (serve_forever notices shutdown() only between polls).
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=f"{self.name}-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} stand-in is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self.host}:{self.port}"

    @property
    def control_url(self) -> str:
        return self.base_url + CONTROL_PREFIX.rstrip("/")

    # --- test API --------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def fail_next(
        self,
        status: int | None = None,
        *,
        body: JSON = None,
        headers: dict[str, str] | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """Script the answer to the next ``times`` matching requests, e.g. ``fail_next(429, retry_after=1)``."""
        fault = Fault(status, body, dict(headers or {}), retry_after, delay, times, method, path)
        self._faults.add(fault)
        return fault

    @property
    def pending_faults(self) -> list[Fault]:
        return self._faults.pending()

    def reset(self) -> None:
        """Forget requests and faults and restore the service's state (records, configuration)."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self.peak_in_flight = 0
            self.reset_state()
            self._changed.notify_all()

    def add_listener(self, listener: Listener) -> None:
        """Receive one-line events (ids only, no personal data), e.g. for a console."""
        self._listeners.append(listener)

    # --- hooks for services ----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        return self.error_response(404, f"No such resource: {request.path}")

    def error_response(self, status: int, message: str | None = None) -> Response:
        """The service's own error body for ``status``; services override this."""
        return Response.json(status, {"error": {"code": str(status), "message": message or "error"}})

    def unauthorized(self, problem: TokenProblem) -> Response:
        return self.error_response(401, f"Bearer token {problem.value}")

    def throttled(self) -> Response:
        """Answer to a request over ``concurrency_limit``."""
        return self.error_response(429, "Too many concurrent requests")

    def control(self, request: Request, action: str) -> Response | None:
        """Service-specific ``/_standin/<action>`` endpoints; None falls back to the shared ones."""
        return None

    def configure(self, changes: dict[str, JSON]) -> None:
        """Apply ``POST /_standin/config``; services override and raise ValueError for unknown keys."""
        if "concurrency_limit" in changes:
            limit = changes.pop("concurrency_limit")
            self.concurrency_limit = None if limit is None else int(limit)
        if changes:
            raise ValueError(f"unknown settings: {', '.join(sorted(changes))}")

    def config_snapshot(self) -> dict[str, JSON]:
        return {"concurrency_limit": self.concurrency_limit}

    def reset_state(self) -> None:
        """Called by reset() under the lock."""

    def loggable_body(self, request: Request) -> JSON:
        """The body as stored in the request log; services holding secrets in bodies override this."""
        if not request.body:
            return None
        try:
            return request.json()
        except ValueError:
            return request.body.decode("utf-8", "replace")

    # --- helpers for services --------------------------------------------------------------------

    def authenticate(self, request: Request, audiences: Iterable[str]) -> IssuedToken | Response:
        """The caller's token if valid for one of ``audiences``, else the service's 401 response."""
        token, problem = self.tokens.check(request.bearer_token, {normalise_audience(a) for a in audiences})
        if token is None or problem is not None:
            return self.unauthorized(problem or TokenProblem.UNKNOWN)
        request.principal = token.principal
        return token

    def emit(self, event: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(f"{self.name}: {event}")
            except Exception:  # a broken console must not break the stand-in
                traceback.print_exc()

    def notify(self) -> None:
        """Wake wait_for() callers after a state change outside the request path."""
        with self._changed:
            self._changed.notify_all()

    # --- request path ----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return self._control_api.answer(request)
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            over_limit = self.concurrency_limit is not None and self._in_flight > self.concurrency_limit
            fault = None if over_limit else self._faults.take(request)
            self._changed.notify_all()  # wait_for() callers may be watching peak_in_flight
        try:
            if over_limit:
                response, note = self.throttled(), "concurrency limit"
            elif fault is not None:
                note = fault.describe()
                if fault.delay:
                    self._stopping.wait(fault.delay)
                response = scripted_response(fault, self._fault_error) if fault.status else self._handle_safely(request)
            else:
                response, note = self._handle_safely(request), None
        finally:
            with self._lock:
                self._in_flight -= 1
        self._record(request, response, note)
        return response

    def _fault_error(self, status: int) -> Response:
        """The service's own answer to a scripted fault without a body."""
        return self.unauthorized(TokenProblem.UNKNOWN) if status == 401 else self.error_response(status)

    def _handle_safely(self, request: Request) -> Response:
        try:
            return self.handle(request)
        except Exception as exc:  # a stand-in bug should show up as a 500 and a traceback, not a hang
            traceback.print_exc()
            return self.error_response(500, f"stand-in error: {type(exc).__name__}")

    def _record(self, request: Request, response: Response, fault: str | None) -> None:
        entry = recorded(request, self.loggable_body(request), response.status, fault)
        with self._changed:
            self._requests.append(entry)
            self._changed.notify_all()
