"""§2 Processing, the trace: every request of a pass as an ``Event``, attributed to the lead being processed.

Storage requests come from the counting proxy (devtools.storage_proxy), Dataverse, Graph and Entra ID requests
from the stand-ins' own logs. Processing is sequential, so an event belongs to the lead whose invocation was
running when it was logged.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from bench.stack import Stack
from devtools.storage_proxy import StorageCall

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_API_PREFIX = re.compile(r"^/api/data/v[0-9.]+/")
_USER = re.compile(r"/users/[^/]+")


@dataclass(frozen=True)
class Event:
    """One request of any kind, in words a reader of the report can follow."""

    time: float
    service: str  # table, queue, Dataverse, Graph, Entra ID
    request: str  # "merge entity", "PATCH leads({id})", …
    condition: str = ""  # If-Match / If-None-Match
    writes: str = ""  # table writes: the properties set
    answer: str = ""  # the status code
    kind: str = ""  # storage only: read or write

    @property
    def storage(self) -> bool:
        return self.service in ("table", "queue")

    @property
    def signature(self) -> tuple[str, str, str, str]:
        return (self.service, self.request, self.condition, self.writes)


def storage_event(call: StorageCall) -> Event:
    condition = ""
    if call.if_match is not None:
        condition = "If-Match: *" if call.if_match == "*" else "If-Match: ETag"
    writes = ", ".join(call.written) if call.operation == "merge entity" else ""
    if call.operation == "insert entity":
        writes = f"(new entity, {len(call.written)} properties)"
    return Event(call.time, call.service, call.operation, condition, writes, str(call.status), call.kind)


@dataclass
class LeadTrace:
    lead_id: str
    started: float
    ended: float
    events: list[Event] = field(default_factory=list)

    def count(self, service: str, kind: str | None = None) -> int:
        return sum(1 for e in self.events if e.service == service and (kind is None or e.kind == kind))


@dataclass
class Pass:
    """One pass over fresh leads: its timing, each lead's trace, and what ended where."""

    name: str
    seconds: float
    latencies: list[float]
    traces: list[LeadTrace]
    intake_calls: list[StorageCall]
    token_scopes: Counter[str]
    done: int
    dataverse_leads: int
    mails: int

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


def events_of_standins(stack: Stack) -> list[Event]:
    standins = stack.standins
    events = []
    for service, requests in (("Dataverse", standins.dataverse.requests), ("Graph", standins.graph.requests)):
        for r in requests:
            path = _USER.sub("/users/{from}", _GUID.sub("{id}", _API_PREFIX.sub("", r.path)))
            condition = "If-None-Match: *" if r.headers.get("if-none-match") == "*" else ""
            events.append(Event(r.time, service, f"{r.method} {path}", condition, "", str(r.status)))
    for t in standins.entra.token_requests:
        answer = t.error or "issued"
        events.append(Event(t.time, "Entra ID", f"token ({t.grant_type}) for {stack.resource(t)}", "", "", answer))
    return events


def attribute(events: list[Event], traces: list[LeadTrace]) -> None:
    """Add each event to the trace of the lead whose invocation was running at the time."""
    for event in sorted(events, key=lambda e: e.time):
        for trace in traces:  # sequential: each event falls into exactly one lead's window
            if trace.started <= event.time <= trace.ended:
                trace.events.append(event)
                break
