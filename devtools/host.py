"""A small local development host for this Functions app: ``python -m leads serve`` (or ``python -m devtools.host``).

Core Tools can't be installed on our machines, so this serves ``function_app.py`` with ``host.json`` as ``func start``
would: HTTP triggers at ``/api/<route>`` (keys not checked), Storage queue triggers with the Queues extension's
``host.json`` semantics, and NCRONTAB timer triggers in UTC. Anything else is refused at startup. Unlike the real
host: a wrong method gets 405 (not 404), missing queues are created, and there is no functionTimeout or schedule
monitor (``past_due`` is set only when an invocation overran the next occurrence).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import inspect
import json
import logging
import math
import os
import re
import runpy
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

import azure.functions as func
from azure.core.exceptions import AzureError, ResourceExistsError
from azure.functions.queue import QueueMessage as TriggerMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue import LinearRetry, QueueClient, QueueMessage

log = logging.getLogger("devtools.host")

DEFAULT_PORT = 7071  # func start's default
LOCK_TIMEOUT = 600.0  # the Queues extension receives with a 10-minute visibility timeout, renewed at half-life
MIN_POLLING_INTERVAL = 0.1
LOCAL_MAX_POLLING_INTERVAL = 2.0  # func start ("Development") replaces the 1-minute default with 2 s


class HostError(Exception):
    """A problem the developer must fix before the app can run (settings, host.json, bindings); says which."""


# Settings and host.json ------------------------------------------------------------------------------------------


def find_settings_file(app_dir: Path, explicit: str | Path | None = None) -> tuple[Path | None, str | None]:
    """The settings file to use and a note to print about it: ``local.settings.json``, else the sample."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise HostError(f"settings file {explicit} not found")
        return Path(explicit), None
    path, sample = app_dir / "local.settings.json", app_dir / "local.settings.sample.json"
    if path.is_file():
        return path, None
    if sample.is_file():
        return sample, f"note: {path.name} not found, using {sample.name} (copy it to {path.name} to change settings)"
    return None, f"note: no {path.name} in {app_dir}; using the environment only"


def load_settings(path: Path, environ: MutableMapping[str, str] | None = None) -> dict[str, Any]:
    """Put the file's ``Values`` in the environment without overriding what is set (as func does); the file."""
    environ = os.environ if environ is None else environ
    document = read_host_json(path)
    for name, value in (document.get("Values") or {}).items():
        if not isinstance(value, str):
            raise HostError(f"settings file {path}: Values.{name} must be a string (got {json.dumps(value)})")
        environ.setdefault(name, value)
    return document


def read_host_json(path: Path) -> dict[str, Any]:
    """A JSON file's object (host.json, and local.settings.json too)."""
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise HostError(f"cannot read {path}: {exc}") from exc
    return document


def _lower_keys(section: Any) -> dict[str, Any]:
    """A host.json object with lower-cased keys (.NET configuration keys are case-insensitive)."""
    return {str(key).lower(): value for key, value in section.items()} if isinstance(section, dict) else {}


