"""§3 Cold start: importing function_app in a fresh interpreter, against importing azure.functions alone.

Each measurement is one ``python -c "import …"`` subprocess from the project root with the venv's python,
timed from spawn to exit; the variants alternate run by run. ``python -c pass`` runs alongside as the
interpreter's own start-up, for context. If the target is missed, ``-X importtime`` shows what function_app
imports beyond azure.functions, package by package, and which of our modules pulls each one in.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

from bench.report import Section, Target, median, ms, table
from bench.stack import ROOT, progress

# function_app imports only what indexing needs (the steps, settings and SDKs load on first use): 1.2× leaves room
# for that wiring and nothing more.
TARGET_RATIO = 1.2
VARIANTS = {
    "interpreter start-up (`pass`)": "pass",
    "`import azure.functions`": "import azure.functions",
    "`import function_app`": "import function_app",
}
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def _time(statement: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=ROOT, check=True)
    return time.perf_counter() - started


@dataclass(frozen=True)
class Imported:
    name: str
    self_us: int
    depth: int


def _importtime(statement: str) -> list[Imported]:
    """``-X importtime`` lines in output order: a module's own imports are listed before it, one level deeper."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement], cwd=ROOT, capture_output=True, text=True, check=True
    )
    lines = []
    for line in result.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            own, _, indent, name = match.groups()
            lines.append(Imported(name, int(own), (len(indent) - 1) // 2))
    return lines


def _package(name: str) -> str:
    """The distribution a module belongs to, near enough: azure.data.tables, azure.core, requests, email…"""
    parts = name.split(".")
    if parts[0] == "azure" and len(parts) > 2 and parts[1] in ("data", "storage"):
        return ".".join(parts[:3])
    if parts[0] == "azure" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def _ours(name: str) -> bool:
    return name == "function_app" or name == "leads" or name.startswith("leads.")


def _importer(lines: list[Imported], index: int) -> str:
    """The nearest of our modules above line ``index`` (whose import brought it in), and the package in between."""
    depth, via = lines[index].depth, lines[index].name
    for later in lines[index + 1 :]:
        if later.depth < depth:
            depth = later.depth
            if _ours(later.name):
                between = _package(via)
                return later.name if between == _package(lines[index].name) else f"{later.name} (via {between})"
            via = later.name
    return "function_app"


def _profile(runs: int) -> list[tuple[str, float, str]]:
    """(package, ms of own import time, first importer among our modules), largest first."""
    baseline = {line.name for line in _importtime("import azure.functions")}
    totals: dict[str, list[float]] = defaultdict(list)
    importers: dict[str, str] = {}
    for _ in range(runs):
        lines = _importtime("import function_app")
        per_package: dict[str, float] = defaultdict(float)
        for index, line in enumerate(lines):
            if line.name in baseline:
                continue
            package = line.name if _ours(line.name) else _package(line.name)
            per_package[package] += line.self_us / 1000
            importers.setdefault(package, "(our module)" if _ours(line.name) else _importer(lines, index))
        for package, value in per_package.items():
            totals[package].append(value)
    rows = [(package, median(values), importers[package]) for package, values in totals.items()]
    return sorted(rows, key=lambda row: row[1], reverse=True)


def _timings(runs: int) -> dict[str, list[float]]:
    """Seconds from spawn to exit, per variant: ``runs`` of each, interleaved, after one warm-up run each."""
    for statement in VARIANTS.values():
        _time(statement)  # warm-up: byte code compiled and cached, files in the page cache
    times: dict[str, list[float]] = {label: [] for label in VARIANTS}
    for _ in range(runs):
        for label, statement in VARIANTS.items():
            times[label].append(_time(statement))
    return times


def _by_importer(profile: list[tuple[str, float, str]]) -> list[tuple[str, str, str]]:
    """(our module whose top-level imports bring packages in, their ms, the packages of 1 ms or more), largest first."""
    by_importer: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for package, value, importer in profile:
        by_importer["our own modules" if _ours(package) else importer.split(" ")[0]].append((package, value))
    return sorted(
        (
            (importer, f"{sum(v for _, v in items):.1f}", ", ".join(p for p, v in items if v >= 1.0) or "—")
            for importer, items in by_importer.items()
        ),
        key=lambda row: float(row[1]),
        reverse=True,
    )


def _profile_blocks(functions_alone: float, ours: float) -> list[str]:
    """What function_app imports beyond azure.functions, and how much of it must leave the import path."""
    profile = _profile(5)
    extra = sum(value for _, value, _ in profile)
    allowed = (TARGET_RATIO - 1) * functions_alone
    return [
        "What `import function_app` imports beyond `azure.functions` (`-X importtime`: own import time "
        f"summed per package, median of 5 runs, {extra:.0f} ms in all; the top 15):\n\n"
        + table(
            ["Package", "ms", "First imported by"],
            [(package, f"{value:.1f}", importer) for package, value, importer in profile[:15]],
            right=(1,),
        ),
        "The same, by the module of ours whose top-level imports bring it in (packages of 1 ms or more):\n\n"
        + table(["Imported at the top of", "ms", "Packages"], _by_importer(profile), right=(1,)),
        f"To meet the target, function_app may add {ms(allowed)} ms to azure.functions' {ms(functions_alone)} ms; "
        f"it adds {ms(ours - functions_alone)} ms, so about {ms(ours - functions_alone - allowed)} ms must leave "
        "the import path. Importing a package inside the function that first uses it (as function_app.py does for "
        "the steps, leads/runtime.py for the settings, leads/adapters/signin.py for msal) takes it off this path; "
        "whatever the first request needs then moves into that request rather than disappearing.",
    ]


def run(runs: int) -> Section:
    progress(f"cold start: {runs} runs of each variant, interleaved")
    times = _timings(runs)
    medians = {label: median(values) for label, values in times.items()}
    functions_alone, ours = medians["`import azure.functions`"], medians["`import function_app`"]
    ratio = ours / functions_alone
    startup = medians["interpreter start-up (`pass`)"]
    rows = [
        (label, ms(value), ms(min(times[label])), ms(max(times[label])), f"{value / functions_alone:.2f}")
        for label, value in medians.items()
    ]
    section = Section(
        "3. Cold start",
        f"{runs} fresh interpreters per variant, interleaved (after one warm-up run each), each "
        '`.venv/bin/python -c "…"` from the project root, timed from spawn to exit.',
        [
            table(["Variant", "median ms", "min ms", "max ms", "vs azure.functions"], rows, right=(1, 2, 3, 4)),
            f"Without the interpreter's own start-up, function_app takes {ms(ours - startup)} ms against "
            f"{ms(functions_alone - startup)} ms ({(ours - startup) / (functions_alone - startup):.2f}×).",
        ],
        [
            Target(
                "Cold start: import function_app vs azure.functions",
                f"≤ {TARGET_RATIO}×",
                f"{ratio:.2f}×",
                ratio <= TARGET_RATIO,
            )
        ],
    )
    if ratio > TARGET_RATIO:
        progress("cold start: target missed, profiling imports")
        section.blocks += _profile_blocks(functions_alone, ours)
    return section
