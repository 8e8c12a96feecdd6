"""Partner Center export rows and Azure Table destination rows → leads: header matching, identity, times, match keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from leads.core import lead_row
from leads.core.errors import ExportUnreadable
from leads.core.export_rows import map_columns, normalise_header, parse_overrides, table_entity_fields
from leads.core.imported import UnusableRow, imported_lead, marketplace_payload, parse_time
from leads.core.matching import keys_around, match_key, stored_match_key
from leads.core.payload import parse_lead
from tests.leadsamples import marketplace_lead

# The fields of tests.leadsamples.marketplace_lead(), as an export row would hold them.
ADA = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@contoso.example",
    "phone": "+44 20 7946 0000",
    "country": "United Kingdom",
    "company": "Contoso Ltd",
    "title": "CTO",
    "offer": "Contoso CRM Connector",
    "lead_source": "AzureMarketplace-INS|contoso.crm-connector",
    "action": "INS",
    "description": "Please contact me about pricing",
    "created": "11/21/2026 9:30:00 AM",
}


@pytest.mark.parametrize(
    "headers",
    [
        ["Email", "Offer", "Created"],
        ["EMAIL ADDRESS", "Offer title", "Lead creation date time"],
        [" e-mail ", "Offer_Name", "Lead Creation Date/Time"],
        ["Customer email", "offer display name", "Created on"],
    ],
)
def test_header_variants_are_matched(headers: list[str]) -> None:
    mapping = map_columns(["Ignored", *headers, "Email validity"])
    assert mapping.columns == {"email": 1, "offer": 2, "created": 3}
    assert mapping.unused == ["Ignored", "Email validity"]


def test_synonyms_for_every_field() -> None:
    headers = [
        "First name",
        "Last name",
        "Email address",
        "Phone number",
        "Country/region",
        "Company name",
        "Job title",
        "Offer name",
        "Lead source",
        "Call to action",
        "Comments",
        "Lead creation date time",
    ]
    mapping = map_columns(headers)
    assert list(mapping.columns) == ["first_name", "last_name", "email", "phone", "country", "company", "title",
                                     "offer", "lead_source", "action", "description", "created"]  # fmt: skip
    assert 'email ← "Email address"' in mapping.describe()


def test_the_first_of_two_synonyms_wins() -> None:
    assert map_columns(["Offer", "Offer name", "Email", "Date"]).columns["offer"] == 0


def test_overrides_name_columns_and_can_ignore_one() -> None:
    overrides = parse_overrides(["Contact mail=email", "When=created", "Email=-"])
    mapping = map_columns(["Email", "Contact mail", "Offer", "When"], overrides)
    assert mapping.columns == {"email": 1, "offer": 2, "created": 3}


def test_an_unmappable_file_is_refused_naming_the_missing_fields_and_the_headers() -> None:
    with pytest.raises(ExportUnreadable) as refused:
        map_columns(["Contact mail", "Product SKU", "Offer"])
    message = str(refused.value)
    assert "email (e.g. Email, Email address" in message and "created (e.g." in message
    assert "offer" not in message.split("Headers found")[0].split(":", 1)[1].split(".")[0]
    assert 'Headers found: "Contact mail", "Product SKU", "Offer"' in message
    assert "--column" in message


@pytest.mark.parametrize(
    ("pairs", "complaint"),
    [(["email"], "HEADER=field"), (["Mail=e-mail address"], "not a field"), (["=email"], "HEADER=field")],
)
def test_wrong_overrides_are_refused(pairs: list[str], complaint: str) -> None:
    with pytest.raises(ExportUnreadable, match=complaint):
        parse_overrides(pairs)


def test_an_override_for_a_header_the_file_lacks_is_refused() -> None:
    with pytest.raises(ExportUnreadable, match="does not have"):
        map_columns(["Email", "Offer", "Created"], parse_overrides(["Mail=email"]))


def test_normalise_header() -> None:
    assert normalise_header(" Country/Region ") == normalise_header("country_region") == "countryregion"


def test_an_export_row_gets_the_lead_id_the_https_endpoint_gave() -> None:
    imported = imported_lead(ADA)
    assert imported.lead.lead_id == parse_lead(marketplace_lead()).lead_id
    assert imported.created_at == datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def test_missing_columns_become_empty_values_in_the_payload() -> None:
    payload = marketplace_payload({"email": "x@y.example", "offer": "O"})
    assert payload["UserDetails"] == {"FirstName": "", "LastName": "", "Email": "x@y.example", "Phone": "",
                                      "Country": "", "Company": "", "Title": ""}  # fmt: skip
    assert (payload["OfferTitle"], payload["ActionCode"], payload["LeadSource"]) == ("O", "", "")


def test_a_single_name_column_fills_first_and_last_name() -> None:
    payload = marketplace_payload({"full_name": "Ada King Lovelace"})
    assert (payload["UserDetails"]["FirstName"], payload["UserDetails"]["LastName"]) == ("Ada King", "Lovelace")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"email": "", "offer": "", "created": ""}, "empty row"),
        ({"created": "2026-11-21", "description": "hello"}, "nothing to make a lead of"),
        ({"email": "a@b.example", "offer": "O", "created": ""}, "no creation date"),
        ({"email": "a@b.example", "offer": "O", "created": "31/31/2026"}, "creation date not understood"),
        ({"email": "a@b.example", "offer": "O", "created": "1/1/2026 13:00 PM"}, "not understood"),
    ],
)
def test_unusable_rows_say_why_without_personal_data(fields: dict[str, str], reason: str) -> None:
    with pytest.raises(UnusableRow, match=reason) as refused:
        imported_lead(fields)
    assert "a@b.example" not in str(refused.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T09:30:00Z", datetime(2026, 11, 21, 9, 30, tzinfo=UTC)),
        ("2026-11-21T10:30:00+01:00", datetime(2026, 11, 21, 9, 30, tzinfo=UTC)),
        ("2026-11-21 09:30", datetime(2026, 11, 21, 9, 30, tzinfo=UTC)),
        ("2026-11-21", datetime(2026, 11, 21, tzinfo=UTC)),
        ("11/21/2026 9:30:00 AM", datetime(2026, 11, 21, 9, 30, tzinfo=UTC)),
        ("11/21/2026 12:05 AM", datetime(2026, 11, 21, 0, 5, tzinfo=UTC)),
        ("11/21/2026 1:05:09 PM", datetime(2026, 11, 21, 13, 5, 9, tzinfo=UTC)),
        ("21/11/2026 13:05", datetime(2026, 11, 21, 13, 5, tzinfo=UTC)),
        ("11/21/2026", datetime(2026, 11, 21, tzinfo=UTC)),
    ],
)
def test_creation_times(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


def test_azure_table_rows_are_read_leniently() -> None:
    entity = {
        "PartitionKey": "9:2F28:2F2018",
        "RowKey": "abc",
        "actioncode": "INS",
        "CreatedTime": "11/21/2026 9:30:00 AM",
        "CUSTOMERINFO": json.dumps({"firstName": "Ada", "LastName": "Lovelace", "EMAIL": "ada@contoso.example",
                                    "Phone": "+44 20 7946 0000", "Country": "United Kingdom",
                                    "Company": "Contoso Ltd", "Title": "CTO", "Extra": "x"}),
        "Description": "Please contact me about pricing",
        "LeadSource": "AzureMarketplace-INS|contoso.crm-connector",
        "OfferDisplayName": "Contoso CRM Connector",
        "SomethingNew": 42,
    }  # fmt: skip
    assert table_entity_fields(entity) == ADA
    assert table_entity_fields({"CustomerInfo": "not json", "OfferDisplayName": "O"}) == {"offer": "O"}


def test_match_keys_ignore_case_and_spacing_and_span_a_day_either_side() -> None:
    day = datetime(2026, 11, 21, 23, 50, tzinfo=UTC)
    key = match_key("Ada@Contoso.example ", "Contoso  CRM connector", "Contact me", day.date())
    assert key == match_key("ada@contoso.example", "contoso crm connector", "PLT", day.date())
    assert key in keys_around("ada@contoso.example", "Contoso CRM Connector", "plt", datetime(2026, 11, 22, tzinfo=UTC))
    assert key not in keys_around("ada@contoso.example", "Contoso CRM Connector", "INS", day)
    assert match_key("", "offer", "INS", day.date()) == ""


def test_stored_leads_have_a_match_key_and_older_rows_get_one_computed() -> None:
    received = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    entity = lead_row.new_entity(parse_lead(marketplace_lead()), received)
    assert entity["MatchKey"] == match_key("ada@contoso.example", "Contoso CRM Connector", "INS", received.date())
    assert entity["Origin"] == "https"
    older = {name: value for name, value in entity.items() if name != "MatchKey"}
    assert stored_match_key(older) == entity["MatchKey"]
    assert stored_match_key({"CustomerInfo": "{}", "ReceivedAt": received}) == ""


def test_an_imported_entity_keeps_the_export_time_and_says_where_it_came_from() -> None:
    imported = imported_lead(ADA)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    entity = lead_row.imported_entity(imported.lead, imported.created_at, lead_row.ORIGIN_IMPORT, now, notify=False)
    assert entity["CreatedTime"] == "2026-11-21T09:30:00+00:00"
    assert (entity["ReceivedAt"], entity["ImportedAt"], entity["UpdatedAt"]) == (imported.created_at, now, now)
    assert (entity["Origin"], entity["Source"], entity["SkipNotification"]) == ("import", "AzureMarketplace", True)
    assert not lead_row.notification_due(entity, "NotifiedAt") and not lead_row.notification_due(
        entity, "TeamsNotifiedAt"
    )
    assert lead_row.notification_due(entity, "AlertedAt") and lead_row.notification_due(entity, "TeamsAlertedAt")
    assert lead_row.lead_from_entity(entity).lead_id == imported.lead.lead_id
