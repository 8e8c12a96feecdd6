"""§2 Processing: what one queued lead costs, request by request.

N leads are received through the HTTP function, then processed one at a time by calling the queue function as
the worker does (process_lead.build().get_user_function() with a QueueMessage). Two passes, each a fresh
worker (new clients, new token cache) on a fresh table and queue:

- timed: storage reached directly, for leads/s;
- counted: table and queue traffic through a counting proxy (devtools.storage_proxy), so every storage request
  is seen on the wire, SDK retries included. Dataverse, Graph and Entra ID requests come from the stand-ins'
  own logs.

Processing is sequential, so each request is attributed to a lead by time: everything logged between the call
and the return of that lead's invocation.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import azure.functions as func
from azure.functions.queue import QueueMessage

import function_app
from bench.ingest import FUNCTION_URL, JSON_HEADERS, BenchError
from bench.report import Section, Target, median, ms, percentile, plural, table
from bench.stack import WORK, BenchLead, LeadFactory, Stack, progress
from devtools.storage_proxy import CountingProxy, StorageCall
from leads import runtime
from leads.core import lead_row
from leads.core.payload import parse_lead

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_API_PREFIX = re.compile(r"^/api/data/v[0-9.]+/")
_USER = re.compile(r"/users/[^/]+")
_ENTITY_KEYS = re.compile(r"\(PartitionKey=.*\)$")


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


def _storage_event(call: StorageCall) -> Event:
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


def _receive(leads: list[BenchLead]) -> None:
    receive = function_app.receive_lead.build().get_user_function()
    for lead in leads:
        response = receive(func.HttpRequest("POST", FUNCTION_URL, headers=JSON_HEADERS, body=lead.body))
        if response.status_code != 202:
            raise BenchError(f"a new lead was answered {response.status_code} {response.get_body()[:200]!r}")


def _events_of_standins(stack: Stack) -> list[Event]:
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


def _pass(
    stack: Stack,
    factory: LeadFactory,
    count: int,
    proxies: tuple[CountingProxy, ...] = (),
    prepare: Callable[[Stack, list[BenchLead]], None] | None = None,
) -> Pass:
    table_name, queue_name = stack.fresh_names()
    ports = {proxy.service: proxy.port for proxy in proxies}
    connection = stack.connection_string(queue_port=ports["queue"], table_port=ports["table"]) if proxies else None
    stack.create(table_name, queue_name)  # outside the count: the app creates them once per storage account
    stack.use(stack.settings(table_name, queue_name, connection))  # a fresh worker
    stack.standins.reset()
    leads = factory.make(count)
    if prepare is not None:
        prepare(stack, leads)
    _receive(leads)
    intake_calls = [call for proxy in proxies for call in proxy.take()]

    process = function_app.process_lead.build().get_user_function()
    traces, latencies = [], []
    started = time.perf_counter()
    for lead in leads:
        message = QueueMessage(
            id=str(uuid.uuid4()), body=lead_row.queue_message(lead.lead_id).encode(), dequeue_count=1
        )
        wall, begin = time.time(), time.perf_counter()
        process(message)
        latencies.append(time.perf_counter() - begin)
        traces.append(LeadTrace(lead.lead_id, wall, time.time()))
    seconds = time.perf_counter() - started

    events = [_storage_event(call) for proxy in proxies for call in proxy.take()] + _events_of_standins(stack)
    for event in sorted(events, key=lambda e: e.time):
        for trace in traces:  # sequential: each event falls into exactly one lead's window
            if trace.started <= event.time <= trace.ended:
                trace.events.append(event)
                break
    statuses = stack.entities(table_name, "Status")
    done = sum(1 for lead in leads if statuses.get(lead.lead_id, {}).get("Status") == "done")
    result = Pass(
        "through the counting proxy" if proxies else "direct",
        seconds,
        latencies,
        traces,
        intake_calls,
        stack.token_scopes(),
        done,
        len(stack.standins.dataverse.leads),
        len(stack.standins.graph.messages),
    )
    stack.delete(table_name, queue_name)
    return result


ROUTING_RULES = """
campaign_from_mktcmpid = true
[[rules]]
name = "bench"
owner_team = "Bench Sales"
campaign = "Bench campaign"
[rules.when]
offer_id = "contoso.*"
"""
ROUTING_SETTINGS = ("LEAD_ROUTING_FILE", "DYNAMICS_LINK_CONTACTS")


def _with_routing(stack: Stack, leads: list[BenchLead]) -> None:
    """Routing (an owner team and a campaign to resolve) and contact linking on; every other lead has a contact."""
    rules = WORK / "routing.toml"
    rules.write_text(ROUTING_RULES)
    stack.use({"LEAD_ROUTING_FILE": str(rules), "DYNAMICS_LINK_CONTACTS": "true"})
    records = stack.standins.dataverse.records
    records.add("teams", name="Bench Sales")
    records.add("campaigns", name="Bench campaign")
    for lead in leads[::2]:
        records.add("contacts", emailaddress1=parse_lead(json.loads(lead.body)).contact.email)


def _routed_pass(stack: Stack, factory: LeadFactory, count: int) -> Pass:
    try:
        return _pass(stack, factory, count, prepare=_with_routing)
    finally:
        for name in ROUTING_SETTINGS:  # the later sections run as configured before
            os.environ.pop(name, None)
        runtime.reset()


def _spread(values: list[int]) -> str:
    """Mean per lead, with min–max when leads differ."""
    mean = sum(values) / len(values)
    return f"{mean:.2f}" if min(values) == max(values) else f"{mean:.2f} ({min(values)}–{max(values)})"


def _slimming(events: list[Event]) -> tuple[list[str], int, int]:
    """Storage requests in one lead's sequence that the same outcome would not need: (notes, reads, writes).

    Two rules, both about our own requests to our own entity:
    - a read after one of our writes re-reads what we wrote: the write's response carries the new ETag;
    - writes with no Dataverse or Graph call between them can be one merge (the later one's condition kept).
    """
    notes = []
    numbered = list(enumerate(events, 1))
    table_reads = [(n, e) for n, e in numbered if e.service == "table" and e.kind == "read"]
    table_writes = [(n, e) for n, e in numbered if e.service == "table" and e.kind == "write"]
    needed_reads = len(table_reads)
    for n, _ in table_reads:
        earlier = [w for w, _ in table_writes if w < n]
        if earlier:
            needed_reads -= 1
            notes.append(
                f"read #{n} re-reads the entity right after our own write #{earlier[-1]}: that write's response "
                "already carries the new ETag (LeadTable.update returns it), so the read can go"
            )
    groups: list[list[int]] = []
    for n, _ in table_writes:
        external = any(not e.storage and groups and groups[-1][-1] < m < n for m, e in numbered)
        if groups and not external:
            groups[-1].append(n)
        else:
            groups.append([n])
    for group in groups:
        if len(group) > 1:
            writes = " + ".join(f"#{n}" for n in group)
            notes.append(
                f"writes {writes} have no Dataverse or Graph call between them: one merge could carry them all "
                "(keeping the ETag condition where there is one)"
            )
    return notes, needed_reads, len(groups)


def run(stack: Stack, factory: LeadFactory, count: int) -> Section:
    progress(f"processing: timed pass, {count} leads")
    direct = _pass(stack, factory, count)
    progress(f"processing: counted pass, {count} leads")
    with (
        CountingProxy("table", stack.azurite.table_port) as tables,
        CountingProxy("queue", stack.azurite.queue_port) as queues,
    ):
        counted = _pass(stack, factory, count, (tables, queues))
    passes = (direct, counted)
    progress(f"processing: routing and contact linking on, {count} leads")
    routed = _routed_pass(stack, factory, count)
    routed_steady = routed.traces[-1].count("Dataverse")
    routed_lookups = sum(t.count("Dataverse") for t in routed.traces) - 2 * count

    for p in (*passes, routed):
        if p.done != count:
            raise BenchError(f"processing ({p.name}): only {p.done} of {count} leads ended done")

    def per_lead(p: Pass, service: str, kind: str | None = None) -> str:
        return _spread([t.count(service, kind) for t in p.traces])

    reads = [t.count("table", "read") + t.count("queue", "read") for t in counted.traces]
    writes = [t.count("table", "write") + t.count("queue", "write") for t in counted.traces]
    rows = [
        ("Leads processed (ended `done`)", *(f"{p.done} of {count}" for p in passes)),
        ("Leads/s (one at a time)", *(f"{p.rate:.0f}" for p in passes)),
        ("Latency p50 / p99 ms", *(f"{ms(median(p.latencies))} / {ms(percentile(p.latencies, 0.99))}" for p in passes)),
        ("Dataverse requests per lead", *(per_lead(p, "Dataverse") for p in passes)),
        ("Graph requests per lead", *(per_lead(p, "Graph") for p in passes)),
        ("Leads in Dataverse / mails sent", *(f"{p.dataverse_leads} / {p.mails}" for p in passes)),
        (
            "Token requests in the pass, per scope",
            *("; ".join(f"{scope}: {n}" for scope, n in sorted(p.token_scopes.items())) or "none" for p in passes),
        ),
        ("Storage reads per lead", "—", _spread(reads)),
        ("Storage writes per lead", "—", _spread(writes)),
    ]

    breakdown: Counter[tuple[str, str, str, str, str]] = Counter()
    for call in counted.intake_calls:
        event = _storage_event(call)
        breakdown[("receive (HTTP function)", event.service, event.request, event.condition, event.kind)] += 1
    for trace in counted.traces:
        for event in trace.events:
            if event.storage:
                breakdown[("process (queue function)", event.service, event.request, event.condition, event.kind)] += 1
    breakdown_rows = [(*key, f"{n / count:.2f}") for key, n in breakdown.items()]

    steady = counted.traces[-1]  # the last lead: tokens and connections long established
    sequence_rows = [(n, e.service, e.request, e.condition, e.writes, e.answer) for n, e in enumerate(steady.events, 1)]
    same = sum(1 for t in counted.traces if [e.signature for e in t.events] == [e.signature for e in steady.events])
    notes, min_reads, min_writes = _slimming(steady.events)
    steady_reads = steady.count("table", "read") + steady.count("queue", "read")
    steady_writes = steady.count("table", "write") + steady.count("queue", "write")

    exact = all(t.count("Dataverse") == 1 and t.count("Graph") == 1 for p in passes for t in p.traces)
    max_tokens = max((n for p in passes for n in p.token_scopes.values()), default=0)
    return Section(
        "2. Processing cost per lead",
        f"{count} leads per pass, received through the HTTP function, then processed one at a time by calling "
        "the queue function as the worker does. Each pass starts as a fresh worker (new storage clients, HTTP "
        "session and token cache) on a fresh table and queue, with the Dataverse and Graph stand-ins (which answer "
        "at once: leads/s is the app's and storage's cost, not the services' latency). "
        "The *timed* pass reaches Azurite directly. The *counted* pass sends table and queue traffic through a "
        "small counting reverse proxy (devtools/storage_proxy.py), so storage requests are counted on the wire, "
        "as Azurite receives them, retries included (Azurite itself is started `--silent`, and leads/ is left "
        "untouched); Dataverse, Graph and token requests come from the stand-ins' logs. Requests are attributed "
        "to a lead by time (processing is sequential). Per-lead figures are means, with min–max when leads differ.",
        [
            table(["", "Timed (direct)", "Counted (proxy)"], rows),
            "Storage requests per lead, by phase (counted pass; the table and queue were created beforehand, as "
            "they exist in production). Not included: the Functions runtime's own queue requests per message "
            "(one receive per batch of up to `batchSize`, one delete), which the app cannot change:\n\n"
            + table(["Phase", "Service", "Operation", "Condition", "Read/write", "Per lead"], breakdown_rows, (5,)),
            f"The sequence for one lead in steady state (the last of the counted pass; {same} of {count} leads "
            "made exactly this sequence, the first one also fetched the tokens):\n\n"
            + table(["#", "Service", "Request", "Condition", "Properties written", "Answer"], sequence_rows, (0,)),
            f"With routing (an owner team and a campaign named by the rules) and `DYNAMICS_LINK_CONTACTS=true` ("
            f"{count} more leads, half of them with an existing contact): Dataverse requests per lead "
            f"{per_lead(routed, 'Dataverse')}; the last lead made {routed_steady} (the contact query and the create); "
            f"name look-ups in the whole pass: {routed_lookups} (one per name, on the first lead).",
            f"Processing one lead takes {plural(steady_reads, 'storage read')} and {plural(steady_writes, 'write')}. "
            + (
                "Candidates to drop, from the sequence above:\n\n"
                + "\n".join(f"- {note}" for note in notes)
                + f"\n\nWith both, the same outcome would take {plural(min_reads, 'read')} and "
                f"{plural(min_writes, 'write')}: the "
                "claim (conditional, carrying DynamicsLeadId) before the mail, and NotifiedAt with the final "
                "Status after it. Those two are what the state machine needs: the claim keeps the mail at most "
                "once across workers, the last write records it."
                if notes
                else "No request in it is redundant by the two rules checked (re-read after own write; writes "
                "with no external call between them)."
            ),
        ],
        [
            Target(
                "Dataverse and Graph requests per lead (steady state)",
                "exactly 1 each",
                f"Dataverse {per_lead(counted, 'Dataverse')}, Graph {per_lead(counted, 'Graph')} "
                f"(timed pass: {per_lead(direct, 'Dataverse')}, {per_lead(direct, 'Graph')})",
                exact,
            ),
            Target("Token requests per scope, per worker", "≤ 1", f"at most {max_tokens}", max_tokens <= 1),
            Target(
                "Dataverse requests per lead, routing and contact linking on (steady state)",
                "2 (contact query + create); names looked up once",
                f"{routed_steady} on the last lead, mean {per_lead(routed, 'Dataverse')}; "
                f"{routed_lookups} name look-ups",
                routed_steady == 2 and routed_lookups == 2,
            ),
            Target(
                "Storage requests per processed lead",
                f"1 read; {min_writes} writes (none that could merge)",
                f"{plural(steady_reads, 'read')} + {plural(steady_writes, 'write')}",
                steady_reads <= 1 and steady_writes <= min_writes,
            ),
        ],
    )
