import json
from datetime import UTC, datetime

import pytest

from leads.core import lead_row
from leads.core.payload import parse_lead
from tests.leadsamples import marketplace_lead, validation_lead

RECEIVED = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def test_entity_has_the_marketplace_table_columns_and_ours() -> None:
    lead = parse_lead(marketplace_lead())
    entity = lead_row.new_entity(lead, RECEIVED)
    assert (entity["PartitionKey"], entity["RowKey"]) == (lead.lead_id[:2], lead.lead_id)
    assert entity["ActionCode"] == "INS"
    assert entity["CreatedTime"] == "2026-11-21T09:30:00+00:00"
    assert json.loads(entity["CustomerInfo"]) == marketplace_lead()["UserDetails"]
    assert entity["Description"] == "Please contact me about pricing"
    assert entity["LeadSource"] == "AzureMarketplace-INS|contoso.crm-connector"
    assert entity["OfferTitle"] == entity["OfferDisplayName"] == "Contoso CRM Connector"
    assert entity["Status"] == "received"
    assert entity["IsTest"] is False
    assert (entity["Source"], entity["Action"], entity["OfferId"]) == (
        "AzureMarketplace",
        "INS",
        "contoso.crm-connector",
    )
    assert entity["ReceivedAt"] == entity["UpdatedAt"] == RECEIVED
    assert lead_row.lead_from_entity(entity) == lead


def test_test_lead_is_flagged() -> None:
    assert lead_row.new_entity(parse_lead(validation_lead()), RECEIVED)["IsTest"] is True


def test_large_payload_is_split_over_properties_and_read_back_whole() -> None:
    document = marketplace_lead(Description="é" * 60_000, Extra="z" * 3)
    entity = lead_row.new_entity(parse_lead(document), RECEIVED)
    chunks = [name for name in entity if name.startswith("RawPayload")]
    assert chunks == ["RawPayload", "RawPayload1"]
    assert all(len(entity[name]) <= lead_row.MAX_PROPERTY_UNITS for name in chunks)
    assert len(entity["Description"]) == lead_row.MAX_PROPERTY_UNITS
    assert lead_row.raw_payload(entity) == document


def test_queue_message_carries_ids_only() -> None:
    lead = parse_lead(marketplace_lead())
    message = lead_row.queue_message(lead.lead_id)
    assert json.loads(message) == {"id": lead.lead_id, "PartitionKey": lead.lead_id[:2], "RowKey": lead.lead_id}
    assert "Ada" not in message and "contoso.example" not in message
    assert lead_row.lead_id_from_message(message) == lead.lead_id


@pytest.mark.parametrize("text", ["", "nope", "[]", '{"id": 5}', '{"id": "../etc"}', '{"id": "ab"}'])
def test_foreign_queue_messages_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="queue message"):
        lead_row.lead_id_from_message(text)
