"""Plumbing shared by the HTTP stand-ins: a threaded loopback server, a request log, scripted faults, bearer
token checks and the ``/_standin/...`` control API (so a stand-in started in another process can be driven too).

A service subclasses ``StandIn`` and implements ``handle`` (plus its own error bodies); everything else is here,
gathered from the modules that hold each concern:

- ``messages``: ``Request`` and ``Response``;
- ``server``: the threaded loopback HTTP(S) server (``require_loopback``);
- ``faults``: scripted faults (``Fault``);
- ``recording``: the request log (``RecordedRequest``);
- ``observing``: event listeners and ``Waitable.wait_for``;
- ``control``: the ``/_standin/...`` control API;
- ``standin``: ``StandIn`` itself.
"""

from __future__ import annotations

from .control import CONTROL_PREFIX
from .faults import Fault
from .messages import JSON, Request, Response
from .observing import Listener, Waitable
from .recording import LOGGED_HEADERS, RecordedRequest
from .server import LOOPBACK_HOSTS, require_loopback
from .standin import StandIn

__all__ = [
    "CONTROL_PREFIX", "JSON", "LOGGED_HEADERS", "LOOPBACK_HOSTS", "Fault", "Listener", "RecordedRequest",
    "Request", "Response", "StandIn", "Waitable", "require_loopback",
]  # fmt: skip
