"""The operator commands against Azurite and the stand-ins."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from azure.functions.queue import QueueMessage

from devtools.standins import StandIns
from function_app import process_lead
from leads import runtime
from leads.__main__ import main
from leads.core import clock, lead_row
from leads.core.payload import parse_lead
from leads.ops import check, replay, send_test_lead, status
from tests.leadsamples import marketplace_lead

process = process_lead.build().get_user_function()


def run_check() -> tuple[int, str]:
    out = io.StringIO()
    code = check.check(out=out)
    return code, out.getvalue()


def store(description: str, status: str = "received", error: str = "") -> str:
    lead = parse_lead(marketplace_lead(Description=description))
    entity = lead_row.new_entity(lead, clock.now())
    entity |= {"Status": status, "LastError": error}
    runtime.lead_table().insert(entity)
    return lead.lead_id


def test_check_passes_against_working_services(app_env: dict[str, str], standins: StandIns) -> None:
    code, text = run_check()
    assert code == 0, text
    assert "✗" not in text
    for line in (
        "✓ storage",
        "✓ Dynamics URL: " + app_env["DYNAMICS_URL"],
        "✓ sign-in (client_secret)",
        "✓ WhoAmI: user",
        "✓ create leads",
        "✓ contacts: 2 address(es)",
        "✓ mail (graph)",
    ):
        assert line in text


@pytest.mark.parametrize(
    ("setting", "value", "advice"),
    [
        ("AZURE_CLIENT_SECRET", "wrong", "AZURE_CLIENT_SECRET is wrong"),
        ("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000000", "AZURE_TENANT_ID"),
        ("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111", "AZURE_CLIENT_ID"),
        ("NOTIFY_TO", "sales@contoso.example;nobody", "'nobody'"),
        ("DYNAMICS_URL", "http://contoso.crm.dynamics.com", "DYNAMICS_URL"),
        (
            "AzureWebJobsStorage",
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;",
            "storage: unreachable",
        ),
    ],
)
def test_check_fails_with_advice_naming_the_setting(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch, setting: str, value: str, advice: str
) -> None:
    monkeypatch.setenv(setting, value)
    code, text = run_check()
    assert code == 1
    assert advice in text
    assert "✗" in text


def test_check_explains_a_missing_application_user(app_env: dict[str, str], standins: StandIns) -> None:
    standins.dataverse.application_user_missing = True
    code, text = run_check()
    assert code == 1
    assert "application user" in text


def test_check_explains_a_missing_create_privilege(app_env: dict[str, str], standins: StandIns) -> None:
    standins.dataverse.privileges.discard("prvCreateLead")
    code, text = run_check()
    assert code == 1
    assert "lacks prvCreateLead" in text


def test_check_asks_for_the_note_privileges_only_when_returning_customers_are_on(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    standins.dataverse.privileges -= {"prvCreateNote", "prvAppendToLead"}
    code, text = run_check()
    assert code == 0 and "notes" not in text  # DYNAMICS_DUPLICATES=create (the default) needs none
    monkeypatch.setenv("DYNAMICS_DUPLICATES", "attach")
    code, text = run_check()
    assert code == 1
    assert "✗ create notes: the user lacks prvCreateNote: give its security role Create on Note" in text
    assert "✗ append to leads: the user lacks prvAppendToLead" in text and "✓ read notes" in text


def test_check_does_not_print_secrets(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, text = run_check()
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "wrong-secret-value")
    _, failing = run_check()
    assert app_env["AZURE_CLIENT_SECRET"] not in text + failing
    assert "wrong-secret-value" not in failing


def test_status_counts_oldest_unfinished_and_failures(app_env: dict[str, str]) -> None:
    store("a", "done")
    store("b", "received")
    failed = store("c", "failed", error="400 0x80040203: Invalid argument.")
    out = io.StringIO()
    assert status.status(runtime.lead_table(), out) == 0
    text = out.getvalue()
    assert "3 lead(s) · done 1 · failed 1 · received 1" in text
    assert "oldest unfinished:" in text
    assert f"{failed}" in text and "Invalid argument." in text
    assert "Ada" not in text and "ada@contoso.example" not in text


def test_status_json_filters_and_shows_contact_only_when_asked(app_env: dict[str, str]) -> None:
    store("a", "held")
    out = io.StringIO()
    status.status(runtime.lead_table(), out, only="held", as_json=True)
    answer = json.loads(out.getvalue())
    assert answer["counts"] == {"held": 1}
    assert "contact" not in answer["leads"][0]
    out = io.StringIO()
    status.status(runtime.lead_table(), out, only="held", show_contact=True)
    assert "ada@contoso.example" in out.getvalue()
    out = io.StringIO()
    status.status(runtime.lead_table(), out, since=clock.now() + timedelta(hours=1))
    assert out.getvalue().startswith("0 lead(s)")


def test_parse_since() -> None:
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert status.parse_since("30m", now) == now - timedelta(minutes=30)
    assert status.parse_since("12h", now) == now - timedelta(hours=12)
    assert status.parse_since("7d", now) == now - timedelta(days=7)
    assert status.parse_since("1w", now) == status.parse_since("7 D", now) == now - timedelta(weeks=1)
    assert status.parse_since("today", now) == datetime(2026, 11, 21, tzinfo=UTC)
    assert status.parse_since(" Yesterday ", now) == datetime(2026, 11, 20, tzinfo=UTC)
    assert status.parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert status.parse_since("2026-11-01T09:30+01:00", now) == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    for odd in ("2026-13-45", "1fortnight", "-3d", "", "999999999w"):
        with pytest.raises(ValueError):  # noqa: PT011  # fromisoformat's messages vary by form
            status.parse_since(odd, now)


def test_replay_failed_sends_it_and_is_idempotent(app_env: dict[str, str], standins: StandIns) -> None:
    failed = store("failed one", "failed", error="mail: outage")
    done = store("done one", "done")
    out = io.StringIO()
    assert replay.replay(runtime.lead_table(), runtime.lead_queue(), [done], ["failed"], out) == 0
    assert "replayed 1, already done 1" in out.getvalue()
    [queued] = runtime.lead_queue().client.receive_messages(max_messages=5)
    assert lead_row.lead_id_from_message(queued.content) == failed
    process(QueueMessage(id="r", body=queued.content.encode(), dequeue_count=1))
    assert runtime.lead_table().get(failed)["Status"] == "done"  # type: ignore[index]
    assert len(standins.dataverse.leads) == 1
    out = io.StringIO()
    replay.replay(runtime.lead_table(), runtime.lead_queue(), [failed], [], out)
    assert "already done" in out.getvalue()


def test_replay_of_an_unknown_id_says_so(app_env: dict[str, str]) -> None:
    out = io.StringIO()
    assert replay.replay(runtime.lead_table(), runtime.lead_queue(), ["f" * 32], [], out) == 1
    assert "no such lead" in out.getvalue()


def test_command_line_help_and_status(
    app_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for command in ("check", "send-test-lead", "status", "replay"):
        with pytest.raises(SystemExit) as caught:
            main([command, "--help"])
        assert caught.value.code == 0
    store("x", "done")
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Values": {"LEADS_TABLE": "notused", "DYNAMICS_ENABLED": "false"}}))
    table_name = os.environ["LEADS_TABLE"]
    # The command line fills the process environment from the settings file: keep that inside this test.
    with mock.patch.dict(os.environ):
        assert main(["--settings", str(settings), "status"]) == 0
        assert os.environ["DYNAMICS_ENABLED"] == "false"  # filled in from the file
        assert os.environ["LEADS_TABLE"] == table_name  # the environment wins over the file
        with pytest.raises(SystemExit):
            main(["replay"])  # needs lead ids, --failed or --held
    assert "DYNAMICS_ENABLED" not in os.environ
    assert "1 lead(s) · done 1" in capsys.readouterr().out


def test_follow_says_when_the_lead_is_not_in_this_table(app_env: dict[str, str]) -> None:
    out = io.StringIO()
    assert send_test_lead.follow(runtime.lead_table(), "a" * 32, out, seconds=0.6) == 1
    assert "not in the table configured here" in out.getvalue()
    done = store("followed", "done")
    out = io.StringIO()
    assert send_test_lead.follow(runtime.lead_table(), done, out, seconds=5) == 0
    assert f"lead {done} is done" in out.getvalue()
