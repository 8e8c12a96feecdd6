import json

import pytest

from leads.core.payload import (
    MAX_BODY_BYTES,
    InvalidLead,
    cut,
    decode_body,
    lead_id_of,
    parse_lead,
    parse_lead_source,
    utf16_chunks,
)
from tests.leadsamples import body, marketplace_lead, validation_lead


def test_parses_a_marketplace_lead() -> None:
    lead = parse_lead(marketplace_lead())
    assert lead.contact.first_name == "Ada"
    assert lead.contact.company == "Contoso Ltd"
    assert (lead.lead_source.source, lead.lead_source.action, lead.lead_source.offer_id) == (
        "AzureMarketplace",
        "INS",
        "contoso.crm-connector",
    )
    assert lead.action == "INS"
    assert lead.offer_title == "Contoso CRM Connector"
    assert not lead.is_test
    assert len(lead.lead_id) == 32


def test_keys_are_matched_case_insensitively() -> None:
    document = {
        "userDetails": {"firstName": "Ada", "EMAIL": "ada@contoso.example"},
        "leadsource": "AzureMarketplace",
        "OFFERTITLE": "Contoso",
    }
    lead = parse_lead(document)
    assert lead.contact.first_name == "Ada"
    assert lead.contact.email == "ada@contoso.example"
    assert lead.offer_title == "Contoso"


def test_same_lead_with_other_key_case_and_whitespace_has_the_same_id() -> None:
    original = marketplace_lead()
    variant = {key.lower(): value for key, value in original.items()}
    variant["userdetails"] = {key.upper(): f"  {value} " for key, value in original["UserDetails"].items()}
    variant["offertitle"] = " Contoso CRM Connector\n"
    assert lead_id_of(variant) == lead_id_of(original)


def test_different_leads_have_different_ids() -> None:
    assert lead_id_of(marketplace_lead()) != lead_id_of(marketplace_lead(ActionCode="PLT"))
    assert lead_id_of(validation_lead(1)) != lead_id_of(validation_lead(2))


def test_unknown_keys_are_kept_and_count_for_identity() -> None:
    document = marketplace_lead(mktcmpid={"campaign": "x"})
    lead = parse_lead(document)
    assert lead.raw["mktcmpid"] == {"campaign": "x"}
    assert lead.lead_id != lead_id_of(marketplace_lead())


def test_lead_without_contact_details_is_valid() -> None:
    lead = parse_lead({"LeadSource": "AppSource-PLT|contoso.edu-offer", "OfferTitle": "Edu"})
    assert lead.contact.email == ""
    assert lead.lead_source.action == "PLT"


def test_marketplace_validation_lead_is_marked() -> None:
    lead = parse_lead(validation_lead())
    assert lead.is_test
    assert parse_lead({"LeadSource": "MSFT_TEST_1-MSFT_TEST_1|Offer", "UserDetails": {}}).is_test


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AzureMarketplace-INS|contoso.crm-connector", ("AzureMarketplace", "INS", "contoso.crm-connector")),
        ("AzureMarketplace", ("AzureMarketplace", "", "")),
        ("AppSource (SPZA)-PLT|pub.offer", ("AppSource (SPZA)", "PLT", "pub.offer")),
        ("AzurePortal-Create|", ("AzurePortal", "Create", "")),
        ("|weird", ("", "", "weird")),
        ("", ("", "", "")),
        ("a-b-c|x|y", ("a-b", "c", "x|y")),
    ],
)
def test_lead_source_parses_leniently(value: str, expected: tuple[str, str, str]) -> None:
    parsed = parse_lead_source(value)
    assert (parsed.source, parsed.action, parsed.offer_id) == expected
    assert parsed.raw == value


def test_non_string_values_do_not_fail() -> None:
    lead = parse_lead({"UserDetails": {"Phone": 1234567890, "Company": None}, "Description": {"mktcmpid": "x"}})
    assert lead.contact.phone == "1234567890"
    assert lead.contact.company == ""
    assert json.loads(lead.description) == {"mktcmpid": "x"}
    assert parse_lead({"UserDetails": "not an object", "OfferTitle": "x"}).contact.email == ""


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "an array"),
        (b'"text"', "a string"),
        (b"42", "a number"),
        (b"null", "null"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b"[" * 60_000, "not valid JSON"),
        (b'{"OfferTitle": "\\ud800"}', "lone surrogate"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nested more than 32"),
    ],
)
def test_bodies_that_are_not_json_objects_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidLead, match=message) as caught:
        decode_body(raw)
    assert caught.value.status == 400


def test_object_without_any_lead_key_is_refused() -> None:
    with pytest.raises(InvalidLead, match="not a marketplace lead"):
        parse_lead({"hello": "world"})


def test_body_over_64_kib_is_refused_with_413() -> None:
    document = marketplace_lead(Description="x" * MAX_BODY_BYTES)
    with pytest.raises(InvalidLead) as caught:
        decode_body(body(document))
    assert caught.value.status == 413


def test_utf8_bom_is_accepted() -> None:
    assert decode_body(b"\xef\xbb\xbf" + body(marketplace_lead()))["OfferTitle"] == "Contoso CRM Connector"


def test_utf16_chunks_never_split_a_character_and_lose_nothing() -> None:
    text = "a😀" * 10 + "b" * 7
    chunks = list(utf16_chunks(text, 5))
    assert "".join(chunks) == text
    assert all(len(chunk.encode("utf-16-le")) // 2 <= 5 for chunk in chunks)
    assert list(utf16_chunks("", 5)) == [""]
    assert cut("😀😀😀", 5) == "😀😀"
