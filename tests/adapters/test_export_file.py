"""Reading Partner Center's export: encodings, delimiters, quoted newlines, malformed rows, .xlsx."""

from __future__ import annotations

import codecs
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from leads.adapters.export_file import open_export
from leads.core.errors import ExportUnreadable

ROWS = [
    ["Email", "Offer", "Created", "Comments"],
    ["ada@contoso.example", "Contoso CRM", "2026-11-21", "first line\nsecond line; with a, comma"],
    ["grace@fabrikam.example", "Contoso CRM", "2026-11-22", 'she said "hi"'],
]


def write_csv(path: Path, rows: list[list[str]], delimiter: str, encoding: str = "utf-8-sig") -> Path:
    def quote(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in '";,\n') else value

    text = "".join(delimiter.join(quote(value) for value in row) + "\r\n" for row in rows)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("delimiter", "encoding", "described"),
    [
        (",", "utf-8-sig", "CSV, ','-separated, UTF-8 with BOM"),
        (";", "utf-8", "CSV, ';'-separated, UTF-8"),
        ("\t", "utf-16", "CSV, tab-separated, UTF-16"),
        (";", "cp1252", "CSV, ';'-separated, Windows-1252"),
    ],
)
def test_csv_variants_read_the_same(tmp_path: Path, delimiter: str, encoding: str, described: str) -> None:
    rows = [*ROWS, ["zoë@contoso.example", "Café", "2026-11-23", "é"]]
    with open_export(write_csv(tmp_path / "export.csv", rows, delimiter, encoding)) as export:
        assert export.description == described
        assert export.headers == ROWS[0]
        read = list(export.rows())
    assert [values for _, values, _ in read] == rows[1:]
    assert [line for line, _, _ in read] == [2, 4, 5]  # the quoted newline makes row 2 two lines long


def test_malformed_and_empty_rows_are_reported_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        'Email,Offer,Created\n\n"bad"x,O,2026-11-21\na@b.example,O,2026-11-21\n,,\n"x\0y",O,2026-11-21\nc@d.example,O,1\n',
        encoding="utf-8",
    )
    with open_export(path) as export:
        read = list(export.rows())
    assert read[0] == (2, [], "")
    assert read[1][0] == 3 and read[1][1] is None and "not valid CSV" in read[1][2]
    assert read[2] == (4, ["a@b.example", "O", "2026-11-21"], "")
    assert read[3] == (5, ["", "", ""], "")
    assert read[-1] == (7, ["c@d.example", "O", "1"], "")


def test_blank_lines_before_the_header_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("\n\nEmail;Offer;Created\na;b;c\n", encoding="utf-8")
    with open_export(path) as export:
        assert export.headers == ["Email", "Offer", "Created"]
        assert list(export.rows()) == [(4, ["a", "b", "c"], "")]


@pytest.mark.parametrize(("content", "complaint"), [(b"", "the file is empty"), (b"\n\n", "the file is empty")])
def test_a_file_without_a_header_is_refused(tmp_path: Path, content: bytes, complaint: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    with pytest.raises(ExportUnreadable, match=complaint):
        open_export(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportUnreadable, match="no such file"):
        open_export(tmp_path / "nope.csv")


def test_a_bom_alone_is_utf8(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"Email,Offer,Created\n")
    with open_export(path) as export:
        assert export.headers == ["Email", "Offer", "Created"]


def test_xlsx_is_streamed_with_times_and_numbers_as_the_csv_shows_them(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Email", "Offer", "Created", "Seats"])
    sheet.append(["ada@contoso.example", "Contoso CRM", datetime(2026, 11, 21, 9, 30), 40.0])
    sheet.append([None, None, None, None])
    sheet.append(["grace@fabrikam.example", "Contoso CRM", "11/22/2026", 2.5])
    workbook.save(tmp_path / "export.xlsx")
    with open_export(tmp_path / "export.xlsx") as export:
        assert export.description.startswith("Excel workbook")
        assert export.headers == ["Email", "Offer", "Created", "Seats"]
        rows = list(export.rows())
    assert rows[0] == (2, ["ada@contoso.example", "Contoso CRM", "2026-11-21T09:30:00", "40"], "")
    assert rows[1] == (3, ["", "", "", ""], "")
    assert rows[2] == (4, ["grace@fabrikam.example", "Contoso CRM", "11/22/2026", "2.5"], "")


def test_a_file_named_xlsx_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    path.write_text("Email,Offer\n", encoding="utf-8")
    with pytest.raises(ExportUnreadable, match=r"not an \.xlsx workbook"):
        open_export(path)
