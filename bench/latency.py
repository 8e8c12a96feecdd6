"""§5 Speed to lead: how long after the marketplace's 202 a lead is in Dynamics and the contacts are notified.

Leads are posted to the development host (its own process, ``python -m devtools.host``) running the project's
host.json unchanged, maxPollingInterval included, and polling with the Queues extension's back-off
(devtools/host/backoff.py). Singles come after a quiet period long enough for that back-off to reach
maxPollingInterval, at a random point of the polling cycle, as marketplace leads do; small bursts come the same way.
The Dataverse and Graph stand-ins answer after SERVICE_DELAY, an assumption about the real services (not measured
here). Each lead's latency runs from the client receiving the 202 to the lead's DynamicsAt and NotifiedAt, read
from its table row as `status` reads them.
"""

from __future__ import annotations

import io
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from azure.core.exceptions import ResourceNotFoundError

from bench.report import Section, Target, duration, percentile, table
from bench.stack import ROOT, WORK, BenchLead, LeadFactory, Stack, progress
from bench.worker import Worker
from devtools.host import QueueOptions
from devtools.host.backoff import PollingBackoff
from devtools.host.config import MIN_POLLING_INTERVAL
from leads import runtime
from leads.core.lead_row import keys_for
from leads.ops import status

# Assumed typical answer times of a Dataverse create and a Graph sendMail from an Azure region near the tenant.
SERVICE_DELAY = {"Dataverse": 0.3, "Graph": 0.4}
GOAL_MARGIN = 1.0  # the goal: p99 within maxPollingInterval plus this
GIVE_UP = 60.0  # seconds after its 202 a lead may take before it counts as not notified


@dataclass(frozen=True)
class Timed:
    scenario: str
    lead_id: str
    answered: datetime  # when the client had the 202
    to_dynamics: float | None = None
    to_notified: float | None = None


def quiet_period(interval: float) -> float:
    """How long the back-off takes at most to reach ``interval`` (every random draw at its longest)."""
    backoff, elapsed = PollingBackoff(MIN_POLLING_INTERVAL, interval, uniform=lambda: 1.0), 0.0
    while (delay := backoff.next_delay(False)) < interval:
        elapsed += delay
    return elapsed


def _post(url: str, lead: BenchLead) -> datetime:
    response = requests.post(url, data=lead.body, headers={"Content-Type": "application/json"}, timeout=30)
    if response.status_code != 202:
        raise RuntimeError(f"the host answered {response.status_code} to a new lead")
    return datetime.now(UTC)


def _wait_notified(stack: Stack, table_name: str, lead_ids: list[str]) -> None:
    """Until every lead's row has NotifiedAt (reading the table every 50 ms), or GIVE_UP."""
    client, deadline = stack.table_client(table_name), time.monotonic() + GIVE_UP
    waiting = set(lead_ids)
    while waiting and time.monotonic() < deadline:
        for lead_id in list(waiting):
            try:
                if client.get_entity(*keys_for(lead_id), select=["NotifiedAt"]).get("NotifiedAt"):
                    waiting.discard(lead_id)
            except ResourceNotFoundError:
                pass
        time.sleep(0.05)


def _send(stack: Stack, url: str, table_name: str, scenario: str, leads: list[BenchLead]) -> list[Timed]:
    with ThreadPoolExecutor(len(leads)) as pool:
        answered = list(pool.map(lambda lead: _post(url, lead), leads))
    _wait_notified(stack, table_name, [lead.lead_id for lead in leads])
    return [Timed(scenario, lead.lead_id, at) for lead, at in zip(leads, answered, strict=True)]


def _timed(stack: Stack, table_name: str, sent: list[Timed]) -> list[Timed]:
    rows = stack.entities(table_name, "DynamicsAt", "NotifiedAt")

    def after(lead: Timed, column: str) -> float | None:
        moment = rows.get(lead.lead_id, {}).get(column)
        return (moment - lead.answered).total_seconds() if isinstance(moment, datetime) else None

    return [Timed(t.scenario, t.lead_id, t.answered, after(t, "DynamicsAt"), after(t, "NotifiedAt")) for t in sent]


def _status_text(stack: Stack, table_name: str, queue_name: str) -> str:
    """What `python -m leads status --limit 5` prints for this table (no personal data without --show-contact)."""
    stack.use(stack.settings(table_name, queue_name))
    out = io.StringIO()
    status.status(runtime.lead_table(), out, limit=5, record_link=status.dynamics_record_link())
    return out.getvalue()


