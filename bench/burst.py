"""§4 Burst: many leads posted at once to the local host, a tenth of them exact repeats, then processed by the
host's own queue trigger. Nothing may be lost and nothing may reach Dynamics or the mailbox twice.

The host runs as its own process (``python -m devtools.host``), as a worker would, with the project's host.json
except for a short maxPollingInterval and visibilityTimeout (so a retried message does not idle the run for
minutes). The stand-ins enforce Dataverse's 52 and Graph's 4 concurrent requests with 429s, which the app
retries; the report counts them. They are given a little latency (SERVICE_LATENCY), so that requests overlap
at them as they would at the real services. The report is built by bench/burst_report.py.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import TracebackType

import requests

from bench.burst_report import Answer, BurstRun, section
from bench.report import Section
from bench.stack import WORK, BenchLead, LeadFactory, Stack, progress
from bench.worker import Worker

CLIENT_THREADS = 24
MAX_ATTEMPTS = 5  # per lead, when the host answers 503 or the connection fails, as the marketplace retries
STALL_SECONDS = 120  # give up waiting when nothing progressed for this long
MAX_WAIT_SECONDS = 30 * 60
HOST_JSON_CHANGES = {"maxPollingInterval": "00:00:00.500", "visibilityTimeout": "00:00:05"}
# The stand-ins answer in about a millisecond; the real services take longer, and only then do concurrent
# invocations pile up at them. Each create and each sendMail waits this long first (a modest guess, well under
# what Dataverse and Exchange Online usually take), so their concurrency limits come into play.
SERVICE_LATENCY = {"Dataverse": 0.05, "Graph": 0.1}


class _Sessions:
    """One keep-alive session per client thread, all closed at the end."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[requests.Session] = []
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._lock:
                self._all.append(session)
        return session

    def __enter__(self) -> _Sessions:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        for session in self._all:
            session.close()


def _post_all(url: str, leads: list[BenchLead], threads: int) -> list[Answer]:
    with _Sessions() as sessions:

        def post(lead: BenchLead) -> Answer:
            for attempt in range(MAX_ATTEMPTS):
                begin = time.perf_counter()
                try:
                    response = sessions.get().post(
                        url, data=lead.body, headers={"Content-Type": "application/json"}, timeout=60
                    )
                except requests.RequestException:
                    time.sleep(0.5 * (attempt + 1))
                    continue
                latency = time.perf_counter() - begin
                if response.status_code == 503:
                    time.sleep(0.5 * (attempt + 1))
                    continue
                duplicate = response.json().get("duplicate") if response.status_code == 202 else None
                return Answer(lead.lead_id, response.status_code, duplicate, latency, attempt)
            return Answer(lead.lead_id, None, None, 0.0, MAX_ATTEMPTS)

        with ThreadPoolExecutor(threads, thread_name_prefix="client") as pool:
            return list(pool.map(post, leads))


def _wait(progressed: Callable[[], int], finished: Callable[[], bool], what: str) -> bool:
    """Poll until ``finished()``; give up when ``progressed()`` stops moving for STALL_SECONDS (or at the cap)."""
    cap = time.monotonic() + MAX_WAIT_SECONDS
    last, last_change, last_report = -1, time.monotonic(), 0.0
    while time.monotonic() < cap:
        if finished():
            return True
        now, value = time.monotonic(), progressed()
        if value != last:
            last, last_change = value, now
        elif now - last_change > STALL_SECONDS:
            progress(f"burst: {what} stalled at {value}")
            return False
        if now - last_report > 15:
            progress(f"burst: {what}: {value}")
            last_report = now
        time.sleep(1)
    return False


def _with_repeats(factory: LeadFactory, total: int) -> tuple[list[BenchLead], list[BenchLead]]:
    """``total`` leads, a tenth of them exact repeats: the distinct ones, and all of them in posting order."""
    repeats = total // 10
    distinct = factory.make(total - repeats)
    shuffle = random.Random(20_261_121)
    burst = distinct + shuffle.sample(distinct, repeats)
    shuffle.shuffle(burst)  # repeats arrive both close to and long after their originals
    return distinct, burst


def _slow_down_services(stack: Stack, total: int) -> None:
    stack.standins.reset()
    dataverse, graph = stack.standins.dataverse, stack.standins.graph
    # A delay-only fault slows the matching requests and then answers normally; enough for every retry.
    dataverse.fail_next(delay=SERVICE_LATENCY["Dataverse"], times=10 * total, method="PATCH", path=r"/leads\(")
    graph.fail_next(delay=SERVICE_LATENCY["Graph"], times=10 * total, method="POST", path=r"/sendMail$")


def _queue_settings(batch_size: int | None) -> dict[str, object]:
    queues: dict[str, object] = dict(HOST_JSON_CHANGES)
    if batch_size is not None:
        queues |= {"batchSize": batch_size, "newBatchThreshold": batch_size // 2}
    return queues


def _wait_until_processed(stack: Stack, queue_name: str, distinct: int) -> None:
    dataverse, graph = stack.standins.dataverse, stack.standins.graph
    _wait(
        lambda: len(graph.messages),
        lambda: len(dataverse.leads) >= distinct and len(graph.messages) >= distinct,
        "mails sent",
    )
    # Status is written after the mail, and the message deleted after that: wait for both as well.
    _wait(lambda: stack.message_count(queue_name), lambda: stack.message_count(queue_name) == 0, "messages left")
    time.sleep(6)  # longer than the visibility timeout: a late redelivery would show up below


def run(
    stack: Stack, factory: LeadFactory, total: int, threads: int = CLIENT_THREADS, batch_size: int | None = None
) -> Section:
    """``batch_size`` replaces host.json's batchSize (and newBatchThreshold, with half of it): more in flight."""
    work = WORK / "burst"
    work.mkdir(parents=True, exist_ok=True)
    distinct, burst = _with_repeats(factory, total)
    table_name, queue_name = stack.fresh_names()
    stack.create(table_name, queue_name)
    _slow_down_services(stack, total)
    progress(f"burst: starting the host; {total} leads ({len(distinct)} distinct) from {threads} client threads")
    with Worker(work, stack.settings(table_name, queue_name), _queue_settings(batch_size)) as worker:
        started_at, started = datetime.now(UTC), time.perf_counter()
        answers = _post_all(f"{worker.base_url}/api/leads", burst, threads)
        ingest_seconds = time.perf_counter() - started
        progress(f"burst: {total} posted in {ingest_seconds:.0f} s; waiting for processing")
        _wait_until_processed(stack, queue_name, len(distinct))
        entities = stack.entities(table_name, "Status", "UpdatedAt")
        queued = stack.message_count(queue_name)
        poisoned = stack.message_count(f"{queue_name}-poison")
        memory = worker.status()
        cpu = worker.cpu_seconds()
    stack.delete(table_name, queue_name)
    result = BurstRun(
        total=total,
        repeats=total - len(distinct),
        distinct_ids=frozenset(lead.lead_id for lead in distinct),
        threads=threads,
        max_attempts=MAX_ATTEMPTS,
        service_latency=SERVICE_LATENCY,
        queues=json.loads((work / "host.json").read_text())["extensions"]["queues"],
        answers=answers,
        started_at=started_at,
        ingest_seconds=ingest_seconds,
        entities=entities,
        queued=queued,
        poisoned=poisoned,
        memory=memory,
        cpu=cpu,
        host_log=worker.log_path.read_text(errors="replace"),
    )
    return section(stack, result)
