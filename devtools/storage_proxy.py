"""A counting HTTP/1.1 reverse proxy in front of one Azurite port, so storage operations are counted on the wire.

Used by the benchmark (bench/processing.py) and by the development host's polling tests. Why a proxy: the app's
table and queue clients are created inside ``leads/`` (which the benchmark must not change), Azurite is started
``--silent`` by devtools.azurite, and a monkeypatched SDK would count what the SDK *means* to send rather than
what reaches storage. A proxy sees every request, SDK retries included, from any process, and needs nothing from
the app but a connection string whose endpoints point at it.

It is deliberately minimal: loopback only, one upstream connection per client connection, requests and
responses relayed byte for byte (Content-Length or chunked bodies, keep-alive). Each exchange is logged as a
``StorageCall`` before its response is relayed, so a caller that has its answer also has the log entry.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.azurite import ACCOUNT

MAX_LINE = 65_536


@dataclass(frozen=True)
class StorageCall:
    """One request as storage saw it: no values, only what was asked and which properties were written."""

    time: float  # time.time() when the response arrived from Azurite
    service: str  # "table" or "queue"
    method: str
    path: str  # percent-decoded, account segment removed: "/leads1a2b(PartitionKey='ab',RowKey='ab…')"
    query: dict[str, list[str]]
    if_match: str | None
    status: int
    written: tuple[str, ...] = field(default=())  # table writes: property names in the body

    @property
    def operation(self) -> str:
        return operation_of(self)[0]

    @property
    def kind(self) -> str:
        """Read or write (a queue receive counts as a read)."""
        return operation_of(self)[1]

    @property
    def conditional(self) -> bool:
        """A write that only succeeds if the entity is unchanged (If-Match with a real ETag, not ``*``)."""
        return self.if_match not in (None, "*")


def operation_of(call: StorageCall) -> tuple[str, str]:
    """What a request does, in the Storage REST API's terms, and whether it reads or writes."""
    method = call.method
    segments = [segment for segment in call.path.split("/") if segment]
    if call.service == "table":
        first = segments[0] if segments else ""
        if first.lower().startswith("tables"):
            return {"POST": ("create table", "write"), "DELETE": ("delete table", "write")}.get(
                method, ("list tables", "read")
            )
        if first == "$batch":
            return "entity batch", "write"
        if "(" in first and first.rstrip(")").split("(", 1)[1]:  # name(PartitionKey=…,RowKey=…)
            return {
                "GET": ("get entity", "read"),
                "PATCH": ("merge entity", "write"),
                "MERGE": ("merge entity", "write"),
                "PUT": ("replace entity", "write"),
                "DELETE": ("delete entity", "write"),
            }.get(method, (f"{method} entity", "write"))
        return ("insert entity", "write") if method == "POST" else ("query entities", "read")
    # queue
    if len(segments) <= 1:
        if method == "PUT":
            return "create queue", "write"
        if method == "DELETE":
            return "delete queue", "write"
        return "get queue properties", "read"
    if len(segments) == 2:  # <queue>/messages
        if method == "POST":
            return "put message", "write"
        if method == "DELETE":
            return "clear messages", "write"
        return ("peek messages", "read") if "peekonly" in call.query else ("receive messages", "read")
    return {"DELETE": ("delete message", "write"), "PUT": ("update message", "write")}.get(
        method, (f"{method} message", "write")
    )


@dataclass
class _Message:
    start_line: bytes
    headers: dict[str, str]
    raw: bytes
    body: bytes

    @property
    def closes(self) -> bool:
        return self.headers.get("connection", "").lower() == "close" or self.start_line.startswith(b"HTTP/1.0")


