"""§1 Ingest: what receiving a lead costs, next to the two storage calls it cannot avoid.

Three variants store and enqueue the same kind of lead against the same Azurite, one lead at a time:

(a) the floor: a bare loop with the SDKs, TableClient.create_entity of the very entity the app would store
    (built beforehand) and QueueClient.send_message of its message with TextBase64EncodePolicy;
(b) our HTTP function, called as the worker calls it: receive_lead.build().get_user_function()(HttpRequest);
(c) the same function behind the local development host, over HTTP (requests.Session, keep-alive).

They run interleaved (a, b, c, a, b, c, …), each on a table and queue of its own, so noise hits them alike;
the ratios are taken round by round and the report gives their median.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import azure.functions as func
import requests
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

import function_app
from bench.report import Section, Target, median, ms, percentile, table
from bench.stack import ROOT, BenchLead, LeadFactory, Stack, progress
from devtools.host import LocalHost
from leads.adapters.lead_queue import LeadQueue
from leads.adapters.lead_table import LeadTable
from leads.core import clock, lead_row
from leads.core.payload import parse_lead
from leads.steps import intake

TARGET_RATIO = 0.8
JSON_HEADERS = {"Content-Type": "application/json"}
FUNCTION_URL = "http://localhost/api/leads"  # what the worker would pass; the function does not look at it


class BenchError(RuntimeError):
    """The app did not do what was measured (a lead refused, not stored, …): a result would be meaningless."""


@dataclass
class Run:
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


Variant = Callable[[Stack, list[BenchLead], str, str, str], Run]


def _baseline(stack: Stack, leads: list[BenchLead], table_name: str, queue_name: str, url: str) -> Run:
    connection = stack.connection_string()
    tables = TableClient.from_connection_string(connection, table_name)
    queue = QueueClient.from_connection_string(connection, queue_name, message_encode_policy=TextBase64EncodePolicy())
    received_at = datetime.now(UTC)
    work = [
        (lead_row.new_entity(parse_lead(json.loads(lead.body)), received_at), lead_row.queue_message(lead.lead_id))
        for lead in leads
    ]
    latencies = []
    started = time.perf_counter()
    for entity, message in work:
        begin = time.perf_counter()
        tables.create_entity(entity)
        queue.send_message(message)
        latencies.append(time.perf_counter() - begin)
    return Run(time.perf_counter() - started, latencies)


def _accepted(answers: list[tuple[int, bytes]]) -> None:
    for status, body in answers:
        if status != 202 or json.loads(body).get("duplicate") is not False:
            raise BenchError(f"a new lead was answered {status} {body[:200]!r}")


def _function(stack: Stack, leads: list[BenchLead], table_name: str, queue_name: str, url: str) -> Run:
    stack.use(stack.settings(table_name, queue_name))
    receive = function_app.receive_lead.build().get_user_function()
    answers, latencies = [], []
    started = time.perf_counter()
    for lead in leads:
        begin = time.perf_counter()
        response = receive(func.HttpRequest("POST", FUNCTION_URL, headers=JSON_HEADERS, body=lead.body))
        latencies.append(time.perf_counter() - begin)
        answers.append((response.status_code, response.get_body()))
    seconds = time.perf_counter() - started
    _accepted(answers)
    return Run(seconds, latencies)


def _over_http(stack: Stack, leads: list[BenchLead], table_name: str, queue_name: str, url: str) -> Run:
    stack.use(stack.settings(table_name, queue_name))  # the in-process host's function reads the same runtime
    answers, latencies = [], []
    with requests.Session() as session:
        started = time.perf_counter()
        for lead in leads:
            begin = time.perf_counter()
            response = session.post(url, data=lead.body, headers=JSON_HEADERS, timeout=30)
            latencies.append(time.perf_counter() - begin)
            answers.append((response.status_code, response.content))
        seconds = time.perf_counter() - started
    _accepted(answers)
    return Run(seconds, latencies)


VARIANTS: dict[str, tuple[str, Variant]] = {
    "a": ("(a) SDK floor: create_entity + send_message", _baseline),
    "b": ("(b) HTTP function, called directly", _function),
    "c": ("(c) local host over HTTP", _over_http),
}


def _round(stack: Stack, factory: LeadFactory, per_round: int, urls: dict[str, str]) -> dict[str, Run]:
    runs = {}
    for key, (_, variant) in VARIANTS.items():
        if key not in urls and key.startswith("c"):
            continue  # no host for this variant in this run
        leads = factory.make(per_round)
        table_name, queue_name = stack.fresh_names()
        stack.create(table_name, queue_name)
        try:
            runs[key] = variant(stack, leads, table_name, queue_name, urls.get(key, ""))
            stored = len(stack.entities(table_name))
            queued = stack.message_count(queue_name)
            if (stored, queued) != (per_round, per_round):
                raise BenchError(f"variant {key}: {stored} stored and {queued} queued of {per_round} leads")
        finally:
            stack.delete(table_name, queue_name)
    return runs


class _NoStorage:
    """Stands in for LeadTable and LeadQueue: accepts every lead and message, stores nothing."""

    def insert(self, entity: dict[str, Any]) -> bool:
        return True

    def send(self, text: str, delay_seconds: int = 0) -> None:
        return None


def _own_work(leads: list[BenchLead], repeats: int = 3) -> float:
    """Seconds per lead of intake.receive with storage stubbed out: the function's own work, best of ``repeats``."""
    nothing = _NoStorage()
    table_stub, queue_stub = cast(LeadTable, nothing), cast(LeadQueue, nothing)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for lead in leads:
            intake.receive(lead.body, table_stub, queue_stub, clock.now())
        best = min(best, (time.perf_counter() - started) / len(leads))
    return best


