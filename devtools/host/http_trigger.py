"""HTTP triggers: requests to ``/api/<route>`` become ``func.HttpRequest`` calls (keys are not checked)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import azure.functions as func

from devtools.host.config import LOGGER_NAME
from devtools.host.functions import Function, Invoker

log = logging.getLogger(LOGGER_NAME)


class HttpHost(Invoker, Protocol):
    """What the HTTP handler needs from the host besides invoking: the routes, most specific first."""

    routes: list[Function]

    @property
    def base_url(self) -> str: ...


def handler_for(local: HttpHost) -> type[BaseHTTPRequestHandler]:
    """A request handler class serving the host's HTTP functions (http.server makes one instance per request)."""
    return type("Handler", (_HttpHandler,), {"local": local})


def sort_routes(functions: list[Function]) -> list[Function]:
    """The HTTP functions, literal segments first, so that ``things/special`` wins over ``things/{name}``."""
    http = [f for f in functions if f.kind == "httpTrigger"]
    return sorted(http, key=lambda f: [segment.startswith("{") for segment in f.route.split("/")])


class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # http.server writes a response's head and body separately: with Nagle's algorithm the body would wait for
    # the client's delayed ACK (~40 ms a request on a kept-alive connection).
    disable_nagle_algorithm = True
    local: HttpHost  # set on the subclass handler_for() makes

    def do_GET(self) -> None:
        self.local.begin_work()  # so that stop() waits for this request
        try:
            self._dispatch()
        finally:
            self.local.end_work()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("http: %s %s -> %s", self.command, urlsplit(self.path).path, code)  # no query string (?code=)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)

    def _dispatch(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # read first: keep-alive stays in step
        url = urlsplit(self.path)
        path = [unquote(segment) for segment in url.path.split("/") if segment]
        matches = [(f, params) for f in self.local.routes if (params := _match(f.route, path)) is not None]
        allowed = [(f, params) for f, params in matches if not f.methods or self.command in f.methods]
        if not matches:
            self._reply_json(404, {"error": "not found"})
            return
        if not allowed:
            methods = sorted({method for f, _ in matches for method in f.methods})
            self._reply_json(405, {"error": "method not allowed", "allowed": methods}, {"Allow": ", ".join(methods)})
            return
        function, route_params = allowed[0]
        request = func.HttpRequest(
            method=self.command,
            url=f"http://{self.headers.get('Host') or self.local.base_url[7:]}{self.path}",
            headers={name.lower(): ", ".join(self.headers.get_all(name, [])) for name in self.headers},
            params={k: ",".join(v) for k, v in parse_qs(url.query, keep_blank_values=True).items()},
            route_params=route_params,
            body=body,
        )
        succeeded, result = self.local.invoke(function, request, f"Route={function.route}")
        self._reply_result(succeeded, result)

    def _reply_result(self, succeeded: bool, result: Any) -> None:
        if not succeeded:
            self._reply_json(500, {"error": "internal server error"})  # details are in the host's log only
        elif isinstance(result, str):
            self._reply(200, result.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        else:
            headers = dict(result.headers)
            if "content-type" not in result.headers:  # as the worker fills it in
                charset = f"; charset={result.charset}" if result.mimetype.startswith("text/") else ""
                headers["Content-Type"] = result.mimetype + charset
            self._reply(result.status_code, result.get_body() or b"", headers)

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _reply_json(self, status: int, document: Any, headers: Mapping[str, str] | None = None) -> None:
        self._reply(status, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})})


def _match(route: str, path: list[str]) -> dict[str, str] | None:
    """The route parameters if the path's segments are /api/<route>, else None. Case is ignored, as in ASP.NET."""
    template = ["api", *route.split("/")]
    if len(template) != len(path):
        return None
    pairs = list(zip(template, path, strict=True))
    if any(not t.startswith("{") and t.lower() != segment.lower() for t, segment in pairs):
        return None
    return {t[1:-1]: segment for t, segment in pairs if t.startswith("{")}
