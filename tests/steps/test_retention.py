"""Retention with the in-memory store: which leads are scrubbed, bounded runs, a crash resumed, and a scrubbed lead
still recognised by the endpoint and by imports. tests/steps/test_retention_azurite.py runs the timer on Azurite."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leads.core import lead_row
from leads.core.errors import StorageUnavailable
from leads.core.matching import EMAIL_HASH, MATCH_KEY
from leads.core.payload import parse_lead
from leads.settings import SettingsError, load_dynamics, load_retention
from leads.steps import intake
from leads.steps.importing import Importer, ImportOptions, SourceRow
from leads.steps.processing import LeadProcessor
from leads.steps.retention import WATERMARK, Retention
from tests.core.test_export_rows import ADA
from tests.doubles import MemoryLeadStore, MemoryQueue, RecordingCrm, RecordingMailer
from tests.leadsamples import body, marketplace_lead

NOW = datetime(2027, 3, 1, 3, 17, tzinfo=UTC)
PERSONAL_VALUES = ("Ada", "Lovelace", "ada@contoso.example", "+44 20 7946 0000", "Contoso Ltd", "pricing")


def store_lead(store: MemoryLeadStore, note: str, status: str, days_ago: float, **columns: Any) -> str:
    """A lead received and last updated ``days_ago``, in ``status``."""
    when = NOW - timedelta(days=days_ago)
    lead = parse_lead(marketplace_lead(Description=f"Please contact me about pricing ({note})"))
    store.insert(lead_row.new_entity(lead, when) | {"Status": status, **columns})
    return lead.lead_id


def retention(store: MemoryLeadStore, **options: Any) -> Retention:
    return Retention(store, store, days=90, clock=lambda: NOW, **options)


def row(store: MemoryLeadStore, lead_id: str) -> dict[str, Any]:
    found = store.get(lead_id)
    assert found is not None
    return found


def test_old_done_leads_are_scrubbed_and_unfinished_or_recent_ones_spared() -> None:
    store = MemoryLeadStore()
    old = store_lead(store, "old", "done", days_ago=91)
    recent = store_lead(store, "recent", "done", days_ago=89)
    spared = [store_lead(store, status, status, days_ago=400) for status in ("received", "held", "failed")]
    report = retention(store).run()
    assert (report.scrubbed, report.left) == (1, 0)
    scrubbed = row(store, old)
    assert "CustomerInfo" not in scrubbed and "RawPayload" not in scrubbed and "Description" not in scrubbed
    assert not any(value in str(scrubbed) for value in PERSONAL_VALUES)
    assert scrubbed["ScrubbedAt"] == NOW and scrubbed["Status"] == "done"
    assert scrubbed[MATCH_KEY] and scrubbed[EMAIL_HASH]
    for lead_id in (recent, *spared):
        assert "Ada" in row(store, lead_id)["CustomerInfo"]
        assert lead_row.lead_from_entity(row(store, lead_id)).contact.email == "ada@contoso.example"


def test_runs_are_bounded_and_pick_up_where_the_last_one_stopped() -> None:
    store = MemoryLeadStore()
    lead_ids = [store_lead(store, f"lead {n}", "done", days_ago=100 + n) for n in range(5)]
    first = retention(store, limit=2).run()
    assert (first.scrubbed, first.left) == (2, 3)
    # Oldest first: the two that finished longest ago went; the watermark stops at the third.
    assert [bool(row(store, lead_id).get("ScrubbedAt")) for lead_id in lead_ids] == [False, False, False, True, True]
    assert store.read_watermark(WATERMARK) == row(store, lead_ids[2])["UpdatedAt"]
    second = retention(store, limit=2).run()
    third = retention(store, limit=2).run()
    assert (second.scrubbed, third.scrubbed, third.left) == (2, 1, 0)
    assert all(row(store, lead_id).get("ScrubbedAt") for lead_id in lead_ids)
    assert store.read_watermark(WATERMARK) == NOW - timedelta(days=90)
    writes = store.writes
    assert retention(store).run().scrubbed == 0 and store.writes == writes  # idempotent: nothing to write


class CrashingStore(MemoryLeadStore):
    """The process dies (here: storage fails) after ``survive`` scrubs."""

    def __init__(self, survive: int) -> None:
        super().__init__()
        self.survive = survive

    def replace(self, lead_id: str, entity: dict[str, Any], etag: str) -> str:
        if self.survive == 0:
            raise StorageUnavailable("table leads: ServiceRequestError")
        self.survive -= 1
        return super().replace(lead_id, entity, etag)


def test_a_run_that_crashes_is_resumed_by_the_next_one() -> None:
    store = CrashingStore(survive=2)
    lead_ids = [store_lead(store, f"lead {n}", "done", days_ago=100 + n) for n in range(4)]
    with pytest.raises(StorageUnavailable):
        retention(store).run()
    assert store.read_watermark(WATERMARK) is None  # not moved: the next run reads the same leads
    assert sum(1 for lead_id in lead_ids if row(store, lead_id).get("ScrubbedAt")) == 2
    store.survive = 10
    resumed = retention(store).run()
    assert (resumed.scrubbed, resumed.already, resumed.left) == (2, 2, 0)
    assert all(row(store, lead_id).get("ScrubbedAt") for lead_id in lead_ids)


class BusyStore(MemoryLeadStore):
    """A worker writes to the lead between the timer's read and its write (the ETag changes)."""

    def get(self, lead_id: str) -> dict[str, Any] | None:
        found = super().get(lead_id)
        if found is not None and not found.get("ScrubbedAt"):
            self.update(lead_id, {"MailClaim": ""})
        return found


