"""The threaded loopback HTTP(S) server under every stand-in: it parses each request into a ``Request``, hands
it to the stand-in's ``dispatch`` and writes the ``Response`` back."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from .messages import Request, Response

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def require_loopback(host: str) -> None:
    """The stand-ins must never be reachable from another machine."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"stand-ins listen on loopback only ({', '.join(LOOPBACK_HOSTS)}), not {host!r}")


class Dispatcher(Protocol):
    def dispatch(self, request: Request) -> Response: ...


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler sleeping in a delay fault must not hold up stop()
    allow_reuse_address = True
    request_queue_size = 128  # the default backlog of 5 drops connections when a benchmark fans out

    def __init__(
        self, standin: Dispatcher, address: tuple[str, int], tls: ssl.SSLContext | None, reuse_port: bool
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
    server: LoopbackServer

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
