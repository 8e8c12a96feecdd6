"""The retention timer against Azurite: old done leads lose their personal data (REPLACE really drops the columns),
unfinished ones keep it, a crashed run is resumed, and a scrubbed lead delivered again is still a duplicate."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from azure.functions.timer import TimerRequest

from function_app import scrub_finished_leads
from leads import runtime
from leads.adapters.lead_table import LeadTable
from leads.core import clock, lead_row, personal
from leads.core.errors import LeadChanged, StorageUnavailable
from leads.core.payload import parse_lead
from leads.settings import StorageSettings
from leads.steps.retention import WATERMARK, Retention
from tests.leadsamples import body, marketplace_lead
from tests.steps.test_intake import post

timer = scrub_finished_leads.build().get_user_function()
PERSONAL_VALUES = ("Ada", "Lovelace", "ada@contoso.example", "+44 20 7946 0000", "Contoso Ltd", "pricing")


def store_lead(note: str, status: str, days_ago: int) -> str:
    when = clock.now() - timedelta(days=days_ago)
    lead = parse_lead(marketplace_lead(Description=f"Please contact me about pricing ({note})"))
    runtime.lead_table().insert(lead_row.new_entity(lead, when) | {"Status": status})
    return lead.lead_id


def stored(lead_id: str) -> dict[str, Any]:
    found = runtime.lead_table().get(lead_id)
    assert found is not None
    return found


def test_the_timer_scrubs_old_done_leads_and_spares_unfinished_ones(
    storage_env: StorageSettings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LEAD_RETENTION_DAYS", "30")
    old = store_lead("old", "done", days_ago=31)
    recent = store_lead("recent", "done", days_ago=29)
    unfinished = {status: store_lead(status, status, days_ago=365) for status in ("received", "held", "failed")}
    with caplog.at_level(logging.DEBUG, logger="leads"):
        timer(TimerRequest())
    scrubbed = stored(old)
    gone = {"CustomerInfo", "Description", "RawPayload"} & set(scrubbed)
    assert not gone, f"still there: {gone}"
    assert not any(value in str(scrubbed) for value in PERSONAL_VALUES)
    assert (scrubbed["Status"], scrubbed["OfferTitle"], bool(scrubbed["MatchKey"])) == ("done", "Contoso CRM Connector",
                                                                                          True)  # fmt: skip
    assert scrubbed["ScrubbedAt"] > clock.now() - timedelta(minutes=5)
    for lead_id in (recent, *unfinished.values()):
        assert "ada@contoso.example" in stored(lead_id)["CustomerInfo"]
    assert not any(value in caplog.text for value in PERSONAL_VALUES)
    timer(TimerRequest())  # again: nothing more to do, nothing changes
    assert stored(old) == scrubbed
    # Delivered again by the marketplace: the scrubbed row still recognises it.
    status, answer, _ = post(body(marketplace_lead(Description="Please contact me about pricing (old)")))
    assert (status, answer) == (202, {"id": old, "duplicate": True})
    assert "CustomerInfo" not in stored(old)


def test_retention_days_0_turns_the_timer_off(storage_env: StorageSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAD_RETENTION_DAYS", "0")
    old = store_lead("kept", "done", days_ago=4000)
    timer(TimerRequest())
    assert "CustomerInfo" in stored(old)


class Crashing(LeadTable):
    """The table, with the process dying after ``survive`` scrubs (storage trouble, a time-out, a restart)."""

    survive = 0

    def replace(self, lead_id: str, entity: dict[str, Any], etag: str) -> str:
        if self.survive <= 0:
            raise StorageUnavailable("table: the run was cut short")
        self.survive -= 1
        return super().replace(lead_id, entity, etag)


def test_a_crash_mid_run_is_resumed_by_the_next_run(storage_env: StorageSettings) -> None:
    lead_ids = [store_lead(f"lead {n}", "done", days_ago=100 + n) for n in range(5)]
    table = Crashing(storage_env)
    table.survive = 2
    with pytest.raises(StorageUnavailable):
        Retention(table, table, days=90).run()
    assert sum(1 for lead_id in lead_ids if stored(lead_id).get("ScrubbedAt")) == 2
    assert table.read_watermark(WATERMARK) is None
    table.survive = 100
    resumed = Retention(table, table, days=90).run()
    assert (resumed.scrubbed, resumed.already) == (3, 2)
    assert all("CustomerInfo" not in stored(lead_id) for lead_id in lead_ids)
    assert table.read_watermark(WATERMARK) is not None


def test_a_row_changed_since_it_was_read_is_not_replaced(storage_env: StorageSettings) -> None:
    lead_id = store_lead("raced", "done", days_ago=100)
    table = runtime.lead_table()
    entity = stored(lead_id)
    table.update(lead_id, {"MailClaim": ""})  # another writer
    with pytest.raises(LeadChanged):
        table.replace(lead_id, personal.scrubbed(entity, clock.now()), etag=entity["_etag"])
    assert "CustomerInfo" in stored(lead_id)
