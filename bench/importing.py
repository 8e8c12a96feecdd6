"""§6 Import: `python -m leads import FILE --apply` on a Partner Center export, next to the storage floor.

The floor is §1's (a): TableClient.create_entity + QueueClient.send_message of entities built beforehand, one lead
at a time, the two calls storing and enqueueing a lead cannot avoid. The import does the same two calls per new
row, plus what the floor leaves out: reading the file (streamed), mapping each row to a lead, and one scan of the
lead table for the leads already there. The floor is measured on a sample after a warm-up, half before and half
after the import (its rate does not depend on the count; the machine's load drifts), so the section stays short. The
import runs on every row, then once more as a dry run over the filled table (every row then already here).
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from bench import ingest
from bench.report import Section, Target, table
from bench.stack import WORK, BenchLead, LeadFactory, Stack, progress
from leads.ops.import_leads import Choices, import_file
from leads.settings import load_storage

TARGET_RATIO = 0.7  # rows/s of the import vs leads/s of the floor: "within a small factor"
FLOOR_SAMPLE = 1_000
WARM_UP = 200  # connections, first-call paths and Azurite's JIT, before anything is timed
HEADERS = ["First name", "Last name", "Email address", "Phone", "Country/region", "Company name", "Job title",
           "Offer name", "Lead source", "Call to action", "Comments", "Lead creation date time"]  # fmt: skip


def write_export(leads: list[BenchLead], path: Path) -> None:
    """The leads as Partner Center's export would list them (`;`-separated, UTF-8 with BOM)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADERS)
        for lead in leads:
            document = json.loads(lead.body)
            who = document["UserDetails"]
            writer.writerow([who["FirstName"], who["LastName"], who["Email"], who["Phone"], who["Country"],
                             who["Company"], who["Title"], document["OfferTitle"], document["LeadSource"],
                             document["ActionCode"], document["Description"], "11/21/2026 9:30:00 AM"])  # fmt: skip


def _import(stack: Stack, path: Path, table_name: str, queue_name: str, apply: bool) -> tuple[float, str]:
    storage = load_storage(stack.settings(table_name, queue_name))
    out = io.StringIO()
    started = time.perf_counter()
    import_file(path, [], storage, Choices(apply=apply), out)
    return time.perf_counter() - started, out.getvalue()


def _floor(stack: Stack, leads: list[BenchLead]) -> float:
    """Seconds the floor takes for these leads."""
    table_name, queue_name = stack.fresh_names()
    stack.create(table_name, queue_name)
    try:
        run = ingest.VARIANTS["a"][1](stack, leads, table_name, queue_name, "")
    finally:
        stack.delete(table_name, queue_name)
    return run.seconds


def _import_twice(stack: Stack, leads: list[BenchLead], path: Path) -> tuple[float, float]:
    """Seconds of the import with --apply into a fresh table and queue, then of a dry run over the filled table."""
    rows = len(leads)
    table_name, queue_name = stack.fresh_names()
    stack.create(table_name, queue_name)
    try:
        progress(f"import: {rows:,} rows with --apply")
        applied, report = _import(stack, path, table_name, queue_name, apply=True)
        stored = set(stack.entities(table_name))
        if stored != {lead.lead_id for lead in leads} or stack.message_count(queue_name) != rows:
            raise ingest.BenchError(f"the import stored {len(stored)} leads of {rows}:\n{report}")
        progress(f"import: {rows:,} rows again, dry run (every row already here)")
        dry, report = _import(stack, path, table_name, queue_name, apply=False)
        if f"already here   {rows:>8}" not in report:
            raise ingest.BenchError(f"the dry run did not find every lead:\n{report}")
    finally:
        stack.delete(table_name, queue_name)
    return applied, dry


def _runs_table(rows: int, sample: int, floor_rate: float, applied: float, dry: float) -> str:
    return table(
        ["Run", "seconds", "rows/s", "vs floor"],
        [
            (
                f"floor: create_entity + send_message ({sample:,} leads)",
                f"{sample / floor_rate:.1f}",
                f"{floor_rate:.0f}",
                "1.00",
            ),
            (
                f"import --apply, {rows:,} rows",
                f"{applied:.1f}",
                f"{rows / applied:.0f}",
                f"{rows / applied / floor_rate:.2f}",
            ),
            (
                f"import (dry run), {rows:,} rows already here",
                f"{dry:.1f}",
                f"{rows / dry:.0f}",
                f"{rows / dry / floor_rate:.2f}",
            ),
        ],
        right=(1, 2, 3),
    )


def run(stack: Stack, factory: LeadFactory, rows: int) -> Section:
    half = min(rows, FLOOR_SAMPLE) // 2
    sample = 2 * half
    progress(f"import: storage floor on {half:,} leads (after {WARM_UP} not timed)")
    _floor(stack, factory.make(WARM_UP))
    floor_seconds = _floor(stack, factory.make(half))
    leads = factory.make(rows)
    path = WORK / "partner-center-export.csv"
    write_export(leads, path)
    applied, dry = _import_twice(stack, leads, path)
    progress(f"import: storage floor on {half:,} more leads")
    floor_rate = sample / (floor_seconds + _floor(stack, factory.make(half)))
    ratio = rows / applied / floor_rate
    return Section(
        "6. Import of a Partner Center export vs the storage floor",
        f"{rows:,} rows of a `;`-separated export (UTF-8 with BOM), imported with `--apply` into a fresh table and "
        f"queue: every row is read, mapped, compared with the leads already stored (one scan), stored and enqueued "
        f"one at a time. The floor is §1's (a) on {sample:,} leads, half before and half after the import (the "
        "machine's load drifts). The dry run reads the same file again over the filled table. The run checks that "
        "every row was stored under the lead id the HTTPS endpoint would have given it, and enqueued.",
        [_runs_table(rows, sample, floor_rate, applied, dry)],
        [
            Target(
                "Import of 10,000 rows: rows/s vs the floor's leads/s",
                f"≥ {TARGET_RATIO}",
                f"{ratio:.2f}",
                ratio >= TARGET_RATIO,
            )
        ],
    )