@dataclass(frozen=True)
class QueueOptions:
    """``host.json`` ``extensions.queues``, with the Queues extension's defaults and limits."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = LOCAL_MAX_POLLING_INTERVAL
    message_encoding: str = "base64"

    @property
    def concurrency(self) -> int:
        return self.batch_size + self.new_batch_threshold

    @classmethod
    def from_host_json(cls, host_json: Mapping[str, Any]) -> QueueOptions:
        queues = _lower_keys(_lower_keys(_lower_keys(host_json).get("extensions")).get("queues"))

        def invalid(name: str, expected: str) -> HostError:
            got = json.dumps(queues.get(name.lower()))
            return HostError(f"host.json extensions.queues.{name} must be {expected} (got {got})")

        def integer(name: str, default: int, low: int, high: int) -> int:
            value = queues.get(name.lower(), default)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise invalid(name, f"an integer from {low} to {high}")
            return value

        def timespan(name: str, default: float, low: float) -> float:
            text = queues.get(name.lower())
            if text is None:
                return default
            # A .NET TimeSpan, [d.]hh:mm[:ss[.fff]] (a number would be read as days).
            match = re.fullmatch(r"(?:(\d+)\.)?(\d+):(\d+)(?::(\d+(?:\.\d+)?))?", str(text).strip())
            if isinstance(text, str) and match:
                days, hours, minutes, seconds = match.groups()
                total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds or 0)
                if total >= low:
                    return total
            raise invalid(name, f'a TimeSpan like "00:00:30", at least {low} s')

        batch_size = integer("batchSize", 16, 1, 32)
        encoding = str(queues.get("messageencoding", "base64")).lower()
        if encoding not in ("base64", "none"):
            raise invalid("messageEncoding", '"base64" or "none"')
        return cls(
            batch_size=batch_size,
            # Unset: batchSize/2 × processor count, as the extension computes it on this machine.
            new_batch_threshold=integer("newBatchThreshold", batch_size // 2 * (os.cpu_count() or 1), 0, 10_000),
            max_dequeue_count=integer("maxDequeueCount", 5, 1, 10_000),
            visibility_timeout=timespan("visibilityTimeout", 0.0, 0.0),
            # Only the default is shortened locally: an explicit value is honoured (extension 5.x, "Development").
            max_polling_interval=timespan("maxPollingInterval", LOCAL_MAX_POLLING_INTERVAL, MIN_POLLING_INTERVAL),
            message_encoding=encoding,
        )


# Timer schedules -------------------------------------------------------------------------------------------------

_CRON_FIELDS = ("second", "minute", "hour", "day", "month", "day-of-week")
_CRON_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_CRON_NAMES = {
    "month": ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    "day-of-week": ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
}


class CronSchedule:
    """NCRONTAB as the Functions timer reads it: ``{second} {minute} {hour} {day} {month} {day-of-week}`` with
    ``*``, numbers, names, ``a-b``, ``a,b`` and steps ``*/n``, ``a-b/n``, ``a/n``; five fields mean second 0.
    Day of month and day of week must both match (unlike Unix cron)."""

    def __init__(self, expression: str) -> None:
        fields = expression.split()
        if len(fields) == 5:
            fields.insert(0, "0")
        if len(fields) != 6:
            raise ValueError(f"{expression!r}: expected six fields ({' '.join(_CRON_FIELDS)})")
        self.expression = expression
        parsed = [self._field(*field) for field in zip(fields, _CRON_FIELDS, _CRON_RANGES, strict=True)]
        self.seconds, self.minutes, self.hours, self.days, self.months, self.weekdays = parsed
        self.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # fails now for a schedule that never fires (30 Feb)

    def __str__(self) -> str:
        return self.expression

    @staticmethod
    def _field(text: str, name: str, bounds: tuple[int, int]) -> frozenset[int]:
        low, high = bounds
        names = _CRON_NAMES.get(name, ())

        def value(part: str) -> int:
            if not part.isdigit() and part[:3].lower() not in names:
                raise ValueError(f"{part!r} is not a valid {name}")
            return int(part) if part.isdigit() else names.index(part[:3].lower()) + low

        values: set[int] = set()
        for part in text.split(","):
            span, slash, step = part.partition("/")
            if slash and (not step.isdigit() or int(step) == 0):
                raise ValueError(f"{part!r}: the step of the {name} field must be a positive number")
            if span == "*":
                start, end = low, high
            elif "-" in span:
                first, _, last = span.partition("-")
                start, end = value(first), value(last)
            else:
                start = value(span)
                end = high if slash else start  # NCRONTAB reads "5/15" as "5-max/15"
            if not low <= start <= end <= high:
                raise ValueError(f"{part!r}: the {name} field takes {low}-{high}")
            values.update(range(start, end + 1, int(step) if slash else 1))
        return frozenset(values)

    def next_after(self, moment: datetime) -> datetime:
        t = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        give_up = t.year + 30
        while t.year <= give_up:
            if t.month not in self.months:
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = t.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
            elif t.day not in self.days or (t.weekday() + 1) % 7 not in self.weekdays:
                t = t.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t = t.replace(second=0) + timedelta(minutes=1)
            elif t.second not in self.seconds:
                t += timedelta(seconds=1)
            else:
                return t
        raise ValueError(f"{self.expression!r} never fires")


# The app's functions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    """One function of the app and its trigger, with ``%NAME%`` settings resolved."""

    name: str
    func: Callable[..., Any]
    arg_name: str
    kind: str  # httpTrigger, queueTrigger or timerTrigger
    route: str = ""
    methods: tuple[str, ...] = ()  # empty: any
    queue_name: str = ""
    connection: str = ""  # the storage connection string
    schedule: CronSchedule | None = None
    run_on_startup: bool = False

    def describe(self, base_url: str) -> str:
        if self.kind == "httpTrigger":
            return f"{','.join(self.methods) or 'ANY'} {base_url}/api/{self.route}"
        if self.kind == "queueTrigger":
            return f"queue {self.queue_name}"
        return f"timer {self.schedule}" + (" (runOnStartup)" if self.run_on_startup else "")


def import_app(app_dir: Path) -> Any:
    """Run ``function_app.py`` from the app dir (afresh, as module ``function_app``) and return its ``app``."""
    source = app_dir / "function_app.py"
    if not source.is_file():
        raise HostError(f"{source} not found (the app dir must hold function_app.py and host.json)")
    if str(app_dir) not in sys.path:
        sys.path.append(str(app_dir))  # the app's own packages import from its root
    app = runpy.run_path(str(source), run_name="function_app").get("app")
    if not isinstance(app, func.FunctionApp):
        raise HostError(f"{source} must define app = func.FunctionApp(...)")
    return app


def discover_functions(app: Any, environ: Mapping[str, str] | None = None) -> list[Function]:
    """The app's functions; a ``HostError`` lists every one this host can't serve, and why."""
    environ = os.environ if environ is None else environ
    functions, problems = [], []
    for function in app.get_functions():  # call once: a second call fails the app's duplicate-name check
        try:
            functions.append(_function(function, environ))
        except ValueError as exc:
            problems.append(f"  - function {function.get_function_name()!r}: {exc}")
    if problems:
        raise HostError("cannot host this app:\n" + "\n".join(problems))
    return functions


def _function(function: Any, environ: Mapping[str, str]) -> Function:
    name = str(function.get_function_name())
    bindings: list[dict[str, Any]] = json.loads(function.get_function_json())["bindings"]
    triggers = [b for b in bindings if str(b.get("type")).endswith("Trigger")]
    kind = ", ".join(str(b.get("type")) for b in triggers) or "none"
    others = [f"{b.get('type')} {b.get('name')!r}" for b in bindings if b not in triggers and b.get("type") != "http"]
    if kind not in ("httpTrigger", "queueTrigger", "timerTrigger"):
        raise ValueError(f"trigger {kind} is not supported by the local host (only http, queue and timer triggers)")
    if function.get_setting("retry_policy") is not None:
        raise ValueError("@app.retry policies are not supported by the local host")
    if others:
        raise ValueError(f"binding {', '.join(others)} is not supported by the local host (only the trigger)")
    try:  # %NAME% in a binding property is the app setting NAME
        trigger = {
            k: re.sub("%([^%]+)%", lambda m: environ[m[1]], v) if isinstance(v, str) else v
            for k, v in triggers[0].items()
        }
    except KeyError as exc:
        missing = exc.args[0]
        raise ValueError(f"app setting {missing!r} (used as %{missing}%) is not set in local.settings.json") from None
    user_function, arg_name = function.get_user_function(), str(trigger["name"])
    parameters = inspect.signature(user_function).parameters
    extra = [p.name for p in parameters.values() if p.name != arg_name and p.default is inspect.Parameter.empty]
    if extra or arg_name not in parameters:
        wrong = f"parameter {extra[0]!r}" if extra else f"no parameter {arg_name!r}"
        raise ValueError(f"{wrong}: the local host passes only the trigger argument {arg_name!r} (no context)")
    common = (name, user_function, arg_name, kind)
    if kind == "httpTrigger":
        methods = tuple(str(method).upper() for method in trigger.get("methods") or ())
        return Function(*common, route=str(trigger.get("route") or name).strip("/"), methods=methods)
    if kind == "queueTrigger":
        setting = str(trigger.get("connection") or "AzureWebJobsStorage")
        connection = environ.get(f"AzureWebJobs{setting}") or environ.get(setting)  # where the host looks
        if not connection:
            raise ValueError(f"connection setting {setting!r} is not set (UseDevelopmentStorage=true for Azurite)")
        return Function(*common, queue_name=str(trigger.get("queueName")).lower(), connection=connection)
    try:
        schedule = CronSchedule(str(trigger.get("schedule")))
    except ValueError as exc:
        raise ValueError(f"schedule {trigger.get('schedule')!r} is not valid: {exc}") from None
    return Function(*common, schedule=schedule, run_on_startup=bool(trigger.get("runOnStartup")))


# HTTP ------------------------------------------------------------------------------------------------------------


class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # http.server writes a response's head and body separately: with Nagle's algorithm the body would wait for
    # the client's delayed ACK (~40 ms a request on a kept-alive connection).
    disable_nagle_algorithm = True
    local: LocalHost  # set on the subclass LocalHost.start() makes

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


# Queues ----------------------------------------------------------------------------------------------------------


def decode_message(text: str, encoding: str) -> bytes | None:
    """A message's bytes as the trigger sees them; None if ``base64`` is expected and the text isn't base64."""
    if encoding == "none":
        return text.encode("utf-8")
    try:  # like .NET Convert.FromBase64String: whitespace ignored, padding required
        return base64.b64decode(re.sub(r"\s", "", text), validate=True)
    except ValueError:
        return None


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"


class _QueueListener:
    """Polls one queue for one function and settles its messages as the Queues extension 5.x does."""

    def __init__(self, local: LocalHost, function: Function, options: QueueOptions) -> None:
        self.local, self.function, self.options = local, function, options
        self.queue_name = function.queue_name
        try:
            self.client = self._client(self.queue_name)
            # No poison queue for a poison queue (or when the name would be too long), as in the extension.
            no_poison = self.queue_name.endswith("-poison") or len(self.queue_name) > 56
            self.poison = None if no_poison else self._client(f"{self.queue_name}-poison")
        except ValueError as exc:
            raise HostError(f"function {function.name!r}: not a valid storage connection string: {exc}") from None
        self._in_flight = 0
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._poll, name=f"queue-{function.name}", daemon=True)

    def _client(self, queue_name: str) -> QueueClient:
        # Few, short SDK retries: the poll loop backs off on its own while storage is down.
        retry = LinearRetry(backoff=1, retry_total=2, random_jitter_range=0)
        return QueueClient.from_connection_string(
            self.function.connection, queue_name, retry_policy=retry, connection_timeout=5, read_timeout=30
        )

    def start(self) -> None:
        with contextlib.suppress(AzureError):  # now, so that the queue exists once started; else after the outage
            self._create_queue(retry_total=0)
        self._thread.start()

    def _create_queue(self, **options: Any) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue(**options)

    def _poll(self) -> None:
        stopping, delay, outage = self.local.stopping, MIN_POLLING_INTERVAL, False
        while not stopping.is_set():
            try:
                if outage:  # the queue may have gone with the storage
                    self._create_queue()
                lock = math.ceil(self.local.lock_timeout)
                pages = self.client.receive_messages(messages_per_page=self.options.batch_size, visibility_timeout=lock)
                batch = list(next(pages.by_page(), []))  # one request: up to batchSize messages
                if outage:
                    log.info("queue %r reachable again", self.queue_name)
                outage = False
            except AzureError as exc:
                level = logging.DEBUG if outage else logging.WARNING
                log.log(level, "queue %r unreachable, retrying with back-off: %s", self.queue_name, _brief(exc))
                outage, batch = True, []
            if not batch:  # back off while the queue is empty or unreachable, up to maxPollingInterval
                stopping.wait(delay)
                delay = min(delay * 2, self.options.max_polling_interval)
                continue
            delay = MIN_POLLING_INTERVAL
            for message in batch:
                with self._changed:
                    self._in_flight += 1
                self.local.begin_work()
                threading.Thread(target=self._process, args=(message,), name=self._thread.name, daemon=True).start()
            with self._changed:  # receive again once in-flight drops to newBatchThreshold
                while self._in_flight > self.options.new_batch_threshold and not stopping.is_set():
                    self._changed.wait(0.5)

    def _process(self, message: QueueMessage) -> None:
        try:
            self._handle(message)
        except AzureError as exc:  # settling it failed: it becomes visible again when its lock expires
            log.warning("could not settle message %s on %r: %s", message.id, self.queue_name, _brief(exc))
        except Exception:
            log.exception("unexpected error processing message %s on %r", message.id, self.queue_name)
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()
            self.local.end_work()

    def _handle(self, message: QueueMessage) -> None:
        options, poison = self.options, self.poison
        text, count = str(message.content or ""), int(message.dequeue_count or 0)
        body = decode_message(text, options.message_encoding)
        # The poison queue gets the same content, encoded the same way (not valid base64: as received).
        content = base64.b64encode(body).decode() if body is not None and options.message_encoding == "base64" else text
        if body is None or (poison and count > options.max_dequeue_count):  # not base64, or its last try crashed
            problem = "is not valid base64" if body is None else f"was dequeued {count} times"
            where = f"moving it to {poison.queue_name!r}" if poison else "leaving it invisible"
            log.warning("message %s %s: %s without invoking %s", message.id, problem, where, self.function.name)
            if poison:
                self._move(message, str(message.pop_receipt), content, poison)
            return
        trigger = TriggerMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=count,
            pop_receipt=message.pop_receipt,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
        )
        succeeded, receipt = self._invoke_locked(message, trigger)
        if succeeded:
            self.client.delete_message(message.id, receipt)
        elif poison is None:
            log.warning("message %s failed on %r (no poison queue): it stays invisible", message.id, self.queue_name)
        elif count >= options.max_dequeue_count:  # that was the last attempt
            log.warning("message %s reached maxDequeueCount: moving it to %r", message.id, poison.queue_name)
            self._move(message, receipt, content, poison)
        else:
            self._update(message, receipt, int(options.visibility_timeout))

    def _invoke_locked(self, message: QueueMessage, trigger: TriggerMessage) -> tuple[bool, str]:
        """Invoke the function, renewing the message's invisibility at half-life meanwhile (the peek-lock).
        Whether it succeeded, and the message's latest pop receipt."""
        receipt, done = str(message.pop_receipt), threading.Event()

        def renew() -> None:
            nonlocal receipt
            while not done.wait(self.local.lock_timeout / 2):
                try:
                    receipt = self._update(message, receipt, math.ceil(self.local.lock_timeout))
                except AzureError as exc:
                    log.warning("could not renew the lock on message %s: %s", message.id, _brief(exc))

        renewer = threading.Thread(target=renew, name=f"renew-{message.id}", daemon=True)
        renewer.start()
        details = f"MessageId={message.id}, DequeueCount={trigger.dequeue_count}"
        succeeded, _ = self.local.invoke(self.function, trigger, details)
        done.set()
        renewer.join()  # a renewal in progress ends first, so that `receipt` is the latest
        return succeeded, receipt

    def _update(self, message: QueueMessage, receipt: str, visibility_timeout: int) -> str:
        return str(self.client.update_message(message.id, receipt, visibility_timeout=visibility_timeout).pop_receipt)

    def _move(self, message: QueueMessage, receipt: str, content: str, poison: QueueClient) -> None:
        with contextlib.suppress(ResourceExistsError):
            poison.create_queue()
        poison.send_message(content)
        self.client.delete_message(message.id, receipt)


