"""The app's functions: ``function_app.py`` imported afresh, each function and its trigger checked and resolved."""

from __future__ import annotations

import inspect
import json
import os
import re
import runpy
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import azure.functions as func

from devtools.host.config import HostError
from devtools.host.schedule import CronSchedule

SUPPORTED_TRIGGERS = ("httpTrigger", "queueTrigger", "timerTrigger")


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


class Invoker(Protocol):
    """What the triggers need from the host: to invoke a function, and to have stop() wait for their work."""

    stopping: threading.Event
    lock_timeout: float

    def invoke(self, function: Function, argument: Any, details: str) -> tuple[bool, Any]: ...

    def begin_work(self) -> None: ...

    def end_work(self) -> None: ...


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
    trigger = _resolve_settings(_supported_trigger(function), environ)
    user_function, arg_name = function.get_user_function(), str(trigger["name"])
    _check_parameters(user_function, arg_name)
    common = (name, user_function, arg_name, str(trigger["type"]))
    if trigger["type"] == "httpTrigger":
        methods = tuple(str(method).upper() for method in trigger.get("methods") or ())
        return Function(*common, route=str(trigger.get("route") or name).strip("/"), methods=methods)
    if trigger["type"] == "queueTrigger":
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


def _supported_trigger(function: Any) -> dict[str, Any]:
    """The function's one trigger binding; ValueError if it has another trigger, binding or a retry policy."""
    bindings: list[dict[str, Any]] = json.loads(function.get_function_json())["bindings"]
    triggers = [b for b in bindings if str(b.get("type")).endswith("Trigger")]
    kind = ", ".join(str(b.get("type")) for b in triggers) or "none"
    others = [f"{b.get('type')} {b.get('name')!r}" for b in bindings if b not in triggers and b.get("type") != "http"]
    if kind not in SUPPORTED_TRIGGERS:
        raise ValueError(f"trigger {kind} is not supported by the local host (only http, queue and timer triggers)")
    if function.get_setting("retry_policy") is not None:
        raise ValueError("@app.retry policies are not supported by the local host")
    if others:
        raise ValueError(f"binding {', '.join(others)} is not supported by the local host (only the trigger)")
    return triggers[0]


def _resolve_settings(binding: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The binding with each ``%NAME%`` in its properties replaced by the app setting NAME."""
    try:
        return {
            k: re.sub("%([^%]+)%", lambda m: environ[m[1]], v) if isinstance(v, str) else v for k, v in binding.items()
        }
    except KeyError as exc:
        missing = exc.args[0]
        raise ValueError(f"app setting {missing!r} (used as %{missing}%) is not set in local.settings.json") from None


def _check_parameters(user_function: Callable[..., Any], arg_name: str) -> None:
    parameters = inspect.signature(user_function).parameters
    extra = [p.name for p in parameters.values() if p.name != arg_name and p.default is inspect.Parameter.empty]
    if extra or arg_name not in parameters:
        wrong = f"parameter {extra[0]!r}" if extra else f"no parameter {arg_name!r}"
        raise ValueError(f"{wrong}: the local host passes only the trigger argument {arg_name!r} (no context)")
