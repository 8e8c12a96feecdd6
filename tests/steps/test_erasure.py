"""Erasure with the in-memory store: a person's rows found by address (hash or CustomerInfo), their personal data
removed, and erased staying erased: the endpoint recognises a redelivery, imports and the table follower do not
bring an earlier lead back (unless asked), a lead the person sends afterwards is new."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leads.core import lead_row, mapping
from leads.core.matching import EMAIL_HASH, email_hash
from leads.core.payload import parse_lead
from leads.steps import intake
from leads.steps.erasure import address_hashes, erase, find_rows
from leads.steps.follow_table import TableFollower
from leads.steps.importing import Importer, ImportOptions, SourceRow
from tests.core.test_export_rows import ADA
from tests.doubles import MemoryLeadStore, MemoryQueue
from tests.leadsamples import body, marketplace_lead

NOW = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
ADA_HASHES = address_hashes(["ADA@contoso.example "])
GRACE = {"FirstName": "Grace", "LastName": "Hopper", "Email": "grace@fabrikam.example"}
PERSONAL_VALUES = ("Ada", "Lovelace", "ada@contoso.example", "+44 20 7946 0000", "Contoso Ltd", "pricing")


def store_lead(store: MemoryLeadStore, note: str, status: str, days_ago: float = 1, **payload: Any) -> str:
    lead = parse_lead(marketplace_lead(Description=f"Please contact me about pricing ({note})", **payload))
    store.insert(lead_row.new_entity(lead, NOW - timedelta(days=days_ago)) | {"Status": status})
    return lead.lead_id


def importer(store: MemoryLeadStore, **options: Any) -> Importer:
    return Importer(store, MemoryQueue(), ImportOptions(origin=lead_row.ORIGIN_IMPORT, apply=True, **options),
                    clock=lambda: NOW)  # fmt: skip


def test_a_persons_rows_are_found_by_the_address_hash_and_by_customer_info() -> None:
    store = MemoryLeadStore()
    done = store_lead(store, "done", "done", days_ago=3)
    received = store_lead(store, "received", "received")
    older = store_lead(store, "stored before EmailHash existed", "failed", days_ago=2)
    store.update(older, {EMAIL_HASH: ""})
    other = store_lead(store, "someone else", "done", UserDetails=GRACE)
    rows = find_rows(store, ADA_HASHES)
    assert [row.lead_id for row in rows] == [done, older, received]  # oldest first
    assert other not in [row.lead_id for row in rows]
    assert {row.address_hash for row in rows} == set(ADA_HASHES)


def test_erase_removes_the_personal_data_keeps_the_rows_and_records_a_tombstone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryLeadStore()
    done = store_lead(store, "done", "done", days_ago=3)
    store.update(done, {"DynamicsLeadId": mapping.dataverse_lead_id(done)})
    waiting = store_lead(store, "held", "held")
    other = store_lead(store, "someone else", "done", UserDetails=GRACE)
    with caplog.at_level(logging.INFO, logger="leads"):
        report = erase(store, ADA_HASHES, find_rows(store, ADA_HASHES), clock=lambda: NOW)
    assert sorted(report.erased) == sorted([done, waiting]) and report.tombstones == 1
    for lead_id in (done, waiting):
        entity = store.get(lead_id)
        assert entity is not None and entity["ErasedAt"] == NOW
        assert not any(value in str(entity) for value in PERSONAL_VALUES)
    assert store.get(done)["DynamicsLeadId"] == mapping.dataverse_lead_id(done)  # type: ignore[index]
    assert store.get(waiting)["Status"] == "failed"  # type: ignore[index]
    assert "Grace" in store.get(other)["CustomerInfo"]  # type: ignore[index]
    tombstones = list(store.query("PartitionKey eq @p", {"p": "tombstones"}))
    assert [(row["RowKey"], row["ErasedAt"]) for row in tombstones] == [(ADA_HASHES[0], NOW)]
    assert not any(value in caplog.text for value in PERSONAL_VALUES)
    assert ADA_HASHES[0][:10] in caplog.text and done in caplog.text
    # Again: the rows are still found (by their hash) and left as they are.
    again = erase(store, ADA_HASHES, find_rows(store, ADA_HASHES), clock=lambda: NOW + timedelta(hours=1))
    assert (again.erased, sorted(again.already)) == ([], sorted([done, waiting]))


def test_a_redelivered_lead_of_an_erased_person_is_still_a_duplicate() -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    payload = body(marketplace_lead())
    lead_id = intake.receive(payload, store, queue, NOW - timedelta(days=1)).lead_id
    erase(store, ADA_HASHES, find_rows(store, ADA_HASHES), clock=lambda: NOW)
    queue.messages.clear()
    receipt = intake.receive(payload, store, queue, NOW + timedelta(days=1))
    assert (receipt.lead_id, receipt.duplicate, queue.messages) == (lead_id, True, [])


def test_imports_do_not_bring_an_erased_person_back_unless_asked() -> None:
    store = MemoryLeadStore()
    erase(store, ADA_HASHES, [], clock=lambda: NOW)  # known only to Partner Center: no row here, a tombstone
    earlier = ADA | {"created": "2027-02-20T09:30:00Z"}
    later = ADA | {"created": "2027-03-02T09:30:00Z", "offer": "Contoso Analytics"}
    grace = ADA | {"first_name": "Grace", "email": "grace@fabrikam.example"}
    report = importer(store).run([SourceRow("line 2", earlier), SourceRow("line 3", later), SourceRow("line 4", grace)])
    # The lead from before the erasure stays out; the one the person sent afterwards, and Grace's, are new.
    assert (report.erased, report.stored) == (1, 2)
    assert [finding.where for finding in report.new] == ["line 3", "line 4"]
    asked = importer(store, include_erased=True).run([SourceRow("line 2", earlier)])
    assert (asked.erased, asked.stored) == (0, 1)


class Source:
    name = "MarketplaceLeads"

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.entities = rows

    def rows(self, since: datetime | None = None) -> Any:
        return iter(self.entities)


def test_the_table_follower_does_not_bring_an_erased_person_back(caplog: pytest.LogCaptureFixture) -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    store.write_watermark("marketplace-table-MarketplaceLeads", NOW - timedelta(days=30))
    erase(store, ADA_HASHES, [], clock=lambda: NOW)
    customer = '{"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@contoso.example"}'
    entity = {"PartitionKey": "2:2F20:2F2027", "RowKey": "r1", "Timestamp": NOW - timedelta(days=9),
              "CreatedTime": "2/20/2027 9:30:00 AM", "CustomerInfo": customer, "OfferDisplayName": "Contoso CRM",
              "ActionCode": "INS", "LeadSource": "AzureMarketplace-INS|contoso.crm"}  # fmt: skip
    follower = TableFollower(Source([entity]), store, queue, store, clock=lambda: NOW)
    with caplog.at_level(logging.INFO, logger="leads"):
        report = follower.run()
    assert report is not None and (report.erased, report.stored) == (1, 0)
    assert queue.messages == [] and "1 lead(s) of people erased with `forget` not brought back" in caplog.text
    assert "ada@" not in caplog.text.lower()


def test_an_address_is_named_by_its_hash_only() -> None:
    assert address_hashes([" ADA@contoso.example"]) == [email_hash("ada@contoso.example")]
    assert address_hashes(["a@x.example", "A@X.example", ""]) == [email_hash("a@x.example")]
