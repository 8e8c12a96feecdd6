"""`python -m leads import` against Azurite: Partner Center's export, Microsoft's Azure Table destination, and the
timer that follows that table (its watermark across a crash)."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableClient

from devtools.azurite import Azurite
from function_app import follow_marketplace_table
from leads import runtime
from leads.__main__ import main
from leads.adapters.lead_table import WATERMARKS
from leads.adapters.marketplace_table import MarketplaceTable
from leads.core import clock
from leads.core.errors import StorageUnavailable
from leads.ops.import_leads import Choices, import_file
from leads.settings import StorageSettings, load_marketplace_table
from leads.steps import intake
from leads.steps.follow_table import OVERLAP, TableFollower
from tests.leadsamples import body, marketplace_lead

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "partner-center-export.csv"
follow = follow_marketplace_table.build().get_user_function()


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], storage_env: StorageSettings) -> Any:
    """Run the command line with nothing from a settings file (the environment points at Azurite)."""
    return command_line(tmp_path, capsys)


def command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """``run(*args)``: the command line with an empty settings file, so the environment alone decides; the exit
    code and what it printed."""
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"Values": {}}))

    def run(*args: str) -> tuple[int, str]:
        code = main(["--settings", str(settings), *args])
        runtime.reset()
        return code, capsys.readouterr().out

    return run


def stored_leads() -> list[dict[str, Any]]:
    return list(runtime.lead_table().query("Status eq @s", {"s": "received"}, select=["RowKey", "Origin"]))


def queued() -> int:
    return int(runtime.lead_queue().client.get_queue_properties().approximate_message_count or 0)


def test_the_sample_export_dry_run_then_apply_then_again(cli: Any) -> None:
    code, out = cli("import", str(SAMPLE))
    assert code == 1  # unusable rows
    assert "(CSV, ','-separated, UTF-8 with BOM)" in out
    assert "not used: 'Email validity', 'Phone validity'" in out
    for line in ("rows read             7", "new leads             5", "unusable              2",
                 "line 8: creation date not understood", "line 11: has 15 fields; the header has 14",
                 "dry run: nothing was stored"):  # fmt: skip
        assert line in out
    assert "@" not in out  # no personal data without --show-contact
    assert stored_leads() == []
    code, out = cli("import", str(SAMPLE), "--apply")
    assert code == 1 and "stored 5 new lead(s)" in out
    assert len(stored_leads()) == 5 and queued() == 5
    assert {lead["Origin"] for lead in stored_leads()} == {"import"}
    code, out = cli("import", str(SAMPLE), "--apply", "--show-contact")
    assert code == 1 and "already here          5  (5 the same lead" in out and "nothing new to store" in out
    assert "Barbara Liskov <barbara@adatum.example>" in out
    assert len(stored_leads()) == 5 and queued() == 5


def test_a_lead_received_over_https_and_again_in_the_export_is_one_lead(cli: Any) -> None:
    receipt = intake.receive(body(marketplace_lead()), runtime.lead_table(), runtime.lead_queue(), clock.now())
    code, out = cli("import", str(SAMPLE), "--apply", "--since", "2026-11-21")
    assert code == 1  # the two unusable rows
    assert "already here          1  (1 the same lead" in out and "stored 4 new lead(s)" in out
    assert len(stored_leads()) == 5
    ada = runtime.lead_table().get(receipt.lead_id)
    assert ada is not None and ada["Origin"] == "https"


def test_since_and_no_notify(cli: Any) -> None:
    code, out = cli("import", str(SAMPLE), "--apply", "--no-notify", "--since", "2026-11-23")
    assert code == 1
    assert "before --since        2" in out and "stored 3 new lead(s)" in out and "--no-notify" in out
    rows = runtime.lead_table().query("SkipNotification eq @t", {"t": True}, select=["RowKey"])
    assert len(list(rows)) == 3


def test_a_file_that_cannot_be_mapped_is_refused(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Contact mail;Product;When\na@b.example;O;2026-11-21\n", encoding="utf-8")
    code, out = cli("import", str(path))
    assert code == 2
    assert "cannot tell which column holds: email" in out and 'Headers found: "Contact mail", "Product", "When"' in out
    code, out = cli("import", str(path), "--column", "Contact mail=email", "--column", "Product=offer",
                    "--column", "when=created", "--apply")  # fmt: skip
    assert code == 0 and "stored 1 new lead(s)" in out


def test_ten_thousand_rows_stream_through_with_bad_ones_listed(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        handle.write("First name;Last name;Email;Offer title;Action;Created;Description\r\n")
        for n in range(10_000):
            created = "not a date" if n % 2500 == 7 else f"2026-11-{1 + n % 28:02d}T10:00:00Z"
            note = f'"line one\nline two #{n}"' if n % 1000 == 0 else f"note {n}"
            handle.write(f"Lead;Number {n};lead{n}@contoso.example;Contoso CRM;INS;{created};{note}\r\n")
    intake.receive(
        body(marketplace_lead(
            UserDetails={"FirstName": "Lead", "LastName": "Number 5", "Email": "lead5@contoso.example"},
            OfferTitle="Contoso CRM", ActionCode="INS", LeadSource="", Description="note 5")),
        runtime.lead_table(), runtime.lead_queue(), datetime(2026, 11, 6, 10, 0, tzinfo=UTC),
    )  # fmt: skip
    code, out = cli("import", str(path))
    assert code == 1
    assert "rows read         10000" in out and "new leads          9995" in out and "unusable              4" in out
    assert "already here          1  (0 the same lead, 1 the same email" in out
    assert "line 10: creation date not understood" in out  # row 1 spans lines 2-3 (a quoted newline)
    assert "… and 9945 more" in out  # the list is cut, the count is whole


# --- Microsoft's Azure Table destination --------------------------------------------------------------------


@pytest.fixture
def source_table(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch, storage_env: StorageSettings
) -> Iterator[TableClient]:
    """A table written as Microsoft's Azure Table destination writes it, in Azurite."""
    name = f"MarketplaceLeads{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MARKETPLACE_TABLE_CONNECTION", azurite.connection_string)
    client = TableClient.from_connection_string(azurite.connection_string, name)
    client.create_table()
    yield client
    client.delete_table()


