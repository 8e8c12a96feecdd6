"""`import`: bring in leads the HTTPS endpoint missed, from Partner Center's export (a CSV or .xlsx file) or from
Microsoft's Azure Table destination (`--from-table`). Reports by default; `--apply` stores the new leads and sends
them through the queue. Personal data is printed only with `--show-contact`.

Exit codes (`python -m leads import --help`): 0 every row is new or already here; 1 some rows are unusable (listed;
the rest were stored, or would be in a dry run); 2 the file or table cannot be used; 3 storage or the table could not
be reached (run it again: nothing is stored twice)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from leads.adapters.export_file import ExportFile, open_export
from leads.adapters.marketplace_table import MarketplaceTable
from leads.core import lead_row
from leads.core.errors import ExportUnreadable, SourceTableRefused, SourceTableUnavailable, StorageUnavailable
from leads.core.export_rows import ColumnMap, map_columns, parse_overrides
from leads.ops import failures
from leads.ops.common import open_queue, open_table
from leads.settings import MarketplaceTableSettings, StorageSettings
from leads.steps.follow_table import table_rows
from leads.steps.importing import Finding, Importer, ImportOptions, ImportReport, SourceRow

LISTED = 50  # rows listed per kind; the counts cover the rest


@dataclass(frozen=True)
class Choices:
    apply: bool = False
    notify: bool = True
    since: datetime | None = None
    show_contact: bool = False
    include_erased: bool = False


def import_file(path: Path, columns: list[str], storage: StorageSettings, choices: Choices, out: TextIO) -> int:
    """Import Partner Center's export; 2 when the file cannot be read or mapped (nothing is done then)."""
    try:
        with open_export(path) as export:
            mapping = map_columns(export.headers, parse_overrides(columns))
            print(f"Partner Center export {path} ({export.description})", file=out)
            print(f"columns: {mapping.describe()}", file=out)
            if mapping.unused:
                print(f"not used: {', '.join(repr(header) for header in mapping.unused)}", file=out)
            return _run(_file_rows(export, mapping), lead_row.ORIGIN_IMPORT, storage, choices, out)
    except ExportUnreadable as exc:
        print(f"cannot import: {exc}", file=out)
        return failures.UNUSABLE
    except OSError as exc:  # a folder, a file without read permission…
        print(f"cannot import: {path}: {exc.strerror or type(exc).__name__}", file=out)
        return failures.UNUSABLE


def import_table(source: MarketplaceTableSettings, storage: StorageSettings, choices: Choices, out: TextIO) -> int:
    """Import every row of Microsoft's Azure Table destination (or those created since ``choices.since``)."""
    table = MarketplaceTable(source, storage)
    print(f"Azure Table destination: table {table.name}", file=out)
    try:
        return _run(table_rows(table.rows()), lead_row.ORIGIN_TABLE, storage, choices, out)
    except SourceTableRefused as exc:
        print(f"cannot import: {exc}", file=out)
        return failures.UNUSABLE
    except SourceTableUnavailable as exc:
        print(f"cannot import: {exc}; run the same command again later (nothing is stored twice)", file=out)
        return failures.UNREACHABLE


def _file_rows(export: ExportFile, mapping: ColumnMap) -> Iterator[SourceRow]:
    width = len(mapping.headers)
    for line, values, problem in export.rows():
        if values is None:
            yield SourceRow(f"line {line}", {}, problem)
        elif not any(value.strip() for value in values):
            continue  # a blank line is not a row
        elif len(values) != width:
            fields = mapping.fields(values)
            yield SourceRow(f"line {line}", fields, f"has {len(values)} fields; the header has {width}")
        else:
            yield SourceRow(f"line {line}", mapping.fields(values))


def _run(rows: Iterator[SourceRow], origin: str, storage: StorageSettings, choices: Choices, out: TextIO) -> int:
    options = ImportOptions(origin=origin, apply=choices.apply, notify=choices.notify, since=choices.since,
                            include_erased=choices.include_erased)  # fmt: skip
    importer = Importer(open_table(storage), open_queue(storage), options, progress=_progress(out))
    try:
        report = importer.run(rows)
    except StorageUnavailable as exc:
        _clear_progress(out)
        print(f"stopped: {failures.storage_unreachable(exc)}. What was stored stays; run the same command again "
              "(nothing is stored twice).", file=out)  # fmt: skip
        return failures.UNREACHABLE
    _clear_progress(out)
    _print_report(report, choices, out)
    return failures.ATTENTION if report.unusable else failures.OK


def _print_report(report: ImportReport, choices: Choices, out: TextIO) -> None:
    counts = [
        ("rows read", report.rows, ""),
        ("already here", report.already_here, f"{report.same_lead} the same lead, {report.similar} the same email, "
         "offer, action and day"),
        ("new leads", len(report.new), ""),
        ("unusable", len(report.unusable), ""),
    ]  # fmt: skip
    if choices.since is not None:
        counts.insert(3, ("before --since", report.before_since, choices.since.date().isoformat()))
    if report.erased:  # leads of people erased with `forget`, created before that: erased stays erased
        counts.insert(-2, ("erased", report.erased, "their person was forgotten; --include-erased imports them"))
    print("", file=out)
    for label, count, note in counts:
        print(f"{label:<15}{count:>8}" + (f"  ({note})" if note and count else ""), file=out)
    _list("unusable rows", report.unusable, choices.show_contact, out)
    _list("new leads", report.new, choices.show_contact, out, prefix="lead ")
    if not choices.apply:
        advice = f" Run again with --apply to store the {len(report.new)} new lead(s)." if report.new else ""
        print(f"\ndry run: nothing was stored.{advice}", file=out)
        return
    if not report.stored:
        print("\nnothing new to store.", file=out)
        return
    mail = "without mail to the contacts (--no-notify)" if not choices.notify else "with mail to the contacts"
    print(f"\nstored {report.stored} new lead(s); they go through the queue to Dynamics, {mail}.", file=out)


def _list(title: str, findings: list[Finding], show_contact: bool, out: TextIO, prefix: str = "") -> None:
    if not findings:
        return
    print(f"\n{title}:", file=out)
    for finding in findings[:LISTED]:
        contact = f"  {finding.contact}" if show_contact and finding.contact else ""
        print(f"  {finding.where}: {prefix}{finding.text}{contact}", file=out)
    if len(findings) > LISTED:
        print(f"  … and {len(findings) - LISTED} more", file=out)


def _progress(out: TextIO) -> Callable[[int], None] | None:
    """Rows read so far, on one line rewritten in place; only on a terminal."""
    if not out.isatty():
        return None
    return lambda rows: print(f"\r  {rows:,} rows…", end="", file=out, flush=True)


def _clear_progress(out: TextIO) -> None:
    if out.isatty():
        print("\r" + " " * 30 + "\r", end="", file=out, flush=True)
