"""``python -m bench`` (``make bench``): run every section, print the report and write bench/RESULTS.md.

The defaults are the issue's (the full run, the committed report). ``--quick``, ``--burst N``,
``--burst-batch-size N`` and ``--only``
are for trying things out: unless ``--output`` says otherwise, their report goes to bench/.work/RESULTS.md so
the committed one is not replaced by a partial run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import burst, coldstart, importing, ingest, processing
from bench.report import Section, code_version, machine, now, render
from bench.stack import ROOT, WORK, LeadFactory, Stack, progress

SECTIONS = ("ingest", "processing", "coldstart", "burst", "import")


@dataclass(frozen=True)
class Sizes:
    rounds: int
    per_round: int
    processed: int
    cold_runs: int
    burst: int
    imported: int


FULL = Sizes(rounds=5, per_round=400, processed=200, cold_runs=15, burst=10_000, imported=10_000)
QUICK = Sizes(rounds=2, per_round=100, processed=50, cold_runs=5, burst=1_000, imported=1_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a minute or two (not for the report)")
    parser.add_argument("--burst", type=int, metavar="N", help=f"leads in the burst (default {FULL.burst:,})")
    parser.add_argument(
        "--burst-batch-size", type=int, metavar="N", help="replace host.json's batchSize in the burst (more in flight)"
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--output", help="where to write the report (default: bench/RESULTS.md for a full run)")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    if args.burst is not None and args.burst < 10:
        parser.error("--burst needs at least 10 leads")
    sizes = QUICK if args.quick else FULL
    burst_size = args.burst if args.burst is not None else sizes.burst
    full = not args.quick and args.burst is None and args.burst_batch_size is None and only == list(SECTIONS)
    output = Path(args.output) if args.output else ROOT / ("bench/RESULTS.md" if full else "bench/.work/RESULTS.md")
    command = "python -m bench" + "".join(f" {arg}" for arg in (argv if argv is not None else sys.argv[1:]))

    started_at, started = now(), time.perf_counter()
    machine_rows = machine()  # before the run, so the load average says how busy the machine already was
    code = code_version()
    shutil.rmtree(WORK, ignore_errors=True)  # a fresh Azurite and stand-in state for every run
    WORK.mkdir(parents=True)
    factory = LeadFactory()
    sections: list[Section] = []
    with Stack.running(WORK) as stack:
        progress(f"Azurite on ports {stack.azurite.table_port} (table), {stack.azurite.queue_port} (queue)")
        if "ingest" in only:
            sections.append(ingest.run(stack, factory, sizes.rounds, sizes.per_round))
        if "processing" in only:
            sections.append(processing.run(stack, factory, sizes.processed))
        if "coldstart" in only:
            sections.append(coldstart.run(sizes.cold_runs))
        if "burst" in only:
            sections.append(burst.run(stack, factory, burst_size, batch_size=args.burst_batch_size))
        if "import" in only:
            sections.append(importing.run(stack, factory, sizes.imported))
    elapsed = time.perf_counter() - started
    parameters = (
        f"ingest {sizes.rounds} rounds × {sizes.per_round} leads, processing {sizes.processed} leads, "
        f"cold start {sizes.cold_runs} runs, burst {burst_size:,} leads, import {sizes.imported:,} rows"
        + (f" with batchSize {args.burst_batch_size}" if args.burst_batch_size else "")
    )
    report = render(
        sections,
        started=started_at,
        elapsed=elapsed,
        machine_rows=machine_rows,
        command=command,
        parameters=parameters,
        code=code,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report, encoding="utf-8")
    print(report)
    progress(f"done in {elapsed:.0f} s; report written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