def _read_message(stream: BinaryIO, request_method: str | None = None) -> _Message | None:
    """One HTTP message (a request, or the response to ``request_method``) exactly as sent; None at EOF."""
    line = stream.readline(MAX_LINE)
    while line in (b"\r\n", b"\n"):  # tolerated between messages
        line = stream.readline(MAX_LINE)
    if not line:
        return None
    raw = bytearray(line)
    headers: dict[str, str] = {}
    while True:
        header = stream.readline(MAX_LINE)
        if not header:
            raise ConnectionError("connection closed inside a message head")
        raw += header
        if header in (b"\r\n", b"\n"):
            break
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = bytearray()
    status = int(line.split()[1]) if request_method is not None else None
    if status is not None and (request_method == "HEAD" or status in (204, 304) or status < 200):
        pass  # no body, whatever the headers say
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = stream.readline(MAX_LINE)
            raw += size_line
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (trailer := stream.readline(MAX_LINE)) not in (b"\r\n", b"\n", b""):
                    raw += trailer
                raw += b"\r\n"
                break
            chunk = stream.read(size + 2)  # data + CRLF
            raw += chunk
            body += chunk[:size]
    elif "content-length" in headers:
        data = stream.read(int(headers["content-length"]))
        raw += data
        body += data
    elif status is not None:  # a response delimited by closing the connection
        data = stream.read()
        raw += data
        body += data
        headers["connection"] = "close"
    return _Message(line, headers, bytes(raw), bytes(body))


def _written_properties(body: bytes) -> tuple[str, ...]:
    """Property names of a table entity body (keys and OData annotations left out); () if it is not one."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        return ()
    if not isinstance(document, dict):
        return ()
    return tuple(
        name for name in document if "@odata" not in name and name not in ("PartitionKey", "RowKey", "TableName")
    )


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        proxy = self.server.proxy
        client: socket.socket = self.request
        client.settimeout(120)
        with socket.create_connection(("127.0.0.1", proxy.upstream_port), timeout=120) as upstream:
            client_in = client.makefile("rb")
            upstream_in = upstream.makefile("rb")
            while True:
                request = _read_message(client_in)
                if request is None:
                    return
                upstream.sendall(request.raw)
                method, target = request.start_line.decode("latin-1").split()[:2]
                response = _read_message(upstream_in, method)
                if response is None:
                    return
                proxy.record(method, target, request, response)
                if (lost := proxy.take_lost_answer(method, target)) is not None:
                    response = lost  # storage acted on the request; its answer never arrives
                client.sendall(response.raw)
                if request.closes or response.closes:
                    return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    proxy: CountingProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client closing its kept-alive connection mid-read is normal; failed requests show in the caller


class CountingProxy:
    """``CountingProxy("table", azurite.table_port).start()``; point the app at ``port``; read ``take()``."""

    def __init__(self, service: str, upstream_port: int) -> None:
        self.service = service
        self.upstream_port = upstream_port
        self._calls: list[StorageCall] = []
        self._lock = threading.Lock()
        self._lost_answers: list[tuple[str, str, int]] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def lose_answer(self, method: str, path_part: str, status: int = 500) -> None:
        """The next ``method`` request whose path contains ``path_part`` reaches storage and takes effect, but the
        client is answered ``status`` instead (a gateway's 500, as when an answer is lost): the SDK then retries."""
        with self._lock:
            self._lost_answers.append((method, path_part, status))

    def take_lost_answer(self, method: str, target: str) -> _Message | None:
        path = unquote(urlsplit(target).path)
        with self._lock:
            for index, (wanted, part, status) in enumerate(self._lost_answers):
                if wanted == method and part in path:
                    del self._lost_answers[index]
                    body = b'{"odata.error":{"code":"InternalError","message":{"value":"answer lost"}}}'
                    head = (
                        f"HTTP/1.1 {status} Internal Server Error\r\nContent-Type: application/json\r\n"
                        f"x-ms-error-code: InternalError\r\nContent-Length: {len(body)}\r\n\r\n"
                    )
                    return _Message(head.encode().split(b"\r\n")[0] + b"\r\n", {}, head.encode() + body, body)
        return None

    def take(self) -> list[StorageCall]:
        """The calls logged since the last take()."""
        with self._lock:
            calls, self._calls = self._calls, []
        return calls

    def record(self, method: str, target: str, request: _Message, response: _Message) -> None:
        url = urlsplit(target)
        path = unquote(url.path)
        prefix = f"/{ACCOUNT}"
        if path.startswith(prefix):
            path = path[len(prefix) :] or "/"
        operation_status = int(response.start_line.split()[1])
        written = _written_properties(request.body) if self.service == "table" and method != "GET" else ()
        call = StorageCall(
            time=time.time(),
            service=self.service,
            method=method,
            path=path,
            query=parse_qs(url.query),
            if_match=request.headers.get("if-match"),
            status=operation_status,
            written=written,
        )
        with self._lock:
            self._calls.append(call)
