"""A small local development host for this Functions app: ``python -m devtools.host`` (``make run`` starts it).

Core Tools can't be installed on our machines, so this serves ``function_app.py`` with ``host.json`` as ``func start``
would: HTTP triggers at ``/api/<route>`` (keys not checked), Storage queue triggers with the Queues extension's
``host.json`` semantics, and NCRONTAB timer triggers in UTC. Anything else is refused at startup. Unlike the real
host: a wrong method gets 405 (not 404), missing queues are created, and there is no functionTimeout or schedule
monitor (``past_due`` is set only when an invocation overran the next occurrence).

Modules: ``config`` (settings file, host.json), ``schedule`` (NCRONTAB), ``functions`` (the app's functions),
``http_trigger``, ``queue_trigger``, ``timer_trigger``, and ``server`` (``LocalHost`` and the command line).
"""

from devtools.host.config import (
    DEFAULT_PORT,
    LOCK_TIMEOUT,
    HostError,
    QueueOptions,
    find_settings_file,
    load_settings,
    read_host_json,
)
from devtools.host.functions import Function, discover_functions, import_app
from devtools.host.queue_trigger import decode_message
from devtools.host.schedule import CronSchedule
from devtools.host.server import LocalHost, main, serve

__all__ = [
    "DEFAULT_PORT",
    "LOCK_TIMEOUT",
    "CronSchedule",
    "Function",
    "HostError",
    "LocalHost",
    "QueueOptions",
    "decode_message",
    "discover_functions",
    "find_settings_file",
    "import_app",
    "load_settings",
    "main",
    "read_host_json",
    "serve",
]
