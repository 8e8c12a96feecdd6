import uuid
from datetime import UTC, datetime

from leads.core.mapping import COLUMN_LENGTHS, LEAD_SOURCE_WEB, dataverse_lead_id, to_dataverse
from leads.core.payload import cut, parse_lead
from tests.leadsamples import marketplace_lead, validation_lead

RECEIVED = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def test_maps_the_columns_microsofts_lead_writer_fills() -> None:
    lead = parse_lead(marketplace_lead())
    body = to_dataverse(lead, RECEIVED)
    assert body["firstname"] == "Ada"
    assert body["lastname"] == "Lovelace"
    assert body["emailaddress1"] == "ada@contoso.example"
    assert body["telephone1"] == "+44 20 7946 0000"
    assert body["companyname"] == "Contoso Ltd"
    assert body["jobtitle"] == "CTO"
    assert body["address1_country"] == "United Kingdom"
    assert body["leadsourcecode"] == LEAD_SOURCE_WEB
    assert body["subject"] == "Azure Marketplace lead: Contoso CRM Connector (INS)"
    for fact in (
        "AzureMarketplace-INS|contoso.crm-connector",
        "Action: INS",
        "contoso.crm-connector",
        lead.lead_id,
        "Please contact me about pricing",
    ):
        assert fact in body["description"]


def test_test_lead_is_marked_in_the_subject() -> None:
    body = to_dataverse(parse_lead(validation_lead()), RECEIVED)
    assert body["subject"].startswith("[Test] ")
    assert "Contoso Test (INS)" in body["subject"]
    assert "test lead" in body["description"]


def test_subject_is_never_empty_and_empty_contact_fields_are_left_out() -> None:
    body = to_dataverse(parse_lead({"LeadSource": "", "UserDetails": {}}), RECEIVED)
    assert body["subject"] == "Marketplace lead: unknown offer"
    assert set(body) == {"subject", "description", "leadsourcecode"}
    offer_id_only = to_dataverse(parse_lead({"LeadSource": "AppSource-PLT|contoso.app"}), RECEIVED)
    assert offer_id_only["subject"] == "AppSource lead: contoso.app (PLT)"


def test_every_string_is_cut_to_its_column_length() -> None:
    long = "x" * 5000
    document = marketplace_lead(OfferTitle=long, Description=long)
    document["UserDetails"] = dict.fromkeys(document["UserDetails"], long)
    body = to_dataverse(parse_lead(document), RECEIVED)
    for column, limit in COLUMN_LENGTHS.items():
        assert len(body[column]) == limit, column
    assert parse_lead(document).lead_id in body["description"]  # our facts come first and survive the cut


def test_cut_counts_utf16_units_and_never_splits_a_character() -> None:
    assert cut("abc", 2) == "ab"
    assert cut("😀😀", 3) == "😀"
    assert cut("a😀", 2) == "a"
    assert cut("ü" * 10, 10) == "ü" * 10


def test_dataverse_lead_id_is_a_deterministic_uuid() -> None:
    lead_id = parse_lead(marketplace_lead()).lead_id
    assert dataverse_lead_id(lead_id) == dataverse_lead_id(lead_id)
    assert uuid.UUID(dataverse_lead_id(lead_id)).version == 5
    assert dataverse_lead_id(lead_id) != dataverse_lead_id(parse_lead(validation_lead()).lead_id)