def microsoft_row(client: TableClient, n: int, **changes: Any) -> str:
    """One lead as the marketplace writes it (columns of REFERENCE.md §1.5); returns the lead's email."""
    email = f"lead{n}@contoso.example"
    contact = {"FirstName": "Lead", "LastName": f"Number {n}", "Email": email, "Phone": "", "Country": "Norway",
               "Company": "Contoso", "Title": ""}  # fmt: skip
    entity = {
        "PartitionKey": "11:2F21:2F2026",
        "RowKey": uuid.uuid4().hex,
        "ActionCode": "INS",
        "CreatedTime": "11/21/2026 9:30:00 AM",
        "CustomerInfo": json.dumps(contact),
        "Description": "",
        "LeadSource": "AzureMarketplace-INS|contoso.crm",
        "OfferDisplayName": "Contoso CRM",
    } | changes
    client.create_entity(entity)
    return email


def test_import_from_the_table_destination(cli: Any, source_table: TableClient) -> None:
    for n in range(3):
        microsoft_row(source_table, n)
    microsoft_row(source_table, 9, customerinfo=None, CustomerInfo="not json", OfferDisplayName="", CreatedTime="x")
    code, out = cli("import", "--from-table", "--table", source_table.table_name)
    assert (
        f"table {source_table.table_name}" in out
        and "rows read             4" in out
        and "new leads             3" in out
    )
    assert "unusable              1" in out and "nothing to make a lead of" in out
    code, out = cli("import", "--from-table", "--table", source_table.table_name, "--apply")
    assert code == 1 and "stored 3 new lead(s)" in out
    assert {lead["Origin"] for lead in stored_leads()} == {"table"}
    code, out = cli("import", "--from-table", "--table", source_table.table_name, "--apply")
    assert code == 1 and "already here          3" in out and "nothing new to store" in out


def test_a_missing_source_table_is_refused_naming_the_setting(cli: Any, source_table: TableClient) -> None:
    code, out = cli("import", "--from-table", "--table", "NoSuchTable")
    assert code == 2 and "not found" in out and "MARKETPLACE_TABLE" in out


def test_the_timer_does_nothing_while_marketplace_table_is_empty(storage_env: StorageSettings) -> None:
    follow(None)
    assert runtime.table_follower() is None
    assert runtime.lead_table().read_watermark(f"marketplace-table-{'MarketplaceLeads'}") is None


class FailingStore:
    """The lead table, failing the way storage fails (StorageUnavailable) from the ``fail_at``-th insert on."""

    def __init__(self, fail_at: int) -> None:
        self.table, self.fail_at, self.inserts = runtime.lead_table(), fail_at, 0

    def insert(self, entity: dict[str, Any]) -> bool:
        self.inserts += 1
        if self.inserts >= self.fail_at:
            raise StorageUnavailable("table: ServiceRequestError")
        return self.table.insert(entity)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.table, name)


def test_the_timer_watermark_survives_a_crash_between_reading_and_storing(
    source_table: TableClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARKETPLACE_TABLE", source_table.table_name)
    runtime.reset()
    follow(None)  # the first run records where to start
    table = runtime.lead_table()
    name = f"marketplace-table-{source_table.table_name}"
    start = table.read_watermark(name)
    assert start is not None
    emails = [microsoft_row(source_table, n) for n in range(3)]
    source = MarketplaceTable(load_marketplace_table(), runtime.storage_settings())
    crashing = TableFollower(source, FailingStore(fail_at=2), runtime.lead_queue(), table)
    with pytest.raises(StorageUnavailable):
        crashing.run()
    assert table.read_watermark(name) == start  # not advanced: the rows are read again
    assert len(stored_leads()) == 1
    later = clock.now() + 2 * OVERLAP
    report = TableFollower(source, table, runtime.lead_queue(), table, clock=lambda: later).run()
    assert report is not None and (report.rows, report.same_lead, report.stored) == (3, 1, 2)
    assert len(stored_leads()) == 3 and queued() == 3
    newest = max(entity.metadata["timestamp"] or start for entity in source_table.list_entities())
    assert table.read_watermark(name) == newest
    again = TableFollower(source, table, runtime.lead_queue(), table, clock=lambda: later).run()
    assert again is not None and again.rows == 0
    assert sorted(json.loads(e["CustomerInfo"])["Email"] for e in table.query(
        "Origin eq @o", {"o": "table"}, select=["CustomerInfo"])) == sorted(emails)  # fmt: skip
    assert table.client.get_entity(WATERMARKS, name)["Watermark"] == newest
    assert table.read_watermark(name) - start < timedelta(hours=1)  # type: ignore[operator]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_only(storage_env: StorageSettings, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    lines = [f"lead{n}@contoso.example,Contoso CRM,2026-11-21" for n in range(1200)]
    path.write_text("Email,Offer,Created\n" + "\n".join(lines) + "\n", encoding="utf-8")
    on_terminal, in_a_file = Terminal(), io.StringIO()
    assert import_file(path, [], storage_env, Choices(), on_terminal) == 0
    assert import_file(path, [], storage_env, Choices(), in_a_file) == 0
    assert "\r  500 rows…\r  1,000 rows…\r" in on_terminal.getvalue()
    assert "rows…" not in in_a_file.getvalue() and "\r" not in in_a_file.getvalue()
