"""The report: sections with their tables and targets, rendered as Markdown, plus the machine and versions."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from bench.stack import ROOT

APP_PATHS = ("function_app.py", "host.json", "leads", "requirements.txt")
PACKAGES = ("azure-functions", "azure-data-tables", "azure-storage-queue", "azure-core", "msal", "requests")


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    met: bool


@dataclass
class Section:
    title: str
    method: str  # how it was measured, one paragraph
    blocks: list[str] = field(default_factory=list)  # Markdown: tables and notes, in order
    targets: list[Target] = field(default_factory=list)

    def render(self) -> str:
        return "\n\n".join([f"## {self.title}", self.method, *self.blocks])


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> str:
    """A Markdown table; columns whose index is in ``right`` are right-aligned (numbers)."""
    rule = ["---:" if index in right else "---" for index in range(len(headers))]
    lines = [headers, rule, *[[str(cell) for cell in row] for row in rows]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was actually measured."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def verdict(met: bool) -> str:
    return "✓ met" if met else "✗ missed"


def duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{seconds:.1f} s"


# --- machine and versions ------------------------------------------------------------------------------------


def _proc_field(path: str, name: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return "unknown"


def machine() -> list[tuple[str, str]]:
    memory_kib = _proc_field("/proc/meminfo", "MemTotal").split()[0]
    memory = f"{int(memory_kib) / 1024**2:.1f} GiB" if memory_kib.isdigit() else "unknown"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        ("CPU", _proc_field("/proc/cpuinfo", "model name")),
        ("Cores", f"{os.cpu_count()} ({usable} usable by this process)"),
        ("Memory", memory),
        ("OS", platform.platform()),
        ("Load average at start (1/5/15 min)", load),
    ]


def versions() -> list[tuple[str, str]]:
    rows = [("Python", platform.python_version())]
    for package in PACKAGES:
        try:
            rows.append((package, version(package)))
        except PackageNotFoundError:
            rows.append((package, "not installed"))
    try:
        azurite = json.loads((ROOT / "node_modules" / "azurite" / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        azurite = "unknown"
    rows.append(("Azurite (node_modules/azurite/package.json)", azurite))
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10, check=False)
        rows.append(("Node.js", node.stdout.strip() or "unknown"))
    except OSError:
        rows.append(("Node.js", "unknown"))
    return rows


def code_version() -> str:
    """The commit measured, and which of the app's files differed from it (others edit while benchmarks run)."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False)
        except OSError:
            return ""
        return done.stdout.rstrip("\n")  # not strip(): porcelain lines start with a status column

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = git("status", "--porcelain", "--", *APP_PATHS).splitlines()
    if not changed:
        return f"commit {commit}"
    return f"commit {commit} with uncommitted changes to {', '.join(line[3:] for line in changed)}"


def render(
    sections: list[Section],
    *,
    started: datetime,
    elapsed: float,
    machine_rows: list[tuple[str, str]],
    command: str,
    parameters: str,
    code: str,
) -> str:
    targets = [(section.title.split(".")[0], target) for section in sections for target in section.targets]
    met = sum(target.met for _, target in targets)
    summary = table(
        ["§", "Target", "Goal", "Measured", "Result"],
        [(number, t.name, t.goal, t.measured, verdict(t.met)) for number, t in targets],
    )
    head = [
        "# Benchmarks",
        f"How to reproduce: `make bench` (this report: `{command}`, {parameters}).",
        f"Run on {started:%Y-%m-%d %H:%M} UTC against {code}; the whole run took {duration(elapsed)}. "
        "The machine is shared and noisy: compare the ratios, which were measured side by side in the same run, "
        "rather than absolute times.",
        "### Machine\n\n" + table(["", ""], machine_rows),
        "### Versions\n\n" + table(["", ""], versions()),
        f"## Targets: {met} of {len(targets)} met\n\n{summary}",
    ]
    return "\n\n".join([*head, *(section.render() for section in sections)]) + "\n"


def now() -> datetime:
    return datetime.now(UTC)