def _profile(stack: Stack, factory: LeadFactory, count: int) -> str:
    """Where (b) spends its time beyond the SDK calls: the functions with the most time of their own."""
    table_name, queue_name = stack.fresh_names()
    stack.create(table_name, queue_name)
    try:
        profiler = cProfile.Profile()
        leads = factory.make(count)
        profiler.runcall(_function, stack, leads, table_name, queue_name, "")
    finally:
        stack.delete(table_name, queue_name)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    return out.getvalue()


def _measure(stack: Stack, factory: LeadFactory, rounds: int, per_round: int) -> list[dict[str, Run]]:
    """A warm-up round, then ``rounds`` rounds of every variant: each round's runs by variant."""
    idle_table, idle_queue = stack.fresh_names()
    # The host's queue listener binds %LEADS_QUEUE% at start: give it a queue nobody writes to, so (c) measures
    # receiving only, while each round points the function at its own table and queue.
    stack.use(stack.settings(idle_table, idle_queue))
    results: list[dict[str, Run]] = []
    with LocalHost(ROOT, port=0) as host:
        urls = {"c": f"{host.base_url}/api/leads"}
        progress("ingest: warm-up round")
        _round(stack, factory, min(50, per_round), urls)  # connections, first-call paths, Azurite's JIT
        for number in range(1, rounds + 1):
            progress(f"ingest: round {number}/{rounds} ({per_round} leads per variant)")
            results.append(_round(stack, factory, per_round, urls))
    stack.delete(idle_table, idle_queue)
    return results


def _summary_table(results: list[dict[str, Run]], keys: list[str], ratios: dict[str, list[float]]) -> str:
    summary_rows = []
    for key in keys:
        latencies = [value for r in results for value in r[key].latencies]
        ratio = "1.00" if key == "a" else f"{median(ratios[key]):.2f} ({min(ratios[key]):.2f}–{max(ratios[key]):.2f})"
        summary_rows.append(
            (
                VARIANTS[key][0],
                f"{median([r[key].rate for r in results]):.0f}",
                ms(percentile(latencies, 0.50)),
                ms(percentile(latencies, 0.99)),
                ratio,
            )
        )
    return table(["Variant", "leads/s", "p50 ms", "p99 ms", "leads/s vs (a)"], summary_rows, right=(1, 2, 3, 4))


def _rounds_table(results: list[dict[str, Run]], keys: list[str]) -> str:
    round_rows = [
        (
            number,
            *(f"{r[key].rate:.0f}" for key in keys),
            *(f"{r[key].rate / r['a'].rate:.2f}" for key in keys[1:]),
        )
        for number, r in enumerate(results, 1)
    ]
    round_headers = ["Round", *(f"({key})" for key in keys), *(f"{key}/a" for key in keys[1:])]
    return "Per round (leads/s):\n\n" + table(round_headers, round_rows, right=tuple(range(len(round_headers))))


def _method(rounds: int, per_round: int) -> str:
    return (
        f"{rounds} rounds × {per_round} distinct leads per variant, one lead at a time, variants interleaved "
        "(a, b, c in every round, each on a fresh table and queue, after one warm-up round). "
        "(a) is the floor: the two SDK calls any implementation must make, with the entity and message the app "
        "builds (prepared beforehand). (b) is our HTTP function as the worker calls it. (c) adds the local "
        "development host's HTTP server, running in the benchmark's own process (client and server share one "
        "interpreter, so (c) is a pessimistic view of the HTTP layer). "
        "leads/s: median over rounds; latency: p50/p99 over all leads of the variant; vs (a): median of the "
        "per-round ratios of leads/s (range in brackets). Every round checks that each variant stored and "
        "enqueued every lead."
    )


def _own_work_note(per_round: int, own_work: float, p50: dict[str, float]) -> str:
    return (
        f"Median latency (median of the rounds' p50): (b) {ms(p50['b'])} ms, (a) {ms(p50['a'])} ms. "
        f"The function's own work, measured alone on {per_round} leads (intake.receive with storage stubbed "
        f"out: decoding, validating, the lead id, the entity and the message), is {own_work * 1000:.2f} ms per "
        f"lead, {own_work / p50['a']:.0%} of the floor's latency: the two storage round trips are what a lead "
        "costs."
    )


def run(stack: Stack, factory: LeadFactory, rounds: int, per_round: int) -> Section:
    results = _measure(stack, factory, rounds, per_round)
    own_work = _own_work(factory.make(per_round))
    keys = [key for key in VARIANTS if key in results[0]]
    ratios = {key: [r[key].rate / r["a"].rate for r in results] for key in keys}
    b_over_a = median(ratios["b"])
    p50 = {key: median([percentile(r[key].latencies, 0.5) for r in results]) for key in keys}
    section = Section(
        "1. Ingest cost vs the storage floor",
        _method(rounds, per_round),
        [
            _summary_table(results, keys, ratios),
            _rounds_table(results, keys),
            _own_work_note(per_round, own_work, p50),
        ],
        [
            Target(
                "Ingest b/a (HTTP function vs SDK floor)",
                f"≥ {TARGET_RATIO}",
                f"{b_over_a:.2f}",
                b_over_a >= TARGET_RATIO,
            ),
        ],
    )
    if b_over_a < TARGET_RATIO:
        progress("ingest: b/a below target, profiling (b)")
        section.blocks.append(
            "Profile of (b), 200 leads (functions by own time):\n\n```\n"
            + _profile(stack, factory, 200).strip()
            + "\n```"
        )
    return section
