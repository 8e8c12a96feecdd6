"""§2 Processing: what one queued lead costs, request by request.

N leads are received through the HTTP function, then processed one at a time by calling the queue function as
the worker does (process_lead.build().get_user_function() with a QueueMessage). Two passes, each a fresh
worker (new clients, new token cache) on a fresh table and queue:

- timed: storage reached directly, for leads/s;
- counted: table and queue traffic through a counting proxy (devtools.storage_proxy), so every storage request
  is seen on the wire, SDK retries included. Dataverse, Graph and Entra ID requests come from the stand-ins'
  own logs.

Processing is sequential, so each request is attributed to a lead by time: everything logged between the call
and the return of that lead's invocation (bench/processing_trace.py). The report is built by
bench/processing_report.py.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable

import azure.functions as func
from azure.functions.queue import QueueMessage

import function_app
from bench.ingest import FUNCTION_URL, JSON_HEADERS, BenchError
from bench.processing_report import section
from bench.processing_trace import LeadTrace, Pass, attribute, events_of_standins, storage_event
from bench.report import Section
from bench.stack import WORK, BenchLead, LeadFactory, Stack, progress
from devtools.storage_proxy import CountingProxy
from leads import runtime
from leads.core import lead_row
from leads.core.payload import parse_lead


def _receive(leads: list[BenchLead]) -> None:
    receive = function_app.receive_lead.build().get_user_function()
    for lead in leads:
        response = receive(func.HttpRequest("POST", FUNCTION_URL, headers=JSON_HEADERS, body=lead.body))
        if response.status_code != 202:
            raise BenchError(f"a new lead was answered {response.status_code} {response.get_body()[:200]!r}")


def _process_one_by_one(leads: list[BenchLead]) -> tuple[list[LeadTrace], list[float], float]:
    """Call the queue function for each lead as the worker does: the traces (still empty), latencies, seconds."""
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
    return traces, latencies, time.perf_counter() - started


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
    traces, latencies, seconds = _process_one_by_one(leads)
    attribute([storage_event(call) for proxy in proxies for call in proxy.take()] + events_of_standins(stack), traces)
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


class ReturningFactory:
    """With DYNAMICS_DUPLICATES=attach: half the leads from new people, then the same people again (a "Contact me"
    after their install): each of those is a returning customer whose first lead is open in Dynamics."""

    def __init__(self, factory: LeadFactory) -> None:
        self.factory = factory

    def make(self, count: int) -> list[BenchLead]:
        first = self.factory.make(count - count // 2)
        again = []
        for lead in first[: count // 2]:
            document = json.loads(lead.body) | {"ActionCode": "PLT", "Description": "Please call me back"}
            document["LeadSource"] = document["LeadSource"].replace("-INS|", "-PLT|")
            again.append(BenchLead(parse_lead(document).lead_id, json.dumps(document).encode()))
        return first + again


def _attach_pass(stack: Stack, factory: LeadFactory, count: int) -> Pass:
    """Through the counting proxy, so the person's claim shows in the storage requests."""
    try:
        stack.use({"DYNAMICS_DUPLICATES": "attach"})
        with (
            CountingProxy("table", stack.azurite.table_port) as tables,
            CountingProxy("queue", stack.azurite.queue_port) as queues,
        ):
            return _pass(stack, ReturningFactory(factory), count, (tables, queues))  # type: ignore[arg-type]
    finally:
        os.environ.pop("DYNAMICS_DUPLICATES", None)
        runtime.reset()


def run(stack: Stack, factory: LeadFactory, count: int) -> Section:
    progress(f"processing: timed pass, {count} leads")
    direct = _pass(stack, factory, count)
    progress(f"processing: counted pass, {count} leads")
    with (
        CountingProxy("table", stack.azurite.table_port) as tables,
        CountingProxy("queue", stack.azurite.queue_port) as queues,
    ):
        counted = _pass(stack, factory, count, (tables, queues))
    progress(f"processing: routing and contact linking on, {count} leads")
    routed = _routed_pass(stack, factory, count)
    progress(f"processing: returning customers attached (DYNAMICS_DUPLICATES=attach), {count} leads")
    attached = _attach_pass(stack, factory, count)
    for p in (direct, counted, routed, attached):
        if p.done != count:
            raise BenchError(f"processing ({p.name}): only {p.done} of {count} leads ended done")
    if attached.dataverse_leads != count - count // 2:
        raise BenchError(
            f"processing (attach): {attached.dataverse_leads} Dynamics leads for {count - count // 2} people"
        )
    return section(count, direct, counted, routed, attached)
