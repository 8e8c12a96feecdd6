"""A small local development host for this Functions app: ``python -m leads serve`` (or ``python -m leads.host``).

Azure Functions Core Tools can't be installed on our machines, so this serves the same ``function_app.py`` and
``host.json`` as ``func start`` would, for local runs and end-to-end tests. It is deliberately small and readable,
not a production server and not a complete Functions host:

- HTTP triggers on a stdlib ``ThreadingHTTPServer`` (``/<routePrefix>/<route>``; keys are not checked locally).
- Storage queue triggers, polled with ``azure-storage-queue`` as the Queues extension 5.x does it
  (``host.json`` ``extensions.queues``: batchSize, newBatchThreshold, maxDequeueCount, visibilityTimeout,
  maxPollingInterval, messageEncoding; peek-lock with renewal; ``<queue>-poison``).
- Timer triggers with six-field NCRONTAB (or five-field, or a ``hh:mm:ss`` interval), in UTC; ``runOnStartup``.
- ``%NAME%`` app-setting expressions in binding properties; ``local.settings.json`` ``Values`` as environment.

Anything else (other triggers or bindings, a ``context`` parameter, ``@app.retry``) is refused at startup with a
message naming the function. Logs name functions, invocation ids, outcomes and durations, never request or message
bodies. Known differences from the real host: a known route with the wrong method answers 405 (the host: 404);
missing queues are created at startup; no functionTimeout, dynamic concurrency, timer singleton lock or schedule
monitor (``past_due`` is set only when an invocation overran the next occurrence); one thread per in-flight
message, at most batchSize + newBatchThreshold per queue function.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import importlib.util
import inspect
import json
import logging
import math
import os
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

import azure.functions as func
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as FunctionsQueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue import LinearRetry, QueueClient, QueueMessage

log = logging.getLogger("leads.host")

DEFAULT_PORT = 7071  # func start's default
MAX_REQUEST_BYTES = 100 * 1024 * 1024  # the real front end's limit
LOCK_TIMEOUT = 600.0  # the Queues extension receives with a 10-minute visibility timeout, renewed at half-life
MIN_POLLING_INTERVAL = 0.1
LOCAL_MAX_POLLING_INTERVAL = 2.0  # func start ("Development") replaces the 1-minute default with 2 s
_SETTING_EXPRESSION = re.compile(r"%([^%]+)%")
_QUEUE_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class HostError(Exception):
    """A problem the developer must fix before the app can run (settings, host.json, bindings); says which."""


# ----------------------------------------------------------------------------------------------------------------
# Settings and host.json


def find_settings_file(app_dir: Path, explicit: str | Path | None = None) -> tuple[Path | None, str | None]:
    """The settings file to use and a note to print about it: ``local.settings.json``, else the sample."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise HostError(f"settings file {path} not found")
        return path, None
    path = app_dir / "local.settings.json"
    if path.is_file():
        return path, None
    sample = app_dir / "local.settings.sample.json"
    if sample.is_file():
        return sample, f"note: {path.name} not found, using {sample.name} (copy it to {path.name} to change settings)"
    return None, f"note: no {path.name} in {app_dir}; using the environment only"


