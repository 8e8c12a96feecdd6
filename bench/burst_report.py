"""§4 Burst, the report: what the client was told, what was stored, what reached Dynamics and the mailbox.

bench/burst.py runs the burst and hands over a ``BurstRun``; the stand-ins' logs are read here.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.report import Section, Target, duration, median, ms, percentile, table
from bench.stack import Stack
from leads.core.mapping import dataverse_lead_id

_LEAD_ID = re.compile(r"\b[0-9a-f]{32}\b")
_DURATION = re.compile(r"Executed 'Functions\.process_lead' \(Succeeded, .*Duration=(\d+)ms")
_NOISE = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f-]{27}|\d+")


@dataclass(frozen=True)
class Answer:
    lead_id: str
    status: int | None  # None: no answer after max_attempts
    duplicate: bool | None
    latency: float  # of the answered attempt
    retries: int


@dataclass(frozen=True)
class BurstRun:
    """How the burst was run, and what it left behind (memory and CPU read just before the worker stopped)."""

    total: int
    repeats: int
    distinct_ids: frozenset[str]
    threads: int
    max_attempts: int  # per lead, by the client
    service_latency: dict[str, float]  # seconds each Dataverse create / Graph sendMail waited
    queues: dict[str, Any]  # host.json's queues section, as the worker ran it
    answers: list[Answer]
    started_at: datetime
    ingest_seconds: float
    entities: dict[str, dict[str, Any]]
    queued: int
    poisoned: int
    memory: dict[str, str]  # /proc/<pid>/status of the worker
    cpu: float
    host_log: str

    @property
    def batch_settings(self) -> tuple[int, int]:
        # batchSize, newBatchThreshold: host.json sets both (unset, the host derives the threshold from the cores)
        return self.queues.get("batchSize", 16), self.queues.get("newBatchThreshold", 8)


@dataclass(frozen=True)
class _Told:
    """What the client was told."""

    new: Counter[str]  # answered 202 new, per lead id
    repeated: int
    other: Counter[int]  # answers other than 202, per status
    unanswered: int
    retries: int
    latencies: list[float]


@dataclass(frozen=True)
class _Stored:
    """What was stored and done."""

    done_at: list[datetime]
    statuses: Counter[str]
    lost: int
    finished: float | None  # seconds from the first post to the last lead done


@dataclass(frozen=True)
class _Reached:
    """What reached Dynamics and the mailbox."""

    created: Counter[str]  # Dataverse creates, per lead id
    dataverse_statuses: Counter[int]
    mails: Counter[str]  # mails, per lead id
    graph_statuses: Counter[int]
    scopes: Counter[str]  # token requests
    token_times: dict[str, list[float]]  # per scope

    @property
    def dataverse_twice(self) -> int:
        return sum(1 for n in self.created.values() if n > 1)

    @property
    def mail_twice(self) -> int:
        return sum(1 for n in self.mails.values() if n > 1)

    @property
    def throttled(self) -> int:
        return self.dataverse_statuses[429] + self.graph_statuses[429]


@dataclass(frozen=True)
class _HostLog:
    outcomes: Counter[str]  # invocations
    durations: list[float]  # process_lead, seconds
    problems: list[str]  # the distinct warnings and errors


def _told(answers: list[Answer]) -> _Told:
    answered = [a for a in answers if a.status is not None]
    return _Told(
        new=Counter(a.lead_id for a in answered if a.status == 202 and a.duplicate is False),
        repeated=sum(1 for a in answered if a.status == 202 and a.duplicate is True),
        other=Counter(a.status for a in answered if a.status is not None and a.status != 202),
        unanswered=len(answers) - len(answered),
        retries=sum(a.retries for a in answers),
        latencies=[a.latency for a in answered],
    )


def _stored(run: BurstRun) -> _Stored:
    done_at = [e["UpdatedAt"] for lead_id, e in run.entities.items() if e.get("Status") == "done"]
    statuses = Counter(run.entities.get(lead_id, {}).get("Status", "missing") for lead_id in run.distinct_ids)
    finished = (max(done_at) - run.started_at).total_seconds() if done_at else None
    return _Stored(done_at, statuses, len(run.distinct_ids) - statuses["done"], finished)


def _reached(stack: Stack, distinct_ids: frozenset[str]) -> _Reached:
    dataverse, graph = stack.standins.dataverse, stack.standins.graph
    by_dataverse_id = {dataverse_lead_id(lead_id): lead_id for lead_id in distinct_ids}
    created: Counter[str] = Counter()
    dataverse_statuses: Counter[int] = Counter()
    for r in dataverse.requests:
        dataverse_statuses[r.status] += 1
        key = r.path.rsplit("leads(", 1)[-1].rstrip(")").lower()
        if r.method == "PATCH" and r.status in (200, 201, 204) and key in by_dataverse_id:
            created[by_dataverse_id[key]] += 1
    mails: Counter[str] = Counter()
    for message in graph.messages:
        for lead_id in set(_LEAD_ID.findall(message.content)) & distinct_ids:
            mails[lead_id] += 1
    token_times: dict[str, list[float]] = {}
    for t in stack.standins.entra.token_requests:
        token_times.setdefault(stack.resource(t), []).append(t.time)
    graph_statuses = Counter(r.status for r in graph.requests)
    return _Reached(created, dataverse_statuses, mails, graph_statuses, stack.token_scopes(), token_times)


def _host_log(log: str) -> _HostLog:
    """Invocation outcomes, process_lead durations (s) and the distinct warnings/errors of the host's log."""
    outcomes: Counter[str] = Counter()
    for function, outcome in re.findall(r"Executed 'Functions\.(\w+)' \((\w+),", log):
        outcomes[f"{function} {outcome.lower()}"] += 1
    durations = [int(value) / 1000 for value in _DURATION.findall(log)]
    problems: Counter[str] = Counter()
    for line in log.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2] in ("WARNING", "ERROR"):
            problems[f"{parts[2]} {_NOISE.sub('…', parts[3])[:160]}"] += 1
    return _HostLog(outcomes, durations, [f"{n} × {text}" for text, n in problems.most_common(8)])