def test_a_lead_changed_meanwhile_is_left_whole_for_the_next_run() -> None:
    store = BusyStore()
    lead_id = store_lead(store, "busy", "done", days_ago=120)
    report = retention(store).run()
    assert (report.scrubbed, report.left) == (0, 1)
    assert "CustomerInfo" in row(store, lead_id)
    assert store.read_watermark(WATERMARK) == row(store, lead_id)["UpdatedAt"]  # stays behind it


def test_a_longer_retention_period_scrubs_nothing_more_and_keeps_the_watermark() -> None:
    store = MemoryLeadStore()
    store_lead(store, "a", "done", days_ago=100)
    retention(store).run()
    mark = store.read_watermark(WATERMARK)
    assert Retention(store, store, days=365, clock=lambda: NOW).run().scrubbed == 0
    assert store.read_watermark(WATERMARK) == mark
    shorter = store_lead(store, "b", "done", days_ago=40)
    assert Retention(store, store, days=30, clock=lambda: NOW).run().scrubbed == 1
    assert row(store, shorter).get("ScrubbedAt")


def test_a_redelivered_lead_whose_row_was_scrubbed_is_a_duplicate_and_never_reaches_dynamics_twice() -> None:
    store, queue, crm = MemoryLeadStore(), MemoryQueue(), RecordingCrm()
    dynamics = load_dynamics({"DYNAMICS_URL": "https://contoso.crm.dynamics.com", "AZURE_TENANT_ID": "t",
                              "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"})  # fmt: skip
    then = NOW - timedelta(days=100)
    processor = LeadProcessor(store, lambda: dynamics, lambda: crm, RecordingMailer, clock=lambda: then)
    payload = body(marketplace_lead())
    first = intake.receive(payload, store, queue, NOW - timedelta(days=100))
    processor.process_message(queue.messages.pop())
    assert row(store, first.lead_id)["Status"] == "done" and len(crm.leads) == 1
    assert retention(store).run().scrubbed == 1
    again = intake.receive(payload, store, queue, NOW)
    assert (again.lead_id, again.duplicate) == (first.lead_id, True)
    assert queue.messages == []  # not enqueued again
    processor.process(first.lead_id)  # even a stray message finds a finished lead
    assert crm.calls == 1 and len(crm.leads) == 1


def test_imports_still_match_a_scrubbed_lead() -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    received = datetime(2026, 11, 21, 9, 31, tzinfo=UTC)
    lead_id = intake.receive(body(marketplace_lead()), store, queue, received).lead_id
    store.update(lead_id, {"Status": "done", "UpdatedAt": received})
    assert retention(store).run().scrubbed == 1
    importer = Importer(store, queue, ImportOptions(origin=lead_row.ORIGIN_IMPORT, apply=True), clock=lambda: NOW)
    report = importer.run([SourceRow("line 2", ADA), SourceRow("line 3", ADA | {"description": "edited"})])
    assert (report.same_lead, report.similar, report.stored) == (1, 1, 0)


def test_the_log_names_no_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryLeadStore()
    lead_id = store_lead(store, "logged", "done", days_ago=100)
    with caplog.at_level(logging.DEBUG, logger="leads"):
        retention(store).run()
    assert lead_id in caplog.text and "personal data removed from 1 lead(s)" in caplog.text
    assert not any(value in caplog.text for value in PERSONAL_VALUES)


def test_the_setting_defaults_to_90_days_and_0_turns_it_off() -> None:
    assert load_retention({}).days == 90
    assert load_retention({"LEAD_RETENTION_DAYS": "0"}).enabled is False
    with pytest.raises(SettingsError, match="LEAD_RETENTION_DAYS is '-1'; set it to a whole number from 0 to 3650"):
        load_retention({"LEAD_RETENTION_DAYS": "-1"})