def run(stack: Stack, factory: LeadFactory, singles: int, bursts: int, burst_size: int) -> Section:
    work = WORK / "latency"
    work.mkdir(parents=True, exist_ok=True)
    interval = QueueOptions.from_host_json(json.loads((ROOT / "host.json").read_text())).max_polling_interval
    quiet = quiet_period(interval)
    table_name, queue_name = stack.fresh_names()
    stack.create(table_name, queue_name)
    stack.standins.reset()
    stack.standins.dataverse.fail_next(delay=SERVICE_DELAY["Dataverse"], times=10_000, method="PATCH", path=r"/leads\(")
    stack.standins.graph.fail_next(delay=SERVICE_DELAY["Graph"], times=10_000, method="POST", path=r"/sendMail$")
    pause = random.Random(20_261_130)
    progress(f"speed to lead: {singles} single leads and {bursts} bursts of {burst_size}, each after "
             f"{quiet:.1f}–{quiet + interval:.1f} s of quiet (maxPollingInterval {interval:g} s)")  # fmt: skip
    sent: list[Timed] = []
    with Worker(work, stack.settings(table_name, queue_name), {}) as worker:
        url = f"{worker.base_url}/api/leads"
        _send(stack, url, table_name, "warm-up", factory.make(1))  # the worker's first sign-ins: not measured
        plan = ["single"] * singles + ["burst"] * bursts
        for number, scenario in enumerate(plan, 1):
            time.sleep(quiet + pause.uniform(0, interval))  # a random point of the polling cycle
            sent += _send(stack, url, table_name, scenario, factory.make(burst_size if scenario == "burst" else 1))
            progress(f"speed to lead: {number} of {len(plan)} sent")
    timed = _timed(stack, table_name, sent)
    status_text = _status_text(stack, table_name, queue_name)
    stack.delete(table_name, queue_name)
    return _section(timed, interval, quiet, burst_size, status_text)


def _cells(values: list[float | None]) -> list[str]:
    known = [value for value in values if value is not None]
    if not known:
        return ["—", "—", "—"]
    return [f"{percentile(known, 0.5):.2f}", f"{percentile(known, 0.99):.2f}", f"{max(known):.2f}"]


def _section(timed: list[Timed], interval: float, quiet: float, burst_size: int, status_text: str) -> Section:
    groups = {
        f"single leads after quiet ({sum(t.scenario == 'single' for t in timed)})": "single",
        f"bursts of {burst_size} after quiet ({sum(t.scenario == 'burst' for t in timed)} leads)": "burst",
        f"all ({len(timed)})": None,
    }
    rows = []
    for label, scenario in groups.items():
        chosen = [t for t in timed if scenario is None or t.scenario == scenario]
        rows.append([label, *_cells([t.to_dynamics for t in chosen]), *_cells([t.to_notified for t in chosen])])
    notified = [t.to_notified for t in timed if t.to_notified is not None]
    missing = len(timed) - len(notified)
    p99 = percentile(notified, 0.99) if notified else float("inf")
    goal = interval + GOAL_MARGIN
    headers = ["Leads", "→ Dynamics p50 s", "p99 s", "max s", "→ notified p50 s", "p99 s", "max s"]
    blocks = [
        table(headers, rows, right=(1, 2, 3, 4, 5, 6)),
        f"A lead that arrives while the queue trigger sits at its longest poll waits up to {interval:g} s "
        f"(maxPollingInterval), {interval / 2:g} s on average, before processing starts; processing then takes the "
        f"Dataverse create ({SERVICE_DELAY['Dataverse']:g} s here), the claim write, the sendMail "
        f"({SERVICE_DELAY['Graph']:g} s) and the final write. In a burst larger than batchSize (4), the leads "
        "beyond it are received once in-flight work drops to newBatchThreshold (2): they wait for processing too."
        + (f" {missing} lead(s) were not notified within {GIVE_UP:g} s." if missing else ""),
        "`python -m leads status --limit 5` against this section's table afterwards (the warm-up lead included; "
        "its speed to lead runs from ReceivedAt, stamped just before the 202):\n\n"
        f"```\n{status_text.rstrip()}\n```",
    ]
    return Section(
        "5. Speed to lead",
        f"{len(timed)} leads POSTed to the development host running as its own process with the project's "
        f"host.json (maxPollingInterval {interval:g} s), which polls with the Queues extension's randomized "
        f"exponential back-off (devtools/host/backoff.py). Each single lead and each burst follows "
        f"{duration(quiet)} (the longest the back-off takes to reach {interval:g} s) plus a random part of the "
        f"polling cycle of quiet, after one unmeasured warm-up lead (the worker's first sign-ins). The Dataverse "
        f"stand-in answers each create after {SERVICE_DELAY['Dataverse'] * 1000:.0f} ms and the Graph stand-in "
        f"each sendMail after {SERVICE_DELAY['Graph'] * 1000:.0f} ms: assumed typical times for the real services, "
        "not measured here. Latency runs from the client receiving the 202 to the lead's DynamicsAt and NotifiedAt "
        "in its table row (the worker's clock; one machine). p99 is the nearest rank, so with few leads it is "
        "the slowest or close to it. The machine is shared (2 cores, other test runs): expect noise.",
        blocks,
        [
            Target(
                "Speed to lead: p99 from 202 to notified",
                f"≤ maxPollingInterval + {GOAL_MARGIN:g} s = {goal:g} s",
                f"{p99:.2f} s over {len(notified)} leads" + (f", {missing} not notified" if missing else ""),
                p99 <= goal and not missing,
            )
        ],
    )