def _counts(counter: Counter[int]) -> str:
    return ", ".join(f"{n:,} × {status}" for status, n in sorted(counter.items())) or "none"


def _rows(stack: Stack, run: BurstRun, told: _Told, stored: _Stored, reached: _Reached, log: _HostLog) -> str:
    total, distinct, latencies, finished = run.total, len(run.distinct_ids), told.latencies, stored.finished
    dataverse, graph = stack.standins.dataverse, stack.standins.graph
    rows = [
        ("Leads posted", f"{total:,} ({distinct:,} distinct + {run.repeats:,} exact repeats, shuffled), "
                         f"{run.threads} client threads, keep-alive"),
        ("Answers", f"{sum(told.new.values()):,} × 202 new, {told.repeated:,} × 202 duplicate"
                    + (f", {_counts(told.other)}" if told.other else "")
                    + (f", {told.unanswered} unanswered" if told.unanswered else "")
                    + f"; client retries: {told.retries}"),
        ("Leads answered *new* more than once", str(sum(1 for n in told.new.values() if n > 1))),
        ("Posting took", f"{duration(run.ingest_seconds)} ({total / run.ingest_seconds:.0f} leads/s; latency p50 "
                         f"{ms(percentile(latencies, 0.5))} ms, p99 {ms(percentile(latencies, 0.99))} ms)"),
        ("Last lead done after", f"{duration(finished)} from the first post ({len(stored.done_at) / finished:.0f} "
                                 "leads/s end to end)" if finished else "no lead was done"),
        ("Lost (distinct leads not stored and `done`)",
         f"{stored.lost}" + (f" ({dict(stored.statuses)})" if stored.lost else "")),
        ("Left in the queue / poison queue", f"{run.queued} / {run.poisoned}"),
        ("Dataverse: leads created / created twice / missing",
         f"{len(reached.created):,} / {reached.dataverse_twice} / {distinct - len(reached.created)}"),
        ("Dataverse: requests by answer", _counts(reached.dataverse_statuses)),
        ("Graph: leads mailed / mailed twice / not mailed",
         f"{len(reached.mails):,} / {reached.mail_twice} / {distinct - len(reached.mails)}"),
        ("Graph: requests by answer", _counts(reached.graph_statuses)),
        ("429s served (Dataverse + Graph)", f"{reached.throttled:,}"),
        ("Peak concurrent requests at the stand-ins (their limit)",
         f"Dataverse {dataverse.peak_in_flight} ({dataverse.concurrency_limit}), "
         f"Graph {graph.peak_in_flight} ({graph.concurrency_limit})"),
        ("Token requests, per scope", "; ".join(f"{s}: {n}" for s, n in sorted(reached.scopes.items())) or "none"),
        ("Invocations (host log)", ", ".join(f"{n:,} {what}" for what, n in sorted(log.outcomes.items()))),
        ("process_lead duration p50 / p99",
         f"{ms(median(log.durations))} / {ms(percentile(log.durations, 0.99))} ms" if log.durations else "—"),
        ("Worker peak memory (VmHWM) / at end (VmRSS)",
         f"{run.memory.get('VmHWM', '?')} / {run.memory.get('VmRSS', '?')}"),
        ("Worker CPU time (user + system)", f"{run.cpu:.0f} s"),
    ]  # fmt: skip
    return table(["", ""], rows)


