"""Plumbing shared by the HTTP stand-ins: a threaded loopback server, a request log, scripted faults, bearer
token checks and the ``/_standin/...`` control API (so a stand-in started in another process can be driven too).

A service subclasses ``StandIn`` and implements ``handle`` (plus its own error bodies); everything else is here.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from .tokens import IssuedToken, TokenProblem, TokenRegistry, normalise_audience

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
CONTROL_PREFIX = "/_standin/"
# Request headers kept in the log. Authorization is reduced to its scheme and X-IDENTITY-HEADER to "***", so
# neither tokens nor secrets ever reach the log.
LOGGED_HEADERS = (
    "accept",
    "authorization",
    "client-request-id",
    "content-type",
    "if-match",
    "if-none-match",
    "mscrm.suppressduplicatedetection",
    "odata-maxversion",
    "odata-version",
    "prefer",
    "user-agent",
    "x-identity-header",
    "x-ms-client-request-id",
)

Listener = Callable[[str], None]
JSON = Any  # a json.loads() result


def require_loopback(host: str) -> None:
    """The stand-ins must never be reachable from another machine."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"stand-ins listen on loopback only ({', '.join(LOOPBACK_HOSTS)}), not {host!r}")


@dataclass
class Request:
    method: str
    path: str  # percent-decoded, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    principal: str | None = None  # set once a bearer token has identified the caller

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> JSON:
        """The body as JSON; raises ValueError when it is not."""
        return json.loads(self.body.decode("utf-8"))

    @property
    def bearer_token(self) -> str | None:
        scheme, _, value = self.header("authorization").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return value.strip() or None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: JSON, headers: dict[str, str] | None = None) -> Response:
        return cls(
            status,
            json.dumps(payload).encode("utf-8"),
            {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )


@dataclass(frozen=True)
class RecordedRequest:
    time: float
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # LOGGED_HEADERS only, secrets reduced
    body: JSON  # parsed JSON when possible, else text; secrets removed by the stand-in
    status: int
    principal: str | None
    fault: str | None  # the scripted fault that shaped the answer, if any

    def to_json(self) -> dict[str, JSON]:
        return asdict(self)


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler sleeping in a delay fault must not hold up stop()
    allow_reuse_address = True
    request_queue_size = 128  # the default backlog of 5 drops connections when a benchmark fans out

    def __init__(
        self, standin: StandIn, address: tuple[str, int], tls: ssl.SSLContext | None, reuse_port: bool
    ) -> None:
        self.allow_reuse_port = reuse_port  # read by server_bind()
        self.standin = standin
        self.tls = tls
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS handshakes happen here, in the connection's own thread, so a slow client never blocks accept().
        if self.tls is not None:
            try:
                request.settimeout(10)
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # e.g. the client does not trust the test CA; it reports that itself
        with self.connections_lock:
            self.connections.add(request)
        try:
            super().finish_request(request, client_address)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            pass
        finally:
            with self.connections_lock:
                self.connections.discard(request)
            if self.tls is not None:
                self.shutdown_request(request)

    def close_connections(self) -> None:
        """Drop kept-alive connections, so a stopped stand-in stops answering at once."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' sessions expect
    timeout = 60
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(parts.path),
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
        )
        response = self.server.standin.dispatch(request)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            self.close_connection = True  # the client gave up (e.g. timed out during a delay fault)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log replaces access logs (and never holds tokens)


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
        self._faults: list[Fault] = []
        self._listeners: list[Listener] = []
        self._in_flight = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self, (self.host, self._requested_port), self._tls, self._reuse_port)
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
        with self._lock:
            self._faults.append(fault)
        return fault

    @property
    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

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
            return self._control(request)
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            over_limit = self.concurrency_limit is not None and self._in_flight > self.concurrency_limit
            fault = None if over_limit else self._take_fault(request)
            self._changed.notify_all()  # wait_for() callers may be watching peak_in_flight
        try:
            if over_limit:
                response, note = self.throttled(), "concurrency limit"
            elif fault is not None:
                note = fault.describe()
                if fault.delay:
                    self._stopping.wait(fault.delay)
                response = self._fault_response(fault) if fault.status else self._handle_safely(request)
            else:
                response, note = self._handle_safely(request), None
        finally:
            with self._lock:
                self._in_flight -= 1
        self._record(request, response, note)
        return response

    def _take_fault(self, request: Request) -> Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.matches(request):
                fault.times -= 1
                if fault.times == 0:
                    del self._faults[index]
                return fault
        return None

    def _fault_response(self, fault: Fault) -> Response:
        assert fault.status is not None
        if fault.body is not None:
            if isinstance(fault.body, str):
                response = Response(fault.status, fault.body.encode("utf-8"), {"Content-Type": "text/plain"})
            else:
                response = Response.json(fault.status, fault.body)
        elif fault.status == 401:
            response = self.unauthorized(TokenProblem.UNKNOWN)
        else:
            response = self.error_response(fault.status)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        response.headers.update(fault.headers)
        return response

    def _handle_safely(self, request: Request) -> Response:
        try:
            return self.handle(request)
        except Exception as exc:  # a stand-in bug should show up as a 500 and a traceback, not a hang
            traceback.print_exc()
            return self.error_response(500, f"stand-in error: {type(exc).__name__}")

    def _record(self, request: Request, response: Response, fault: str | None) -> None:
        headers = {name: request.headers[name] for name in LOGGED_HEADERS if name in request.headers}
        if "authorization" in headers:
            headers["authorization"] = headers["authorization"].split(" ", 1)[0]
        if "x-identity-header" in headers:
            headers["x-identity-header"] = "***"
        entry = RecordedRequest(
            time=time.time(),
            method=request.method,
            path=request.path,
            query=request.query,
            headers=headers,
            body=self.loggable_body(request),
            status=response.status,
            principal=request.principal,
            fault=fault,
        )
        with self._changed:
            self._requests.append(entry)
            self._changed.notify_all()

    def _control(self, request: Request) -> Response:
        action = request.path[len(CONTROL_PREFIX) :].strip("/")
        try:
            custom = self.control(request, action)
            if custom is not None:
                return custom
            if (request.method, action) == ("GET", "health"):
                return Response.json(200, {"name": self.name, "base_url": self.base_url})
            if (request.method, action) == ("GET", "requests"):
                return Response.json(200, {"requests": [entry.to_json() for entry in self.requests]})
            if action == "faults":
                if request.method == "POST":
                    data = request.json()
                    for item in data if isinstance(data, list) else [data]:
                        fault = Fault.from_json(item)
                        with self._lock:
                            self._faults.append(fault)
                elif request.method == "DELETE":
                    with self._lock:
                        self._faults.clear()
                return Response.json(200, {"faults": [fault.to_json() for fault in self.pending_faults]})
            if (request.method, action) == ("POST", "reset"):
                self.reset()
                return Response(204)
            if action == "config":
                if request.method == "POST":
                    with self._lock:
                        self.configure(dict(request.json()))
                return Response.json(200, {"config": self.config_snapshot()})
        except (ValueError, TypeError) as exc:
            return Response.json(400, {"error": f"{type(exc).__name__}: {exc}"})
        return Response.json(404, {"error": f"unknown control endpoint {request.method} {request.path}"})
