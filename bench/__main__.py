"""``python -m bench`` (``make bench``): run every section, print the report and write bench/RESULTS.md.

The default run finishes within about ten minutes on a 2-core machine and writes the committed report; ``--full``
(``make bench ARGS=--full``) does the same with the 10,000-lead burst. ``--quick``, ``--burst N``,
``--burst-batch-size N`` and ``--only`` are for trying things out: unless ``--output`` says otherwise, their
report goes to bench/.work/RESULTS.md so the committed one is not replaced by a partial run.

Ctrl-C or SIGTERM (a CI job's timeout) stops the run and everything it started: Azurite, the stand-ins and the
host processes, through the same context managers as a normal end.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from bench import burst, coldstart, importing, ingest, latency, processing
from bench.report import Section, code_version, machine, now, render
from bench.stack import ROOT, WORK, LeadFactory, Stack, progress

SECTIONS = ("ingest", "processing", "coldstart", "burst", "latency", "import")


@dataclass(frozen=True)
class Sizes:
    rounds: int
    per_round: int
    processed: int
    cold_runs: int
    burst: int
    singles: int  # speed to lead: leads posted one at a time after a quiet period
    bursts: int  # … and small bursts of BURST_OF
    imported: int  # rows of a Partner Center export imported
    burst_of: int = 5


# The 10,000-lead burst took over ten minutes of the run on its own (about 14 leads/s end to end, one worker):
# by default the burst is 1,000 leads, which shows the same (nothing lost, nothing twice) in about a minute.
DEFAULT = Sizes(
    rounds=5, per_round=400, processed=200, cold_runs=15, burst=1_000, singles=10, bursts=4, imported=10_000
)
FULL = dataclasses.replace(DEFAULT, burst=10_000)
QUICK = Sizes(rounds=2, per_round=100, processed=50, cold_runs=5, burst=200, singles=3, bursts=1, imported=1_000)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, so that every context manager stops what it started."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    # One is enough: later ones must not interrupt the clean-up. (A handler, not SIG_IGN, which children would inherit.)
    signal.signal(signal.SIGTERM, lambda *_: None)
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    sizes_group = parser.add_mutually_exclusive_group()
    sizes_group.add_argument("--quick", action="store_true", help="small sizes, a few minutes (not for the report)")
    sizes_group.add_argument("--full", action="store_true", help=f"the {FULL.burst:,}-lead burst (over 10 minutes)")
    parser.add_argument("--burst", type=int, metavar="N", help=f"leads in the burst (default {DEFAULT.burst:,})")
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
    sizes = QUICK if args.quick else FULL if args.full else DEFAULT
    burst_size = args.burst if args.burst is not None else sizes.burst
    whole = not args.quick and args.burst is None and args.burst_batch_size is None and only == list(SECTIONS)
    output = Path(args.output) if args.output else (ROOT / "bench/RESULTS.md" if whole else WORK / "RESULTS.md")
    command = "python -m bench" + "".join(f" {arg}" for arg in (argv if argv is not None else sys.argv[1:]))
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(sizes, only, burst_size, args.burst_batch_size, output, command)
    except KeyboardInterrupt as stop:
        progress(f"{'terminated' if isinstance(stop, Terminated) else 'interrupted'}: everything started was stopped")
        return 143 if isinstance(stop, Terminated) else 130


def _run(sizes: Sizes, only: list[str], burst_size: int, batch_size: int | None, output: Path, command: str) -> int:
    started_at, started = now(), time.perf_counter()
    machine_rows = machine()  # before the run, so the load average says how busy the machine already was
    code = code_version()
    shutil.rmtree(WORK, ignore_errors=True)  # a fresh Azurite and stand-in state for every run
    WORK.mkdir(parents=True)
    factory = LeadFactory()
    sections: list[Section] = []
    with Stack.running(WORK) as stack:
        if "ingest" in only:
            sections.append(ingest.run(stack, factory, sizes.rounds, sizes.per_round))
        if "processing" in only:
            sections.append(processing.run(stack, factory, sizes.processed))
        if "coldstart" in only:
            sections.append(coldstart.run(sizes.cold_runs))
        if "burst" in only:
            sections.append(burst.run(stack, factory, burst_size, batch_size=batch_size))
        if "latency" in only:
            sections.append(latency.run(stack, factory, sizes.singles, sizes.bursts, sizes.burst_of))
        if "import" in only:
            sections.append(importing.run(stack, factory, sizes.imported))
    elapsed = time.perf_counter() - started
    parameters = (
        f"ingest {sizes.rounds} rounds × {sizes.per_round} leads, processing {sizes.processed} leads, "
        f"cold start {sizes.cold_runs} runs, burst {burst_size:,} leads"
        + (f" with batchSize {batch_size}" if batch_size else "")
        + f", speed to lead {sizes.singles} single leads and {sizes.bursts} bursts of {sizes.burst_of}"
        + f", import {sizes.imported:,} rows"
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