# Timers ----------------------------------------------------------------------------------------------------------


class _TimerRunner:
    def __init__(self, local: LocalHost, function: Function, schedule: CronSchedule) -> None:
        self.local, self.function, self.schedule = local, function, schedule
        self._thread = threading.Thread(target=self._run, name=f"timer-{function.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _fire(self, past_due: bool) -> None:
        self.local.begin_work()
        try:
            self.local.invoke(self.function, TimerRequest(past_due=past_due), f"PastDue={past_due}")
        finally:
            self.local.end_work()

    def _run(self) -> None:
        stopping, anchor = self.local.stopping, datetime.now(UTC)
        if self.function.run_on_startup:
            self._fire(False)
        while not stopping.is_set():
            due = self.schedule.next_after(anchor)
            past_due = (datetime.now(UTC) - due).total_seconds() > 1.0  # the previous invocation overran it
            while not past_due and (wait := (due - datetime.now(UTC)).total_seconds()) > 0:
                if stopping.wait(wait):
                    return
            self._fire(past_due)
            anchor = datetime.now(UTC) if past_due else due  # missed occurrences are skipped, not replayed


# The host --------------------------------------------------------------------------------------------------------


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
        self._listeners: list[_QueueListener] = []
        self._timers: list[_TimerRunner] = []
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
            # Literal segments first, so that `things/special` wins over `things/{name}`.
            http = [f for f in self.functions if f.kind == "httpTrigger"]
            self.routes = sorted(http, key=lambda f: [segment.startswith("{") for segment in f.route.split("/")])
            handler = type("Handler", (_HttpHandler,), {"local": self})
            try:
                self._server = ThreadingHTTPServer((self.host, self.port), handler)
            except OSError as exc:
                raise HostError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
            self.port = self._server.server_address[1]
            threading.Thread(target=self._server.serve_forever, args=(0.1,), name="http", daemon=True).start()
            self._listeners = [_QueueListener(self, f, options) for f in self.functions if f.kind == "queueTrigger"]
            self._timers = [_TimerRunner(self, f, f.schedule) for f in self.functions if f.schedule]
            for listener in self._listeners:
                listener.start()
            for timer in self._timers:
                timer.start()
        except BaseException:
            self.stop(timeout=0)
            raise
        log.info("host started: %d function(s), listening on %s", len(self.functions), self.base_url)
        return self

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
        threads = [runner._thread for runner in self._listeners] + [runner._thread for runner in self._timers]
        for thread in filter(threading.Thread.is_alive, threads):  # pollers hand over what they received
            thread.join(max(0.0, deadline - time.monotonic()))
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
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with LocalHost(directory, host=host, port=port, host_json=host_json) as local:
            print(f"App dir:   {directory}", file=out)
            print(f"Settings:  {settings_path or '(none: environment only)'}", file=out)
            print(f"host.json: {local.host_json_path}", file=out)
            print("Functions:", *(f"    {line}" for line in local.describe()), sep="\n", file=out)
            print(f"Local development host listening on {local.base_url} (not func start); Ctrl+C stops it.", file=out)
            out.flush()
            while not stop_requested.wait(0.5):  # a timeout, so that the signal handler gets to run
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m leads serve",
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


if __name__ == "__main__":
    raise SystemExit(main())
