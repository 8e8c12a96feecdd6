"""The host itself (``LocalHost``) and its command line (``serve``, ``main``)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

import azure.functions as func

from devtools.host.config import (
    DEFAULT_PORT,
    LOCK_TIMEOUT,
    LOGGER_NAME,
    HostError,
    QueueOptions,
    find_settings_file,
    load_settings,
    read_host_json,
)
from devtools.host.functions import Function, discover_functions, import_app
from devtools.host.http_trigger import handler_for, sort_routes
from devtools.host.queue_trigger import QueueListener
from devtools.host.timer_trigger import TimerRunner

log = logging.getLogger(LOGGER_NAME)


class LocalHost:
    """The app's functions, served in this process. ``start()`` returns once listening (``port=0``: a free port,
    see ``base_url``); ``stop()`` stops HTTP, polling and timers, then waits for invocations in flight. Settings
    must be in the environment already (``load_settings``). Tests shorten ``lock_timeout``, the queue peek-lock."""

    def __init__(
        self,
        app_dir: str | Path = ".",
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        host_json: str | Path | None = None,
        lock_timeout: float = LOCK_TIMEOUT,
        shutdown_timeout: float = 30.0,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self.host_json_path = Path(host_json) if host_json is not None else self.app_dir / "host.json"
        self.host, self.port = host, port
        self.lock_timeout, self.shutdown_timeout = lock_timeout, shutdown_timeout
        self.functions: list[Function] = []
        self.routes: list[Function] = []
        self.stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._listeners: list[QueueListener] = []
        self._timers: list[TimerRunner] = []
        self._work = 0  # HTTP requests and invocations in flight
        self._work_changed = threading.Condition()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> LocalHost:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalHost:
        try:
            options = QueueOptions.from_host_json(read_host_json(self.host_json_path))
            self.functions = discover_functions(import_app(self.app_dir))
            self.routes = sort_routes(self.functions)
            self._listen()
            self._listeners = [QueueListener(self, f, options) for f in self.functions if f.kind == "queueTrigger"]
            self._timers = [TimerRunner(self, f, f.schedule) for f in self.functions if f.schedule]
            for runner in self._runners():
                runner.start()
        except BaseException:
            self.stop(timeout=0)
            raise
        log.info("host started: %d function(s), listening on %s", len(self.functions), self.base_url)
        return self

    def _listen(self) -> None:
        try:
            self._server = ThreadingHTTPServer((self.host, self.port), handler_for(self))
        except OSError as exc:
            raise HostError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.1,), name="http", daemon=True).start()

    def _runners(self) -> list[QueueListener | TimerRunner]:
        return [*self._listeners, *self._timers]

    def describe(self) -> list[str]:
        """One line per function, as func start prints them."""
        return [f"{f.name}: {f.describe(self.base_url)}" for f in self.functions]

    def stop(self, timeout: float | None = None) -> bool:
        """Stop HTTP, polling and timers; wait, at most the timeout, for what is in flight (False: still running)."""
        timeout = self.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for runner in self._runners():  # pollers hand over what they received
            runner.join(max(0.0, deadline - time.monotonic()))
        with self._work_changed:
            while self._work and (left := deadline - time.monotonic()) > 0:
                self._work_changed.wait(left)
            finished = self._work == 0
        if not finished:
            log.warning("stopped with %d invocation(s) still running after %.0f s", self._work, timeout)
        log.info("host stopped")
        return finished

    def begin_work(self) -> None:
        with self._work_changed:
            self._work += 1

    def end_work(self) -> None:
        with self._work_changed:
            self._work -= 1
            self._work_changed.notify_all()

    def invoke(self, function: Function, argument: Any, details: str) -> tuple[bool, Any]:
        """Call a function with its trigger argument; log its name, an id, the outcome and duration, never data."""
        name, invocation_id, started = function.name, uuid.uuid4(), time.monotonic()
        log.debug("Executing 'Functions.%s' (Id=%s, %s)", name, invocation_id, details)
        executed = "Executed 'Functions.%s' (%s, Id=%s, Duration=%.0fms, %s)"
        try:
            result = function.func(**{function.arg_name: argument})
            if function.kind == "httpTrigger" and not isinstance(result, func.HttpResponse | str):
                raise TypeError(f"HTTP function returned {type(result).__name__}; expected func.HttpResponse or str")
        except Exception:  # the traceback goes to the log only
            log.exception(executed, name, "Failed", invocation_id, (time.monotonic() - started) * 1000, details)
            return False, None
        log.info(executed, name, "Succeeded", invocation_id, (time.monotonic() - started) * 1000, details)
        return True, result


# Command line ----------------------------------------------------------------------------------------------------


def _configure_logging(verbose: bool) -> None:
    format = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=format, stream=sys.stderr)
    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDKs log every request at INFO
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def serve(
    app_dir: str | Path = ".",
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    settings: str | Path | None = None,
    host_json: str | Path | None = None,
    verbose: bool = False,
    out: TextIO | None = None,
) -> int:
    """Load settings, start the host, print what it serves, run until SIGINT/SIGTERM, stop gracefully."""
    out = out or sys.stdout
    _configure_logging(verbose)
    directory = Path(app_dir).resolve()
    settings_path, note = find_settings_file(directory, settings)
    if note:
        print(note, file=out)
    document = load_settings(settings_path) if settings_path else {}
    os.environ.setdefault("AZURE_FUNCTIONS_ENVIRONMENT", "Development")  # as func start sets it
    port = int(document.get("Host", {}).get("LocalHttpPort", DEFAULT_PORT)) if port is None else port
    with _stop_on_signals() as stop_requested, LocalHost(directory, host=host, port=port, host_json=host_json) as local:
        print(f"App dir:   {directory}", file=out)
        print(f"Settings:  {settings_path or '(none: environment only)'}", file=out)
        print(f"host.json: {local.host_json_path}", file=out)
        print("Functions:", *(f"    {line}" for line in local.describe()), sep="\n", file=out)
        print(f"Local development host listening on {local.base_url} (not func start); Ctrl+C stops it.", file=out)
        out.flush()
        while not stop_requested.wait(0.5):  # a timeout, so that the signal handler gets to run
            pass
    return 0


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGINT or SIGTERM sets (instead of interrupting), while in the block."""
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop_requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.host",
        description="Run the Functions app locally: a small development host serving function_app.py and host.json "
        "(HTTP, queue and timer triggers) for machines without Azure Functions Core Tools. Not for production; "
        "`func start` runs the same app.",
    )
    parser.add_argument("--app-dir", default=".", help="directory holding function_app.py and host.json (default: .)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (default: Host.LocalHttpPort in the settings, else 7071)")
    parser.add_argument("--settings", help="settings file (default: local.settings.json, else the sample)")
    parser.add_argument("--host-json", help="host.json to use (default: <app-dir>/host.json)")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    try:
        return serve(**vars(parser.parse_args(argv)))
    except HostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
