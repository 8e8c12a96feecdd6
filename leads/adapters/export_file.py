"""Reading Partner Center's lead export (Referrals → Marketplace leads → Export) row by row, never the whole file:
CSV (UTF-8 with or without BOM, UTF-16, or Windows-1252; `;`, `,` or tab between fields; quoted newlines) or the
same data saved as .xlsx (openpyxl, read-only streaming, when installed)."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO

from leads.core.errors import ExportUnreadable

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (";", ",", "\t")
MAX_FIELD_CHARS = 1_000_000  # a lead's note can be long; the csv module's default limit is 131,072

Row = tuple[int, list[str] | None, str]  # (line, values, problem): values None when the line could not be split


@dataclass
class ExportFile(AbstractContextManager["ExportFile"]):
    """An open export: what it is, its header row, and its remaining rows (``rows()``, read as they are used)."""

    description: str
    headers: list[str]
    _rows: Iterator[Row]
    _closing: ExitStack

    def rows(self) -> Iterator[Row]:
        return self._rows

    def __exit__(self, *exc_info: object) -> None:
        self._closing.close()


def open_export(path: Path) -> ExportFile:
    """Open the file and read its header row; ExportUnreadable when it cannot be (missing, empty, not text)."""
    if not path.is_file():
        raise ExportUnreadable(f"{path}: {'a folder, not a file' if path.is_dir() else 'no such file'}")
    closing = ExitStack()
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            description, rows = _xlsx_rows(path, closing)
        else:
            description, rows = _csv_rows(path, closing)
        first = next(rows, None)
        while first is not None and not any(value.strip() for value in first[1] or []):
            first = next(rows, None)  # blank lines before the header
    except BaseException:
        closing.close()
        raise
    if first is None or first[1] is None:
        closing.close()
        raise ExportUnreadable(f"{path}: no header row" + (f" ({first[2]})" if first else " (the file is empty)"))
    return ExportFile(description, [value.strip() for value in first[1]], rows, closing)


def _csv_rows(path: Path, closing: ExitStack) -> tuple[str, Iterator[Row]]:
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    encoding, name = _encoding(sample)
    text = sample.decode(encoding, errors="ignore")
    header_line = next(iter(text.splitlines()), "")
    delimiter = max(DELIMITERS, key=header_line.count)
    stream: TextIO = closing.enter_context(path.open(encoding=encoding, newline=""))
    shown = {"\t": "tab"}.get(delimiter, f"'{delimiter}'")
    return f"CSV, {shown}-separated, {name}", _split(stream, delimiter)


def _encoding(sample: bytes) -> tuple[str, str]:
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "UTF-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) < SAMPLE_BYTES)
    except UnicodeDecodeError:
        return "cp1252", "Windows-1252"  # what Excel writes for "CSV" on a Western-European Windows
    return "utf-8-sig", "UTF-8 with BOM" if sample.startswith(codecs.BOM_UTF8) else "UTF-8"


def _split(stream: TextIO, delimiter: str) -> Iterator[Row]:
    """Rows with the line each starts on; a row the csv module cannot split is reported, and reading goes on."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, None, f"not valid CSV ({exc})"
            continue
        except UnicodeDecodeError as exc:
            yield start, None, f"not valid {stream.encoding} text ({exc.reason}); nothing after it could be read"
            return
        yield start, values, ""


def _xlsx_rows(path: Path, closing: ExitStack) -> tuple[str, Iterator[Row]]:
    try:
        import openpyxl  # not deployed: only this command reads .xlsx
    except ImportError:
        raise ExportUnreadable(
            f"{path}: reading .xlsx needs openpyxl (pip install -r requirements-dev.txt, or pip install openpyxl); "
            "or export the leads as CSV"
        ) from None
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a zip or XML error: the file is not a workbook
        raise ExportUnreadable(f"{path}: not an .xlsx workbook ({exc.__class__.__name__})") from None
    closing.callback(workbook.close)
    sheet: Any = workbook.active
    rows = (
        (number, [_cell(value) for value in values], "")
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
    )
    return f"Excel workbook, sheet {sheet.title!r}", rows


def _cell(value: Any) -> str:
    """A cell as the CSV export would show it: times in ISO 8601, whole numbers without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