def _notes(run: BurstRun, reached: _Reached, problems: list[str], graph_peak: int) -> list[str]:
    """What the table's figures mean: no throttling, tokens fetched at once, warnings in the host's log."""
    notes = []
    if reached.throttled == 0:
        notes.append(
            f"No 429s: this worker never has more than {sum(run.batch_settings)} invocations in flight (batchSize + "
            f"newBatchThreshold), and at most {graph_peak} of them were calling Graph at the same moment, "
            "within its limit of 4. The throttling path is exercised when more invocations run at once: a larger "
            "batchSize, more worker processes, or several instances, which share the mailbox's limit "
            "(`python -m bench --only burst --burst-batch-size 16` runs this section with 24 in flight)."
        )
    herds = {scope: times for scope, times in reached.token_times.items() if len(times) > 1}
    for scope, times in sorted(herds.items()):
        notes.append(
            f"The {len(times)} {scope} token requests were all made within {max(times) - min(times):.2f} s: "
            "invocations that started together each found the worker's token cache empty and signed in "
            "(leads/identity.py creates the MSAL app under a lock but calls acquire_token_for_client without one). "
            "Holding a per-scope lock around that call, or fetching the tokens once at start-up, would make it one."
        )
    if problems:
        notes.append(
            "Warnings and errors in the host's log (numbers and ids elided):\n\n"
            + "\n".join(f"- `{problem}`" for problem in problems)
        )
    if any("Connection pool is full" in problem for problem in problems):
        notes.append(
            "*Connection pool is full*: the storage clients use azure-core's requests transport, whose urllib3 "
            "pool keeps 10 connections per host (requests' default; the Dataverse/Graph session has 16). With "
            f"{run.threads} concurrent HTTP invocations sharing one table client and one queue client, the "
            "connections beyond 10 are opened for one request and then closed. A transport with a larger pool (e.g. "
            "`RequestsTransport(session=…)` with an `HTTPAdapter(pool_maxsize=…)` sized to the worker's thread "
            "count) would keep them."
        )
    return notes


def _method(run: BurstRun) -> str:
    batch, threshold = run.batch_settings
    return (
        f"{run.total:,} leads POSTed concurrently over HTTP to the local development host running as its own "
        f"process (`python -m devtools.host`), which then processed them with its queue trigger (host.json: "
        f"batchSize {batch}, newBatchThreshold {threshold}, so at most {batch + threshold} leads in flight; "
        f"maxPollingInterval {run.queues['maxPollingInterval']} and visibilityTimeout "
        f"{run.queues['visibilityTimeout']} shortened for the run). The client retries a 503 or a failed "
        f"connection up to {run.max_attempts} times, as the marketplace would. Counts come from the table, the "
        "queues, the stand-ins' logs (per lead: Dataverse creates by leadid, mails by the lead id in their body) "
        "and the host's log; memory from /proc/<pid>/status of the worker just before it was stopped. The "
        "stand-ins answer Dataverse requests beyond 52 and Graph requests beyond 4 at once with 429 and "
        "Retry-After; so that requests overlap as they would against the real services, each Dataverse create "
        f"waits {run.service_latency['Dataverse'] * 1000:.0f} ms and each sendMail "
        f"{run.service_latency['Graph'] * 1000:.0f} ms before it is answered (otherwise they answer in about a "
        "millisecond and never reach their limits)."
    )


def _targets(run: BurstRun, told: _Told, stored: _Stored, reached: _Reached) -> list[Target]:
    distinct, scopes, mail_twice = len(run.distinct_ids), reached.scopes, reached.mail_twice
    mail_missing = distinct - len(reached.mails)
    return [
        Target("Burst: lost leads", "0", f"{stored.lost} of {distinct:,}", stored.lost == 0 and told.unanswered == 0),
        Target(
            "Burst: leads created twice in Dataverse",
            "0",
            str(reached.dataverse_twice),
            reached.dataverse_twice == 0 and len(reached.created) == distinct,
        ),
        Target("Burst: leads mailed twice", "0", str(mail_twice), mail_twice == 0 and mail_missing == 0),
        Target(
            "Burst: token requests per scope (one worker, concurrent invocations)",
            "≤ 1",
            "; ".join(f"{scope} {n}" for scope, n in sorted(scopes.items())) or "none",
            max(scopes.values(), default=0) <= 1,
        ),
    ]


def section(stack: Stack, run: BurstRun) -> Section:
    """§4 of the report, from the run and the stand-ins' logs (read once the worker has stopped)."""
    told, stored, reached = _told(run.answers), _stored(run), _reached(stack, run.distinct_ids)
    log = _host_log(run.host_log)
    return Section(
        "4. Burst",
        _method(run),
        [
            _rows(stack, run, told, stored, reached, log),
            *_notes(run, reached, log.problems, stack.standins.graph.peak_in_flight),
        ],
        _targets(run, told, stored, reached),
    )
