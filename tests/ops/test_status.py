"""`status`: speed to lead, leads per offer and action, the recent leads. Known timings through the in-memory table
(tests/doubles.py, read through the LeadStore port as the command reads the real table); one lead end to end
through Azurite, the queue function and the stand-ins."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.functions.queue import QueueMessage

from devtools.standins import StandIns
from function_app import process_lead
from leads import runtime
from leads.core import lead_row, personal, speed
from leads.core.payload import parse_lead
from leads.ops import status
from tests.doubles import MemoryLeadStore
from tests.leadsamples import marketplace_lead

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LINK = "https://contoso.crm4.dynamics.com/main.aspx?etn=lead&pagetype=entityrecord&id={}".format


def add(store: MemoryLeadStore, n: int, received: datetime, **columns: Any) -> str:
    document = marketplace_lead(Description=f"lead {n}", **columns.pop("payload", {}))
    lead = parse_lead(document)
    assert store.insert(lead_row.new_entity(lead, received) | {"Status": "received"} | columns)
    return lead.lead_id


def timed_store() -> MemoryLeadStore:
    """20 done leads, one a minute: lead i took i s to reach Dynamics and i + 0.5 s to reach the contacts."""
    store = MemoryLeadStore()
    for i in range(1, 21):
        received = T0 + timedelta(minutes=i)
        add(store, i, received, Status="done", DynamicsLeadId=f"00000000-0000-0000-0000-{i:012d}",
            DynamicsAt=received + timedelta(seconds=i), NotifiedAt=received + timedelta(seconds=i + 0.5))  # fmt: skip
    return store


def run(store: MemoryLeadStore, **options: Any) -> str:
    out = io.StringIO()
    assert status.status(store, out, **options) == 0
    return out.getvalue()


def row_of(text: str, label: str) -> list[str]:
    [line] = [line for line in text.splitlines() if line.strip().startswith(label)]
    return line.split(label, 1)[1].split()


def test_speed_to_lead_percentiles_from_known_timings() -> None:
    text = run(timed_store())
    assert text.startswith("20 lead(s) · done 20\n")  # the existing first line is unchanged
    # Nearest rank over 1…20 s: p50 is the 10th value, p95 the 19th.
    assert row_of(text, "received → in Dynamics") == ["10.0", "s", "19.0", "s", "20.0", "s", "20"]
    assert row_of(text, "received → contacts notified") == ["10.5", "s", "19.5", "s", "20.5", "s", "20"]
    answer = json.loads(run(timed_store(), as_json=True))
    assert answer["speed"]["to_dynamics"] == {"count": 20, "p50": 10.0, "p95": 19.0, "max": 20.0}
    assert answer["speed"]["to_notified"] == {"count": 20, "p50": 10.5, "p95": 19.5, "max": 20.5}
    for key in ("counts", "total", "oldest_unfinished", "failures", "leads"):  # the public keys stay
        assert key in answer
    assert answer["recent"][0]["seconds_to_dynamics"] == 20.0  # newest first


def test_leads_without_timings_are_left_out_of_the_percentiles() -> None:
    store = timed_store()
    add(store, 100, T0, Status="held", NotifiedAt=T0 + timedelta(seconds=600))  # never in Dynamics
    add(store, 101, T0, Status="done", DynamicsLeadId="x", NotifiedAt="")  # stored before DynamicsAt existed
    add(store, 102, T0)  # still received
    answer = json.loads(run(store, as_json=True))
    assert answer["speed"]["to_dynamics"]["count"] == 20
    assert answer["speed"]["to_notified"] == {"count": 21, "p50": 11.5, "p95": 20.5, "max": 600.0}
    assert "10 min 00 s" in run(store)


def test_no_timings_says_so() -> None:
    store = MemoryLeadStore()
    add(store, 1, T0)
    text = run(store)
    assert "speed to lead: no lead in this window has reached Dynamics or the contacts yet" in text
    assert json.loads(run(store, as_json=True))["speed"] == {"to_dynamics": None, "to_notified": None}


def test_leads_per_offer_and_action() -> None:
    store = MemoryLeadStore()
    for n in range(3):
        add(store, n, T0, payload={"ActionCode": "INS"})
    add(store, 10, T0, payload={"ActionCode": "PUR", "OfferTitle": "Contoso Analytics",
                                "LeadSource": "AzureMarketplace-PUR|contoso.analytics"})  # fmt: skip
    answer = json.loads(run(store, as_json=True))
    assert [(g["count"], g["offer"], g["offer_id"], g["action"]) for g in answer["per_offer_action"]] == [
        (3, "Contoso CRM Connector", "contoso.crm-connector", "INS"),
        (1, "Contoso Analytics", "contoso.analytics", "PUR"),
    ]
    assert row_of(run(store), "3") == ["Contoso", "CRM", "Connector", "contoso.crm-connector", "INS"]


def test_offers_with_the_same_title_are_told_apart_by_their_offer_id() -> None:
    store = MemoryLeadStore()
    add(store, 1, T0, payload={"LeadSource": "AzureMarketplace-INS|contoso.crm-connector"})
    add(store, 2, T0, payload={"LeadSource": "AzureMarketplace-INS|contoso.crm-connector-preview"})
    lines = run(store).split("leads per offer and action:\n", 1)[1].splitlines()
    assert lines[0].split() == ["leads", "offer", "offer", "id", "action"]
    assert sorted(line.split()[4] for line in lines[1:3]) == ["contoso.crm-connector", "contoso.crm-connector-preview"]


def test_recent_leads_table_links_to_dynamics_and_shows_contacts_only_when_asked() -> None:
    store = MemoryLeadStore()
    in_dynamics = add(store, 1, T0, Status="done", DynamicsLeadId="d-1", DynamicsAt=T0 + timedelta(seconds=2))
    add(store, 2, T0 + timedelta(minutes=1), payload={"OfferTitle": "Evil\n\x1b[31mOffer\tname"})
    text = run(store, record_link=LINK)
    table = text.split("recent leads (newest first):\n", 1)[1].splitlines()
    assert table[0].split() == ["received", "(UTC)", "offer", "action", "status", "Dynamics"]
    assert table[1].split() == ["2026-11-30", "09:01:00", "Evil", "[31mOffer", "name", "INS", "received", "—"]
    assert table[2].split()[-1] == LINK("d-1")
    assert "\x1b" not in text  # a lead's values never reach the terminal as control characters
    assert "Ada" not in text and "ada@contoso.example" not in text
    with_contact = run(store, record_link=LINK, show_contact=True)
    assert "Ada Lovelace ada@contoso.example" in with_contact
    answer = json.loads(run(store, as_json=True, record_link=LINK))
    assert answer["recent"][1]["dynamics_link"] == LINK("d-1") and "contact" not in answer["recent"][1]
    assert in_dynamics == answer["recent"][1]["id"]
    without_link = run(store)  # Dynamics settings did not load: the Dynamics id instead
    assert without_link.split("recent leads (newest first):\n", 1)[1].splitlines()[2].split()[-1] == "d-1"


def test_status_list_keeps_its_lines_and_adds_no_table() -> None:
    text = run(timed_store(), only="done", limit=2)
    assert "done leads (newest first):" in text
    assert "recent leads (newest first):" not in text  # the list above is the recent leads
    assert "speed to lead:" in text


def test_notified_is_the_first_notification() -> None:
    assert speed.NOTIFICATION_FIELDS == ("NotifiedAt", "TeamsNotifiedAt")
    entity = {"ReceivedAt": T0, "NotifiedAt": T0 + timedelta(seconds=3)}
    assert speed.timings(entity) == speed.LeadTimings(to_dynamics=None, to_notified=3.0)
    teams_first = entity | {"TeamsNotifiedAt": T0 + timedelta(seconds=2)}  # whichever channel the lead reached first
    assert speed.timings(teams_first) == speed.LeadTimings(to_dynamics=None, to_notified=2.0)
    assert speed.notified_at({"NotifiedAt": ""}) is None  # a cleared field counts as not sent
    assert speed.duration_text(0.84) == "0.8 s" and speed.duration_text(185) == "3 min 05 s"
    assert speed.duration_text(7800) == "2 h 10 min"


def test_dynamics_links_need_only_a_valid_dynamics_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DYNAMICS_URL", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert status.dynamics_record_link() is None
    monkeypatch.setenv("DYNAMICS_URL", "http://contoso.crm4.dynamics.com")  # not https: refused, no links
    assert status.dynamics_record_link() is None
    monkeypatch.setenv("DYNAMICS_URL", "contoso.crm4.dynamics.com/main.aspx?appid=1")  # the address alone will do
    link = status.dynamics_record_link()
    assert link is not None and link("d-1") == LINK("d-1")


def test_a_processed_lead_has_its_speed_to_lead(app_env: dict[str, str], standins: StandIns) -> None:
    lead = parse_lead(marketplace_lead())
    table = runtime.lead_table()
    table.insert(lead_row.new_entity(lead, datetime.now(UTC)))
    process = process_lead.build().get_user_function()
    process(QueueMessage(id="m", body=lead_row.queue_message(lead.lead_id).encode(), dequeue_count=1))
    entity = table.get(lead.lead_id)
    assert entity is not None and entity["Status"] == "done"
    assert entity["ReceivedAt"] <= entity["DynamicsAt"] <= entity["NotifiedAt"]
    answer = json.loads(run(table, as_json=True, record_link=status.dynamics_record_link()))  # type: ignore[arg-type]
    [recent] = answer["recent"]
    assert recent["seconds_to_dynamics"] is not None and recent["seconds_to_notified"] is not None
    expected = f"{app_env['DYNAMICS_URL']}/main.aspx?etn=lead&pagetype=entityrecord&id={entity['DynamicsLeadId']}"
    assert recent["dynamics_link"] == expected
    assert answer["speed"]["to_dynamics"]["count"] == 1


def test_imported_leads_do_not_count_in_speed_to_lead() -> None:
    # Their ReceivedAt is when the marketplace got them, maybe days before an import (or the table-following timer)
    # brought them here: one 7-day-old row made the p95 164 h.
    imported = {"Origin": "import", "ReceivedAt": T0, "DynamicsAt": T0 + timedelta(days=3), "NotifiedAt": T0}
    assert speed.timings(imported) == speed.LeadTimings(to_dynamics=None, to_notified=None)
    assert speed.timings(imported | {"Origin": "table"}) == speed.LeadTimings(to_dynamics=None, to_notified=None)
    assert speed.timings(imported | {"Origin": "https"}).to_dynamics == 3 * 24 * 3600
    store = timed_store()
    add(store, 99, T0 - timedelta(days=7), Status="done", Origin="table", DynamicsAt=T0, NotifiedAt=T0)
    assert json.loads(run(store, as_json=True))["speed"]["to_dynamics"] == {"count": 20, "p50": 10.0, "p95": 19.0,
                                                                             "max": 20.0}  # fmt: skip


def test_a_scrubbed_or_erased_lead_shows_its_facts_and_says_its_contact_is_gone() -> None:
    store = timed_store()
    scrubbed, erased = (add(store, n, T0 + timedelta(hours=n), Status="done") for n in (30, 31))
    for lead_id, make in ((scrubbed, personal.scrubbed), (erased, personal.erased)):
        entity = store.get(lead_id)
        assert entity is not None
        store.replace(lead_id, make(entity, T0 + timedelta(days=100)), entity["_etag"])
    text = run(store, show_contact=True)
    assert "done [erased]" in text and "done [scrubbed]" in text and "(removed)" in text
    listed = run(store, only="done", show_contact=True)
    assert "[personal data removed]" in listed and "[personal data erased on request]" in listed
    document = json.loads(run(store, as_json=True, show_contact=True))
    [summary] = [lead for lead in document["recent"] if lead["id"] == scrubbed]
    assert summary["scrubbed"] == "2027-03-10T09:00:00+00:00" and summary["erased"] is None
    assert summary["contact"] == {} and summary["offer"] == "Contoso CRM Connector"


def test_returning_customers_are_counted_and_marked() -> None:
    store = timed_store()
    first = "00000000-0000-0000-0000-000000000001"
    add(store, 200, T0 + timedelta(hours=1), Status="done", DynamicsLeadId=first, Returning=True)
    add(store, 201, T0 + timedelta(hours=2), Status="done", DynamicsLeadId=first, Returning=True)
    text = run(store)
    assert "returning customers: 2 of 22 lead(s) in Dynamics were added to the person's open lead as a note" in text
    [newest] = [line for line in text.splitlines() if "2026-11-30 11:00:00" in line]
    assert "done [returning]" in newest and first in newest
    answer = json.loads(run(store, as_json=True))
    assert answer["returning"] == {"returning": 2, "in_dynamics": 22}
    assert answer["recent"][0]["returning"] is True and answer["recent"][2]["returning"] is False
    assert "returning customers" not in run(timed_store())  # said only when there are some