def load_settings(path: Path, environ: MutableMapping[str, str] | None = None) -> dict[str, Any]:
    """Put the file's ``Values`` into the environment without overriding variables already set (as func does).

    Returns the whole file (for ``Host.LocalHttpPort``).
    """
    environ = os.environ if environ is None else environ
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise HostError(f"cannot read settings file {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise HostError(f"settings file {path}: expected a JSON object")
    if document.get("IsEncrypted"):
        raise HostError(f"settings file {path} is encrypted (IsEncrypted: true); this host reads plain values only")
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise HostError(f"settings file {path}: Values must be an object")
    for name, value in values.items():
        if not isinstance(value, str):
            raise HostError(f"settings file {path}: Values.{name} must be a string (got {json.dumps(value)})")
        environ.setdefault(name, value)
    return document


def read_host_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise HostError(f"{path} not found (the app dir must hold function_app.py and host.json)") from exc
    except (OSError, ValueError) as exc:
        raise HostError(f"cannot read {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise HostError(f"{path}: expected a JSON object")
    return document


def _section(document: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """A nested host.json object with lower-cased keys (.NET configuration keys are case-insensitive)."""
    current: Any = document
    for key in keys:
        lowered = {str(k).lower(): v for k, v in current.items()} if isinstance(current, dict) else {}
        current = lowered.get(key.lower(), {})
    return {str(k).lower(): v for k, v in current.items()} if isinstance(current, dict) else {}


_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")


def parse_timespan(text: str) -> float:
    """A .NET TimeSpan string (``[d.]hh:mm[:ss[.fffffff]]``) in seconds."""
    match = _TIMESPAN.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a TimeSpan like 00:00:30")
    days, hours, minutes, seconds, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        raise ValueError(f"{text!r} is not a TimeSpan like 00:00:30")
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
    return total + (float("0." + fraction) if fraction else 0.0)


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
        queues = _section(host_json, "extensions", "queues")
        where = "host.json extensions.queues"

        def integer(name: str, default: int, low: int, high: int) -> int:
            value = queues.get(name.lower(), default)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise HostError(f"{where}.{name} must be an integer from {low} to {high} (got {json.dumps(value)})")
            return value

        def timespan(name: str, default: float, low: float) -> float:
            value = queues.get(name.lower())
            if value is None:
                return default
            try:
                if not isinstance(value, str):
                    raise ValueError("use a TimeSpan string")  # a number would be read as days by .NET
                seconds = parse_timespan(value)
            except ValueError:
                message = f'{where}.{name} must be a TimeSpan like "00:00:30" (got {json.dumps(value)})'
                raise HostError(message) from None
            if seconds < low:
                raise HostError(f"{where}.{name} must be at least {low} s (got {json.dumps(value)})")
            return seconds

        batch_size = integer("batchSize", 16, 1, 32)
        # Unset: batchSize/2 × processor count, as the extension computes it on this machine.
        new_batch_threshold = integer("newBatchThreshold", batch_size // 2 * (os.cpu_count() or 1), 0, 10_000)
        encoding = str(queues.get("messageencoding", "base64")).lower()
        if encoding not in ("base64", "none"):
            raise HostError(f'{where}.messageEncoding must be "base64" or "none" (got {json.dumps(encoding)})')
        return cls(
            batch_size=batch_size,
            new_batch_threshold=new_batch_threshold,
            max_dequeue_count=integer("maxDequeueCount", 5, 1, 10_000),
            visibility_timeout=timespan("visibilityTimeout", 0.0, 0.0),
            # Only the default is shortened locally: an explicit value is honoured (extension 5.x, "Development").
            max_polling_interval=timespan("maxPollingInterval", LOCAL_MAX_POLLING_INTERVAL, MIN_POLLING_INTERVAL),
            message_encoding=encoding,
        )


# ----------------------------------------------------------------------------------------------------------------
# Timer schedules: NCRONTAB and TimeSpan intervals


_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# name, lowest, highest, names for values (index + offset)
_CRON_FIELDS: list[tuple[str, int, int, list[str], int]] = [
    ("second", 0, 59, [], 0),
    ("minute", 0, 59, [], 0),
    ("hour", 0, 23, [], 0),
    ("day", 1, 31, [], 0),
    ("month", 1, 12, _MONTHS, 1),
    ("day-of-week", 0, 6, _DAYS, 0),
]


def _cron_value(text: str, field: tuple[str, int, int, list[str], int]) -> int:
    name, _, _, names, offset = field
    if text.isdigit():
        return int(text)
    lowered = text.lower()
    if len(lowered) >= 3 and lowered[:3] in names:
        return names.index(lowered[:3]) + offset
    raise ValueError(f"{text!r} is not a valid {name}")


def _cron_field(text: str, field: tuple[str, int, int, list[str], int]) -> frozenset[int]:
    name, low, high, _, _ = field
    values: set[int] = set()
    for part in text.split(","):
        span, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{part!r}: the step of the {name} field must be a positive number")
            step = int(step_text)
        if span == "*":
            start, end = low, high
        elif "-" in span:
            first, _, last = span.partition("-")
            start, end = _cron_value(first, field), _cron_value(last, field)
        else:
            start = _cron_value(span, field)
            end = high if slash else start  # NCRONTAB reads "5/15" as "5-max/15"
        if not low <= start <= end <= high:
            raise ValueError(f"{part!r}: the {name} field takes {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


class CronSchedule:
    """NCRONTAB as the Functions timer reads it: ``{second} {minute} {hour} {day} {month} {day-of-week}``.

    Supports ``*``, numbers, names (``Jan``, ``Mon``), ranges ``a-b``, lists ``a,b``, steps ``*/n``, ``a-b/n`` and
    ``a/n``. Five fields mean seconds = 0. Day-of-month and day-of-week must both match (NCRONTAB, unlike Unix cron).
    """

    def __init__(self, expression: str) -> None:
        fields = expression.split()
        if len(fields) == 5:
            fields.insert(0, "0")
        if len(fields) != 6:
            raise ValueError(
                f"{expression!r}: expected six fields {{second}} {{minute}} {{hour}} {{day}} {{month}} {{day-of-week}}"
            )
        self.expression = expression
        parsed = [_cron_field(text, field) for text, field in zip(fields, _CRON_FIELDS, strict=True)]
        self.seconds, self.minutes, self.hours, self.days, self.months, self.weekdays = parsed
        self.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # fails now for a schedule that never fires (30 Feb)

    def __str__(self) -> str:
        return self.expression

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


class IntervalSchedule:
    """A TimeSpan schedule (``hh:mm:ss``): every interval, counted from the previous occurrence."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.interval = timedelta(seconds=parse_timespan(expression))
        if self.interval <= timedelta(0):
            raise ValueError(f"{expression!r}: the interval must be positive")

    def __str__(self) -> str:
        return self.expression

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


def parse_schedule(expression: str) -> CronSchedule | IntervalSchedule:
    """A timer trigger's schedule: NCRONTAB first, then a TimeSpan, as the timer extension tries them."""
    try:
        return CronSchedule(expression)
    except ValueError as cron_error:
        if _TIMESPAN.match(expression.strip()):
            return IntervalSchedule(expression.strip())
        raise cron_error


# ----------------------------------------------------------------------------------------------------------------
# Function discovery: app.get_functions() and each function's bindings


@dataclass(frozen=True)
class HttpFunction:
    name: str
    func: Callable[..., Any]
    arg_name: str
    route: str
    methods: tuple[str, ...]  # empty: any method
    auth_level: str

    def describe(self, base_url: str, route_prefix: str) -> str:
        path = "/".join(part for part in (route_prefix, self.route.strip("/")) if part)
        return f"{','.join(self.methods) or 'ANY'} {base_url}/{path}"


@dataclass(frozen=True)
class QueueFunction:
    name: str
    func: Callable[..., Any]
    arg_name: str
    queue_name: str
    connection: str  # the app setting holding the connection string

    def describe(self, base_url: str, route_prefix: str) -> str:
        return f"queue {self.queue_name}"


@dataclass(frozen=True)
class TimerFunction:
    name: str
    func: Callable[..., Any]
    arg_name: str
    schedule: CronSchedule | IntervalSchedule
    run_on_startup: bool

    def describe(self, base_url: str, route_prefix: str) -> str:
        return f"timer {self.schedule}" + (" (runOnStartup)" if self.run_on_startup else "")


FunctionSpec = HttpFunction | QueueFunction | TimerFunction


def resolve_setting_expressions(value: str, environ: Mapping[str, str]) -> str:
    """Replace ``%NAME%`` with the app setting ``NAME``, as the host does in binding properties."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise KeyError(name)
        return environ[name]

    return _SETTING_EXPRESSION.sub(lookup, value)


def connection_string(setting: str, environ: Mapping[str, str]) -> str | None:
    """The value of a binding's ``connection``: ``AzureWebJobs<name>`` first, then ``<name>``, as the host looks."""
    for name in (f"AzureWebJobs{setting}", setting):
        if environ.get(name):
            return environ[name]
    return None


def import_app(app_dir: Path) -> Any:
    """Import ``function_app.py`` from the app dir (fresh each time) and return its ``FunctionApp``."""
    from azure.functions.decorators.function_app import FunctionRegister

    source = app_dir / "function_app.py"
    if not source.is_file():
        raise HostError(f"{source} not found (--app-dir must be the directory holding function_app.py)")
    if str(app_dir) not in sys.path:
        sys.path.append(str(app_dir))  # the app's own packages import from its root
    spec = importlib.util.spec_from_file_location("function_app", source)
    if spec is None or spec.loader is None:
        raise HostError(f"cannot import {source}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    previous = sys.modules.get("function_app")
    sys.modules["function_app"] = module
    try:
        spec.loader.exec_module(module)  # errors propagate with the app's own traceback
    finally:
        if previous is not None:  # in-process (tests): leave an already imported function_app in place
            sys.modules["function_app"] = previous
    app = getattr(module, "app", None)
    if isinstance(app, FunctionRegister):
        return app
    apps = [value for value in vars(module).values() if isinstance(value, FunctionRegister)]
    if len(apps) != 1:
        raise HostError(f"{source} must define one FunctionApp (app = func.FunctionApp(...)); found {len(apps)}")
    return apps[0]


def discover_functions(app: Any, environ: Mapping[str, str] | None = None) -> list[FunctionSpec]:
    """Each function of the app with its trigger, from ``app.get_functions()`` and the bindings' function.json.

    Raises ``HostError`` listing every problem: unsupported triggers or bindings, missing ``%SETTINGS%``, ....
    """
    environ = os.environ if environ is None else environ
    specs: list[FunctionSpec] = []
    problems: list[str] = []
    for function in app.get_functions():  # call once: a second call fails the app's duplicate-name check
        name = str(function.get_function_name())
        bindings: list[dict[str, Any]] = json.loads(function.get_function_json())["bindings"]
        triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
        others = [b for b in bindings if b not in triggers]
        if len(triggers) != 1 or triggers[0]["type"] not in ("httpTrigger", "queueTrigger", "timerTrigger"):
            kinds = ", ".join(str(b.get("type")) for b in triggers) or "none"
            problems.append(
                f"function {name!r}: trigger {kinds} is not supported by the local host "
                "(httpTrigger, queueTrigger and timerTrigger are)"
            )
            continue
        trigger = triggers[0]
        is_http = trigger["type"] == "httpTrigger"
        unsupported = [b for b in others if not (is_http and b.get("type") == "http" and b.get("name") == "$return")]
        if function.get_setting("retry_policy") is not None:
            problems.append(f"function {name!r}: @app.retry policies are not supported by the local host")
            continue
        if unsupported:
            kinds = ", ".join(f"{b.get('type')} {b.get('name')!r}" for b in unsupported)
            problems.append(
                f"function {name!r}: binding {kinds} is not supported by the local host "
                "(only the trigger and an HTTP $return)"
            )
            continue
        try:
            trigger = {
                key: resolve_setting_expressions(value, environ) if isinstance(value, str) else value
                for key, value in trigger.items()
            }
        except KeyError as missing:
            setting = missing.args[0]
            problems.append(
                f"function {name!r}: app setting {setting!r} (used as %{setting}% in its "
                f"{trigger['type']} binding) is not set; add it to local.settings.json Values"
            )
            continue
        user_function = function.get_user_function()
        arg_name = str(trigger["name"])
        parameters = inspect.signature(user_function).parameters
        extra = [p for p in parameters.values() if p.name != arg_name and p.default is inspect.Parameter.empty]
        if arg_name not in parameters or extra:
            wrong = f"parameter {extra[0].name!r}" if extra else f"no parameter {arg_name!r}"
            problems.append(
                f"function {name!r}: {wrong}; the local host passes only the trigger argument "
                f"{arg_name!r} (no context or other bindings)"
            )
            continue
        try:
            specs.append(_spec(name, user_function, arg_name, trigger, environ))
        except ValueError as exc:
            problems.append(f"function {name!r}: {exc}")
    if problems:
        raise HostError("cannot host this app:\n" + "\n".join(f"  - {problem}" for problem in problems))
    return specs


def _spec(
    name: str, user_function: Callable[..., Any], arg_name: str, trigger: dict[str, Any], environ: Mapping[str, str]
) -> FunctionSpec:
    kind = trigger["type"]
    if kind == "httpTrigger":
        methods = tuple(str(method).upper() for method in trigger.get("methods") or ())
        return HttpFunction(
            name,
            user_function,
            arg_name,
            str(trigger.get("route") or name),
            methods,
            str(trigger.get("authLevel", "function")).lower(),
        )
    if kind == "queueTrigger":
        queue_name = str(trigger.get("queueName", "")).lower()
        if not _QUEUE_NAME.match(queue_name):
            raise ValueError(f"queue name {queue_name!r} is not valid (3-63 of a-z, 0-9 and single dashes)")
        setting = str(trigger.get("connection") or "AzureWebJobsStorage")
        if connection_string(setting, environ) is None and any(name.startswith(f"{setting}__") for name in environ):
            raise ValueError(f"connection {setting!r} is identity-based ({setting}__...); the local host needs a "
                             f"connection string in {setting} (UseDevelopmentStorage=true for Azurite)")  # fmt: skip
        if connection_string(setting, environ) is None:
            raise ValueError(
                f"connection setting {setting!r} is not set; add its connection string to "
                "local.settings.json Values (UseDevelopmentStorage=true for Azurite)"
            )
        return QueueFunction(name, user_function, arg_name, queue_name, setting)
    schedule_text = str(trigger.get("schedule", ""))
    try:
        schedule = parse_schedule(schedule_text)
    except ValueError as exc:
        raise ValueError(f"schedule {schedule_text!r} is not valid: {exc}") from None
    return TimerFunction(name, user_function, arg_name, schedule, bool(trigger.get("runOnStartup")))


# ----------------------------------------------------------------------------------------------------------------
# HTTP


_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "alpha": r"[A-Za-z]+",
    "decimal": r"-?\d+(?:\.\d+)?",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
}
_ROUTE_PARAMETER = re.compile(r"\{(\*{1,2})?([^{}:?*=]+)(?::([^{}?=]+))?(\?)?(?:=[^{}]*)?\}")


class Route:
    """An ASP.NET-style route template: ``leads/{id}``, ``{id:int}``, optional ``{id?}``, catch-all ``{*rest}``."""

    def __init__(self, function: HttpFunction) -> None:
        self.function = function
        self.names: dict[str, str] = {}  # regex group → parameter name
        pattern, precedence = "", []
        for segment in [s for s in function.route.strip("/").split("/") if s]:
            whole = _ROUTE_PARAMETER.fullmatch(segment)
            if whole and whole.group(1):  # catch-all: the rest of the path, possibly empty
                pattern += f"(?:/(?P<{self._group(whole.group(2))}>.*))?"
                precedence.append(4)
            elif whole and whole.group(4):  # optional segment
                pattern += f"(?:/(?P<{self._group(whole.group(2))}>{self._constraint(whole.group(3))}))?"
                precedence.append(3)
            else:
                pattern += "/" + self._segment(segment)
                precedence.append(0 if not whole else 1 if whole.group(3) else 2)
        self.regex = re.compile(pattern + "/?", re.IGNORECASE)
        self.precedence = tuple(precedence)  # literals before parameters before catch-alls, segment by segment

    def _group(self, name: str) -> str:
        group = f"p{len(self.names)}"
        self.names[group] = name
        return group

    @staticmethod
    def _constraint(constraints: str | None) -> str:
        if not constraints:
            return "[^/]+"
        return _CONSTRAINTS.get(constraints.split(":")[0].split("(")[0].lower(), "[^/]+")  # others: not checked

    def _segment(self, segment: str) -> str:
        pattern, position = "", 0
        for match in _ROUTE_PARAMETER.finditer(segment):
            pattern += re.escape(segment[position : match.start()])
            pattern += f"(?P<{self._group(match.group(2))}>{self._constraint(match.group(3))})"
            position = match.end()
        return pattern + re.escape(segment[position:])

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        return {self.names[group]: unquote(value) for group, value in found.groupdict().items() if value is not None}

    def allows(self, method: str) -> bool:
        return not self.function.methods or method in self.function.methods


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    local_host: LocalHost

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # the client went away
            log.debug("http: connection from %s closed early", client_address)
        else:
            log.exception("http: error serving %s", client_address)


class _TooLarge(ValueError):
    pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.local_host.handle_http(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("http: %s %s -> %s", self.command, urlsplit(self.path).path, code)  # no query string (?code=)

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                total += size
                if total > MAX_REQUEST_BYTES:
                    raise _TooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            raise _TooLarge
        return self.rfile.read(length) if length > 0 else b""

    def reply(self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, status: int, document: Any, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.reply(status, json.dumps(document).encode(), [("Content-Type", "application/json"), *headers])


def _joined(pairs: Sequence[tuple[str, str]], separator: str) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]}{separator}{value}" if name in joined else value
    return joined


# ----------------------------------------------------------------------------------------------------------------
# Queues


class _Backoff:
    """Randomized exponential back-off between empty polls, from 100 ms to maxPollingInterval (as the extension)."""

    def __init__(self, maximum: float) -> None:
        self.maximum = maximum
        self.current = MIN_POLLING_INTERVAL
        self.exponent = 0

    def next(self, found_messages: bool) -> float:
        if found_messages:
            self.current, self.exponent = MIN_POLLING_INTERVAL, 0
        elif self.current < self.maximum:
            self.exponent += 1
            delay = MIN_POLLING_INTERVAL * (1 + random.uniform(0.8, 1.2) * 2 ** (self.exponent - 1))  # noqa: S311
            self.current = min(delay, self.maximum)
        return self.current


class _KeepInvisible:
    """While a message is processed, renew its invisibility at half-life (the extension's peek-lock)."""

    def __init__(self, client: QueueClient, message: QueueMessage, lock_timeout: float) -> None:
        self.client, self.message_id, self.lock_timeout = client, str(message.id), lock_timeout
        self.pop_receipt = str(message.pop_receipt)
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._renew, name=f"renew-{self.message_id}", daemon=True)

    def __enter__(self) -> _KeepInvisible:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:  # waits for a renewal in progress, so pop_receipt is the latest
            self._done.set()

    def _renew(self) -> None:
        while not self._done.wait(self.lock_timeout / 2):
            with self._lock:
                if self._done.is_set():
                    return
                try:
                    updated = self.client.update_message(
                        self.message_id, pop_receipt=self.pop_receipt, visibility_timeout=math.ceil(self.lock_timeout)
                    )
                    self.pop_receipt = str(updated.pop_receipt)
                    log.debug("renewed the lock on message %s", self.message_id)
                except AzureError as exc:
                    log.warning("could not renew the lock on message %s: %s", self.message_id, _brief(exc))


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def decode_message(text: str, encoding: str) -> bytes | None:
    """A message's bytes as the trigger sees them; None if ``base64`` is expected and the text isn't base64."""
    if encoding == "none":
        return text.encode("utf-8")
    try:  # like .NET Convert.FromBase64String: whitespace ignored, padding required
        return base64.b64decode(re.sub(r"[ \t\r\n]", "", text), validate=True)
    except (binascii.Error, ValueError):
        return None


def encode_message(body: bytes, encoding: str) -> str:
    return body.decode("utf-8") if encoding == "none" else base64.b64encode(body).decode("ascii")


def _queue_client(connection: str, queue_name: str) -> QueueClient:
    # Few, short SDK retries: the poll loop backs off on its own while storage is down.
    return QueueClient.from_connection_string(
        connection,
        queue_name,
        retry_policy=LinearRetry(backoff=1, retry_total=2, random_jitter_range=0),
        connection_timeout=5,
        read_timeout=30,
    )


class _QueueListener:
    """Polls one queue for one function and processes its messages like the Queues extension 5.x."""

    def __init__(self, host: LocalHost, spec: QueueFunction, options: QueueOptions) -> None:
        self.host, self.spec, self.options = host, spec, options
        connection = connection_string(spec.connection, os.environ) or ""
        try:
            self.client = _queue_client(connection, spec.queue_name)
            poison_name = f"{spec.queue_name}-poison"
            # No poison queue for a poison queue (or when the name would be too long), as in the extension.
            self.poison = (
                None
                if spec.queue_name.endswith("-poison") or len(poison_name) > 63
                else _queue_client(connection, poison_name)
            )
        except ValueError as exc:
            raise HostError(
                f"function {spec.name!r}: connection setting {spec.connection!r} is not a valid storage "
                f"connection string: {exc}"
            ) from None
        self.wake = threading.Event()
        self._queue_ready = False
        self._in_flight = 0
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._poll, name=f"queue-{spec.name}", daemon=True)

    def start(self) -> None:
        try:  # now, so that the queue exists when start() returns; one quick attempt, the poll loop retries
            self._create_queue(retry_total=0)
        except AzureError as exc:
            log.warning("cannot create queue %r yet: %s", self.spec.queue_name, _brief(exc))
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _create_queue(self, **options: Any) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue(**options)
        self._queue_ready = True

    def _poll(self) -> None:
        backoff = _Backoff(self.options.max_polling_interval)
        outage, found = False, False
        while not self.host.stopping.is_set():
            try:
                if not self._queue_ready:
                    self._create_queue()
                pages = self.client.receive_messages(
                    messages_per_page=self.options.batch_size, visibility_timeout=math.ceil(self.host.lock_timeout)
                ).by_page()
                batch = list(next(pages, []))  # one request: up to batchSize messages
            except AzureError as exc:
                self._queue_ready = False
                (log.debug if outage else log.warning)(
                    "queue %r (function %s) unreachable, retrying with back-off: %s",
                    self.spec.queue_name,
                    self.spec.name,
                    _brief(exc),
                )
                outage = True
                self._sleep(backoff.next(found))
                found = False
                continue
            if outage:
                log.info("queue %r reachable again", self.spec.queue_name)
                outage = False
            if not batch:
                self._sleep(backoff.next(found))
                found = False
                continue
            found = True
            if self.host.stopping.is_set():  # received while stopping: make it visible again right away
                for message in batch:
                    self._settle(self._releaser(message), message)
                break
            for message in batch:
                self._start(message)
            with self._changed:  # fetch again once in-flight drops to newBatchThreshold
                while self._in_flight > self.options.new_batch_threshold and not self.host.stopping.is_set():
                    self._changed.wait(0.5)

    def _releaser(self, message: QueueMessage) -> Callable[[], object]:
        return lambda: self.client.update_message(
            str(message.id), pop_receipt=message.pop_receipt, visibility_timeout=0
        )

    def _sleep(self, seconds: float) -> None:
        self.wake.wait(seconds)
        self.wake.clear()

    def _start(self, message: QueueMessage) -> None:
        with self._changed:
            self._in_flight += 1
        self.host.begin_work()
        threading.Thread(target=self._process, args=(message,), name=f"invoke-{self.spec.name}", daemon=True).start()

    def _process(self, message: QueueMessage) -> None:
        try:
            self._handle(message)
        except Exception:
            log.exception("unexpected error processing message %s on queue %r", message.id, self.spec.queue_name)
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()
            self.host.end_work()

    def _handle(self, message: QueueMessage) -> None:
        spec, options = self.spec, self.options
        text = str(message.content or "")
        body = decode_message(text, options.message_encoding)
        poison = self.poison
        if body is None:
            # The extension's decode-failure handler: the function is not invoked; the message goes to the poison
            # queue as received (without a poison queue, it stays invisible until its lock expires).
            where = f"moving it to {poison.queue_name!r}" if poison else "leaving it invisible"
            log.warning(
                "message %s on queue %r is not valid base64 (host.json messageEncoding is base64): %s without "
                "invoking %s", message.id, spec.queue_name, where, spec.name,
            )  # fmt: skip
            if poison:
                self._settle(lambda: self._move(message, str(message.pop_receipt), text, poison), message)
            return
        dequeue_count = int(message.dequeue_count or 0)
        poison_content = encode_message(body, options.message_encoding)  # the same content, encoded the same way
        if poison and dequeue_count > options.max_dequeue_count:  # e.g. its last attempt crashed the host
            log.warning("message %s was dequeued %d times (maxDequeueCount %d): moving it to %r without invoking %s",
                        message.id, dequeue_count, options.max_dequeue_count, poison.queue_name, spec.name)  # fmt: skip
            self._settle(lambda: self._move(message, str(message.pop_receipt), poison_content, poison), message)
            return
        trigger = FunctionsQueueMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        with _KeepInvisible(self.client, message, self.host.lock_timeout) as lock:
            succeeded, _ = self.host.invoke(
                spec, {spec.arg_name: trigger}, f"MessageId={message.id}, DequeueCount={dequeue_count}"
            )
        receipt = lock.pop_receipt
        if succeeded:
            self._settle(lambda: self.client.delete_message(str(message.id), receipt), message)
        elif poison is None:
            log.warning(
                "message %s failed on %r, which has no poison queue: it stays invisible and is retried after %.0f s",
                message.id,
                spec.queue_name,
                self.host.lock_timeout,
            )
        elif dequeue_count >= options.max_dequeue_count:  # that was the last attempt
            log.warning("message %s has reached maxDequeueCount of %d: moving it to queue %r",
                        message.id, options.max_dequeue_count, poison.queue_name)  # fmt: skip
            self._settle(lambda: self._move(message, receipt, poison_content, poison), message)
        else:
            self._settle(
                lambda: self.client.update_message(
                    str(message.id), pop_receipt=receipt, visibility_timeout=int(options.visibility_timeout)
                ),
                message,
            )

    def _move(self, message: QueueMessage, receipt: str, content: str, poison: QueueClient) -> None:
        """Copy to the poison queue (creating it if needed), then delete the original."""
        try:
            poison.send_message(content)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                poison.create_queue()
            poison.send_message(content)
        self.client.delete_message(str(message.id), receipt)
        self.host.notify_queue(poison.queue_name)

    def _settle(self, action: Callable[[], object], message: QueueMessage) -> None:
        try:
            action()
        except ResourceNotFoundError:
            log.debug("message %s is gone from %r already", message.id, self.spec.queue_name)
        except AzureError as exc:
            log.warning(
                "could not complete message %s on %r (%s); it becomes visible again after the lock expires",
                message.id,
                self.spec.queue_name,
                _brief(exc),
            )


# ----------------------------------------------------------------------------------------------------------------
# Timers


class _TimerRunner:
    def __init__(self, host: LocalHost, spec: TimerFunction) -> None:
        self.host, self.spec = host, spec
        self._thread = threading.Thread(target=self._run, name=f"timer-{spec.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _fire(self, past_due: bool, last: datetime | None, due: datetime) -> None:
        status = {
            "Last": (last or due).isoformat(),
            "Next": self.spec.schedule.next_after(due).isoformat(),
            "LastUpdated": datetime.now(UTC).isoformat(),
        }
        request = TimerRequest(past_due=past_due, schedule_status=status, schedule={"AdjustForDST": True})
        self.host.begin_work()
        try:
            self.host.invoke(self.spec, {self.spec.arg_name: request}, f"PastDue={past_due}")
        finally:
            self.host.end_work()

    def _run(self) -> None:
        stopping = self.host.stopping
        anchor = datetime.now(UTC)
        if self.spec.run_on_startup and not stopping.is_set():
            self._fire(False, None, anchor)
        last: datetime | None = None
        while not stopping.is_set():
            due = self.spec.schedule.next_after(anchor)
            past_due = (datetime.now(UTC) - due).total_seconds() > 1.0  # the previous invocation overran it
            while not past_due and (wait := (due - datetime.now(UTC)).total_seconds()) > 0:
                if stopping.wait(wait):
                    return
            self._fire(past_due, last, due)
            last = due
            anchor = datetime.now(UTC) if past_due else due  # missed occurrences are skipped, not replayed


# ----------------------------------------------------------------------------------------------------------------
# The host


class LocalHost:
    """The app's functions served in this process: HTTP server, queue listeners and timers.

    ``LocalHost(app_dir, port=0).start()`` returns once listening (``port=0``: a free port; see ``base_url``);
    ``stop()`` stops HTTP and polling and waits for in-flight invocations. Settings must already be in the
    environment (``load_settings``); ``lock_timeout`` (the queue peek-lock, 10 minutes) is shortened by tests.
    """

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
        self.functions: list[FunctionSpec] = []
        self.routes: list[Route] = []
        self.route_prefix = "api"
        self.queue_options = QueueOptions()
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._server_thread: threading.Thread | None = None
        self._listeners: list[_QueueListener] = []
        self._timers: list[_TimerRunner] = []
        self._work = 0
        self._work_changed = threading.Condition()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __enter__(self) -> LocalHost:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalHost:
        try:
            return self._start()
        except BaseException:
            self.stop(timeout=0)
            raise

    def _start(self) -> LocalHost:
        host_json = read_host_json(self.host_json_path)
        self.queue_options = QueueOptions.from_host_json(host_json)
        self.route_prefix = str(_section(host_json, "extensions", "http").get("routeprefix", "api")).strip("/")
        self.functions = discover_functions(import_app(self.app_dir))
        http_functions = [spec for spec in self.functions if isinstance(spec, HttpFunction)]
        self.routes = sorted((Route(spec) for spec in http_functions), key=lambda route: route.precedence)
        for spec in self.functions:
            if isinstance(spec, QueueFunction):
                self._listeners.append(_QueueListener(self, spec, self.queue_options))
            elif isinstance(spec, TimerFunction):
                self._timers.append(_TimerRunner(self, spec))
        try:
            self._server = _Server((self.host, self.port), _Handler)
        except OSError as exc:
            raise HostError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self._server.local_host = self
        self.port = int(self._server.server_address[1])
        server = self._server
        self._server_thread = threading.Thread(target=lambda: server.serve_forever(0.1), name="http", daemon=True)
        self._server_thread.start()
        for runner in self._runners():
            runner.start()
        log.info("host started: %d function(s), listening on %s", len(self.functions), self.base_url)
        return self

    def _runners(self) -> list[_QueueListener | _TimerRunner]:
        return [*self._listeners, *self._timers]

    def describe(self) -> list[str]:
        """One line per function, like func start prints them."""
        return [f"{spec.name}: {spec.describe(self.base_url, self.route_prefix)}" for spec in self.functions]

    def stop(self, timeout: float | None = None) -> bool:
        """Stop accepting HTTP, stop polling and timers, wait (bounded) for in-flight invocations.

        Returns False if some invocations were still running when the timeout expired.
        """
        timeout = self.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self.stopping.set()
        if self._server is not None:
            if self._server_thread is not None and self._server_thread.is_alive():
                self._server.shutdown()  # waits for serve_forever to return: only if it runs
            self._server.server_close()
        for listener in self._listeners:
            listener.wake.set()
        for runner in self._runners():  # pollers hand over what they received; timers finish their invocation
            runner.join(max(0.0, deadline - time.monotonic()))
        with self._work_changed:
            while self._work and (left := deadline - time.monotonic()) > 0:
                self._work_changed.wait(left)
            finished = self._work == 0
        if not finished:
            log.warning("stopped with %d invocation(s) still running after %.0f s", self._work, timeout)
        log.info("host stopped")
        return finished

    # -- used by the listeners, timers and HTTP handler

    def begin_work(self) -> None:
        with self._work_changed:
            self._work += 1

    def end_work(self) -> None:
        with self._work_changed:
            self._work -= 1
            self._work_changed.notify_all()

    def notify_queue(self, queue_name: str) -> None:
        """A message was just added to this queue by the host: poll it now (the extension's shared watcher)."""
        for listener in self._listeners:
            if listener.spec.queue_name == queue_name:
                listener.wake.set()

    def invoke(
        self, spec: FunctionSpec, arguments: dict[str, Any], details: str, check: Callable[[Any], None] | None = None
    ) -> tuple[bool, Any]:
        """Call the user function; log name, id, outcome and duration (never arguments). (succeeded, result)."""
        invocation_id = str(uuid.uuid4())
        log.debug("Executing 'Functions.%s' (Id=%s, %s)", spec.name, invocation_id, details)
        started = time.monotonic()
        try:
            result = spec.func(**arguments)
            if inspect.isawaitable(result):
                result = asyncio.run(_awaited(result))
            if check is not None:
                check(result)
        except Exception:
            log.exception(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%.0fms, %s)",
                spec.name,
                invocation_id,
                (time.monotonic() - started) * 1000,
                details,
            )
            return False, None
        log.info(
            "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms, %s)",
            spec.name,
            invocation_id,
            (time.monotonic() - started) * 1000,
            details,
        )
        return True, result

    def handle_http(self, handler: _Handler) -> None:
        self.begin_work()  # before looking at `stopping`, so that stop() waits for this request
        try:
            self._handle_http(handler)
        finally:
            self.end_work()

    def _handle_http(self, handler: _Handler) -> None:
        try:
            body = handler.read_body()  # first, so that a keep-alive connection stays in step whatever the answer
        except ValueError as exc:
            handler.close_connection = True
            too_large = isinstance(exc, _TooLarge)
            handler.reply_json(413 if too_large else 400, {"error": "request body too large or malformed"})
            return
        url = urlsplit(handler.path)
        path = url.path  # still percent-encoded: route parameters are decoded one by one
        if self.stopping.is_set():
            handler.close_connection = True
            handler.reply_json(503, {"error": "the host is shutting down"}, [("Connection", "close")])
            return
        if path.rstrip("/").lower() == "/admin/host/status":
            handler.reply_json(200, {"state": "Running"})
            return
        prefix = f"/{self.route_prefix}".lower() if self.route_prefix else ""
        matches: list[tuple[Route, dict[str, str]]] = []
        if path.lower() == prefix or path.lower().startswith(prefix + "/"):
            relative = path[len(prefix) :]
            matches = [(route, params) for route in self.routes if (params := route.match(relative)) is not None]
        if not matches:
            handler.reply_json(404, {"error": "not found"})
            return
        method = handler.command.upper()
        allowed = [(route, params) for route, params in matches if route.allows(method)]
        if not allowed:
            methods = sorted({m for route, _ in matches for m in route.function.methods})
            allow = [("Allow", ", ".join(methods))]
            handler.reply_json(405, {"error": "method not allowed", "allowed": methods}, allow)
            return
        route, route_params = allowed[0]
        query = parse_qs(url.query, keep_blank_values=True)  # ?code= is accepted and not checked, like func start
        request = func.HttpRequest(
            method=method,
            url=f"http://{handler.headers.get('Host') or f'{self.host}:{self.port}'}{handler.path}",
            headers=_joined([(name.lower(), value) for name, value in handler.headers.items()], ", "),
            params=_joined([(name, value) for name, values in query.items() for value in values], ","),
            route_params=route_params,
            body=body,
        )
        self._respond(handler, route.function, request)

    def _respond(self, handler: _Handler, spec: HttpFunction, request: func.HttpRequest) -> None:
        def check(result: Any) -> None:
            if not isinstance(result, func.HttpResponse | str):
                raise TypeError(f"HTTP function returned {type(result).__name__}; expected func.HttpResponse or str")

        succeeded, result = self.invoke(spec, {spec.arg_name: request}, f"Route={spec.route}", check)
        if not succeeded:
            handler.reply_json(500, {"error": "internal server error"})  # details are in the host's log only
        elif isinstance(result, str):
            handler.reply(200, result.encode(), [("Content-Type", "text/plain; charset=utf-8")])
        else:
            headers = list(result.headers.items())
            if not any(name.lower() == "content-type" for name, _ in headers):  # as the worker fills it in
                charset = f"; charset={result.charset}" if result.mimetype.startswith("text/") else ""
                headers.append(("Content-Type", result.mimetype + charset))
            handler.reply(result.status_code, result.get_body() or b"", headers)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


# ----------------------------------------------------------------------------------------------------------------
# Command line


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
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
    """Load settings, start the host, print what it serves, run until SIGINT/SIGTERM, stop gracefully. Exit code."""
    out = sys.stdout if out is None else out
    _configure_logging(verbose)
    directory = Path(app_dir).resolve()
    settings_path, note = find_settings_file(directory, settings)
    if note:
        print(note, file=out)
    document = load_settings(settings_path) if settings_path else {}
    os.environ.setdefault("AZURE_FUNCTIONS_ENVIRONMENT", "Development")  # as func start sets it
    if port is None:
        configured = _section(document, "Host").get("localhttpport", DEFAULT_PORT)
        try:
            port = int(configured)
        except (TypeError, ValueError):
            raise HostError(f"{settings_path}: Host.LocalHttpPort must be a port number (got {configured!r})") from None
    local = LocalHost(directory, host=host, port=port, host_json=host_json)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        local.start()
        print(f"App dir:   {directory}", file=out)
        print(f"Settings:  {settings_path or '(none: environment only)'}", file=out)
        print(f"host.json: {local.host_json_path}", file=out)
        print("Functions:", file=out)
        for line in local.describe():
            print(f"    {line}", file=out)
        print(f"Local development host listening on {local.base_url} (not func start); Ctrl+C stops it.", file=out)
        out.flush()
        while not stop_requested.wait(0.5):
            pass
        local.stop()
    finally:
        if not local.stopping.is_set():
            local.stop(timeout=0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    prog = "python -m leads.host" if Path(sys.argv[0]).name == "host.py" else "python -m leads serve"
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the Functions app locally: the same function_app.py and host.json as `func start`, "
        "served by a small development host (HTTP, Storage queue and timer triggers; not for production).",
    )
    parser.add_argument("--app-dir", default=".", help="directory holding function_app.py and host.json (default: .)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"HTTP port (default: Host.LocalHttpPort in the settings file, else {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--settings",
        default=None,
        help="settings file whose Values become environment variables, without overriding ones "
        "already set (default: <app-dir>/local.settings.json, else local.settings.sample.json)",
    )
    parser.add_argument("--host-json", default=None, help="host.json to use (default: <app-dir>/host.json)")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    try:
        return serve(
            args.app_dir,
            host=args.host,
            port=args.port,
            settings=args.settings,
            host_json=args.host_json,
            verbose=args.verbose,
        )
    except HostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
