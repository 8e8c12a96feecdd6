"""§4 Burst: many leads posted at once to the local host, a tenth of them exact repeats, then processed by the
host's own queue trigger. Nothing may be lost and nothing may reach Dynamics or the mailbox twice.

The host runs as its own process (``python -m devtools.host``), as a worker would, with the project's host.json
except for a short maxPollingInterval and visibilityTimeout (so a retried message does not idle the run for
minutes). The stand-ins enforce Dataverse's 52 and Graph's 4 concurrent requests with 429s, which the app
retries; the report counts them. They are given a little latency (SERVICE_LATENCY), so that requests overlap
at them as they would at the real services.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import requests

from bench.report import Section, Target, duration, median, ms, percentile, table
from bench.stack import ROOT, WORK, BenchLead, LeadFactory, Stack, progress
from devtools.azurite import free_port, port_open
from leads.core.mapping import dataverse_lead_id

CLIENT_THREADS = 24
MAX_ATTEMPTS = 5  # per lead, when the host answers 503 or the connection fails, as the marketplace retries
STALL_SECONDS = 120  # give up waiting when nothing progressed for this long
MAX_WAIT_SECONDS = 30 * 60
HOST_JSON_CHANGES = {"maxPollingInterval": "00:00:00.500", "visibilityTimeout": "00:00:05"}
# The stand-ins answer in about a millisecond; the real services take longer, and only then do concurrent
# invocations pile up at them. Each create and each sendMail waits this long first (a modest guess, well under
# what Dataverse and Exchange Online usually take), so their concurrency limits come into play.
SERVICE_LATENCY = {"Dataverse": 0.05, "Graph": 0.1}
_LEAD_ID = re.compile(r"\b[0-9a-f]{32}\b")
_DURATION = re.compile(r"Executed 'Functions\.process_lead' \(Succeeded, .*Duration=(\d+)ms")
_NOISE = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f-]{27}|\d+")


@dataclass(frozen=True)
class Answer:
    lead_id: str
    status: int | None  # None: no answer after MAX_ATTEMPTS
    duplicate: bool | None
    latency: float  # of the answered attempt
    retries: int


class Worker:
    """``python -m devtools.host`` in its own process, with its own settings file and host.json."""

    def __init__(self, work: Path, settings: dict[str, str], queues: dict[str, object]) -> None:
        host_json = json.loads((ROOT / "host.json").read_text())
        host_json["extensions"]["queues"] |= queues
        (work / "host.json").write_text(json.dumps(host_json, indent=2))
        (work / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": settings}, indent=2))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = work / "host.log"
        self.command = [
            sys.executable, "-m", "devtools.host", "--app-dir", str(ROOT), "--port", str(self.port),
            "--host-json", str(work / "host.json"), "--settings", str(work / "local.settings.json"),
        ]  # fmt: skip
        # The settings file never overrides variables already set, and this process has set some: pass them too.
        self.env = {**os.environ, **settings}
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Worker:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        try:
            while not port_open(self.port):  # the host listens once every function is indexed
                if self.process.poll() is not None:
                    raise RuntimeError(f"the host exited with {self.process.returncode}; see {self.log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the host did not listen within 60 s; see {self.log_path}")
                time.sleep(0.2)
        except BaseException as exc:  # Ctrl-C or SIGTERM too: `with` calls __exit__ only once __enter__ returned
            self.__exit__(type(exc))
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None = None, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # graceful: in-flight invocations finish
        try:
            self.process.wait(timeout=60 if kind is None else 10)  # interrupted: do not keep the caller waiting
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def status(self) -> dict[str, str]:
        """/proc/<pid>/status of the worker: VmHWM is its peak resident memory so far."""
        assert self.process is not None
        lines = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}

    def cpu_seconds(self) -> float:
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


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


def _log_summary(log: str) -> tuple[Counter[str], list[float], list[str]]:
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
    return outcomes, durations, [f"{n} × {text}" for text, n in problems.most_common(8)]


def run(
    stack: Stack, factory: LeadFactory, total: int, threads: int = CLIENT_THREADS, batch_size: int | None = None
) -> Section:
    """``batch_size`` replaces host.json's batchSize (and newBatchThreshold, with half of it): more in flight."""
    work = WORK / "burst"
    work.mkdir(parents=True, exist_ok=True)
    repeats_count = total // 10
    distinct = factory.make(total - repeats_count)
    shuffle = random.Random(20_261_121)
    burst = distinct + shuffle.sample(distinct, repeats_count)
    shuffle.shuffle(burst)  # repeats arrive both close to and long after their originals
    distinct_ids = {lead.lead_id for lead in distinct}

    table_name, queue_name = stack.fresh_names()
    stack.create(table_name, queue_name)
    stack.standins.reset()
    dataverse, graph = stack.standins.dataverse, stack.standins.graph
    # A delay-only fault slows the matching requests and then answers normally; enough for every retry.
    dataverse.fail_next(delay=SERVICE_LATENCY["Dataverse"], times=10 * total, method="PATCH", path=r"/leads\(")
    graph.fail_next(delay=SERVICE_LATENCY["Graph"], times=10 * total, method="POST", path=r"/sendMail$")
    progress(f"burst: starting the host; {total} leads ({len(distinct)} distinct) from {threads} client threads")
    queues: dict[str, object] = dict(HOST_JSON_CHANGES)
    if batch_size is not None:
        queues |= {"batchSize": batch_size, "newBatchThreshold": batch_size // 2}
    with Worker(work, stack.settings(table_name, queue_name), queues) as worker:
        started_at, started = datetime.now(UTC), time.perf_counter()
        answers = _post_all(f"{worker.base_url}/api/leads", burst, threads)
        ingest_seconds = time.perf_counter() - started
        progress(f"burst: {total} posted in {ingest_seconds:.0f} s; waiting for processing")
        _wait(
            lambda: len(graph.messages),
            lambda: len(dataverse.leads) >= len(distinct) and len(graph.messages) >= len(distinct),
            "mails sent",
        )
        # Status is written after the mail, and the message deleted after that: wait for both as well.
        _wait(lambda: stack.message_count(queue_name), lambda: stack.message_count(queue_name) == 0, "messages left")
        time.sleep(6)  # longer than the visibility timeout: a late redelivery would show up below
        entities = stack.entities(table_name, "Status", "UpdatedAt")
        queued = stack.message_count(queue_name)
        poisoned = stack.message_count(f"{queue_name}-poison")
        memory = worker.status()
        cpu = worker.cpu_seconds()
    stack.delete(table_name, queue_name)
    queues_used = json.loads((work / "host.json").read_text())["extensions"]["queues"]
    outcomes, durations, problems = _log_summary(worker.log_path.read_text(errors="replace"))

    # What the client was told
    answered = [a for a in answers if a.status is not None]
    new = Counter(a.lead_id for a in answered if a.status == 202 and a.duplicate is False)
    repeated = sum(1 for a in answered if a.status == 202 and a.duplicate is True)
    other = Counter(a.status for a in answered if a.status is not None and a.status != 202)
    unanswered = len(answers) - len(answered)
    # What was stored and done
    done_at = [e["UpdatedAt"] for lead_id, e in entities.items() if e.get("Status") == "done"]
    statuses = Counter(entities.get(lead_id, {}).get("Status", "missing") for lead_id in distinct_ids)
    lost = len(distinct_ids) - statuses["done"]
    finished = (max(done_at) - started_at).total_seconds() if done_at else None
    # What reached Dynamics and the mailbox
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
    graph_statuses = Counter(r.status for r in graph.requests)
    scopes = stack.token_scopes()
    token_times: dict[str, list[float]] = {}
    for t in stack.standins.entra.token_requests:
        token_times.setdefault(stack.resource(t), []).append(t.time)
    dataverse_twice = sum(1 for n in created.values() if n > 1)
    mail_twice = sum(1 for n in mails.values() if n > 1)
    mail_missing = len(distinct_ids) - len(mails)
    throttled = dataverse_statuses[429] + graph_statuses[429]
    latencies = [a.latency for a in answered]

    def counts(counter: Counter[int]) -> str:
        return ", ".join(f"{n:,} × {status}" for status, n in sorted(counter.items())) or "none"

    rows = [
        ("Leads posted", f"{total:,} ({len(distinct):,} distinct + {repeats_count:,} exact repeats, shuffled), "
                         f"{threads} client threads, keep-alive"),
        ("Answers", f"{sum(new.values()):,} × 202 new, {repeated:,} × 202 duplicate"
                    + (f", {counts(other)}" if other else "") + (f", {unanswered} unanswered" if unanswered else "")
                    + f"; client retries: {sum(a.retries for a in answers)}"),
        ("Leads answered *new* more than once", str(sum(1 for n in new.values() if n > 1))),
        ("Posting took", f"{duration(ingest_seconds)} ({total / ingest_seconds:.0f} leads/s; latency p50 "
                         f"{ms(percentile(latencies, 0.5))} ms, p99 {ms(percentile(latencies, 0.99))} ms)"),
        ("Last lead done after", f"{duration(finished)} from the first post ({len(done_at) / finished:.0f} leads/s "
                                 "end to end)" if finished else "no lead was done"),
        ("Lost (distinct leads not stored and `done`)", f"{lost}" + (f" ({dict(statuses)})" if lost else "")),
        ("Left in the queue / poison queue", f"{queued} / {poisoned}"),
        ("Dataverse: leads created / created twice / missing",
         f"{len(created):,} / {dataverse_twice} / {len(distinct_ids) - len(created)}"),
        ("Dataverse: requests by answer", counts(dataverse_statuses)),
        ("Graph: leads mailed / mailed twice / not mailed", f"{len(mails):,} / {mail_twice} / {mail_missing}"),
        ("Graph: requests by answer", counts(graph_statuses)),
        ("429s served (Dataverse + Graph)", f"{throttled:,}"),
        ("Peak concurrent requests at the stand-ins (their limit)",
         f"Dataverse {dataverse.peak_in_flight} ({dataverse.concurrency_limit}), "
         f"Graph {graph.peak_in_flight} ({graph.concurrency_limit})"),
        ("Token requests, per scope", "; ".join(f"{s}: {n}" for s, n in sorted(scopes.items())) or "none"),
        ("Invocations (host log)", ", ".join(f"{n:,} {what}" for what, n in sorted(outcomes.items()))),
        ("process_lead duration p50 / p99", f"{ms(median(durations))} / {ms(percentile(durations, 0.99))} ms"
                                            if durations else "—"),
        ("Worker peak memory (VmHWM) / at end (VmRSS)", f"{memory.get('VmHWM', '?')} / {memory.get('VmRSS', '?')}"),
        ("Worker CPU time (user + system)", f"{cpu:.0f} s"),
    ]  # fmt: skip
    blocks = [table(["", ""], rows)]
    # The project's host.json sets both (unset, the host derives newBatchThreshold from the processor count).
    batch, threshold = queues_used.get("batchSize", 16), queues_used.get("newBatchThreshold", 8)
    in_flight = batch + threshold
    if throttled == 0:
        blocks.append(
            f"No 429s: this worker never has more than {in_flight} invocations in flight (batchSize + "
            f"newBatchThreshold), and at most {graph.peak_in_flight} of them were calling Graph at the same moment, "
            "within its limit of 4. The throttling path is exercised when more invocations run at once: a larger "
            "batchSize, more worker processes, or several instances, which share the mailbox's limit "
            "(`python -m bench --only burst --burst-batch-size 16` runs this section with 24 in flight)."
        )
    herds = {scope: times for scope, times in token_times.items() if len(times) > 1}
    for scope, times in sorted(herds.items()):
        blocks.append(
            f"The {len(times)} {scope} token requests were all made within {max(times) - min(times):.2f} s: "
            "invocations that started together each found the worker's token cache empty and signed in "
            "(leads/identity.py creates the MSAL app under a lock but calls acquire_token_for_client without one). "
            "Holding a per-scope lock around that call, or fetching the tokens once at start-up, would make it one."
        )
    if problems:
        blocks.append(
            "Warnings and errors in the host's log (numbers and ids elided):\n\n"
            + "\n".join(f"- `{problem}`" for problem in problems)
        )
    if any("Connection pool is full" in problem for problem in problems):
        blocks.append(
            "*Connection pool is full*: the storage clients use azure-core's requests transport, whose urllib3 "
            "pool keeps 10 connections per host (requests' default; the Dataverse/Graph session has 16). With "
            f"{threads} concurrent HTTP invocations sharing one table client and one queue client, the connections "
            "beyond 10 are opened for one request and then closed. A transport with a larger pool (e.g. "
            "`RequestsTransport(session=…)` with an `HTTPAdapter(pool_maxsize=…)` sized to the worker's thread "
            "count) would keep them."
        )
    return Section(
        "4. Burst",
        f"{total:,} leads POSTed concurrently over HTTP to the local development host running as its own process "
        f"(`python -m devtools.host`), which then processed them with its queue trigger (host.json: batchSize {batch}, "
        f"newBatchThreshold {threshold}, so at most {in_flight} leads in flight; maxPollingInterval "
        f"{queues_used['maxPollingInterval']} and visibilityTimeout {queues_used['visibilityTimeout']} shortened "
        "for the run). The client retries a 503 or a failed connection up to "
        f"{MAX_ATTEMPTS} times, as the marketplace would. Counts come from the table, the queues, the stand-ins' "
        "logs (per lead: Dataverse creates by leadid, mails by the lead id in their body) and the host's log; "
        "memory from /proc/<pid>/status of the worker just before it was stopped. The stand-ins answer "
        "Dataverse requests beyond 52 and Graph requests beyond 4 at once with 429 and Retry-After; so that "
        "requests overlap as they would against the real services, each Dataverse create waits "
        f"{SERVICE_LATENCY['Dataverse'] * 1000:.0f} ms and each sendMail {SERVICE_LATENCY['Graph'] * 1000:.0f} ms "
        "before it is answered (otherwise they answer in about a millisecond and never reach their limits).",
        blocks,
        [
            Target("Burst: lost leads", "0", f"{lost} of {len(distinct_ids):,}", lost == 0 and unanswered == 0),
            Target(
                "Burst: leads created twice in Dataverse",
                "0",
                str(dataverse_twice),
                dataverse_twice == 0 and len(created) == len(distinct_ids),
            ),
            Target("Burst: leads mailed twice", "0", str(mail_twice), mail_twice == 0 and mail_missing == 0),
            Target(
                "Burst: token requests per scope (one worker, concurrent invocations)",
                "≤ 1",
                "; ".join(f"{scope} {n}" for scope, n in sorted(scopes.items())) or "none",
                max(scopes.values(), default=0) <= 1,
            ),
        ],
    )
