"""The Dataverse stand-in's queries and lookups behave as the Web API's (REFERENCE §8.1)."""

from __future__ import annotations

import pytest

from devtools.standins.base import Request
from devtools.standins.dataverse_query import query_options
from devtools.standins.dataverse_records import LOOKUP_ANNOTATION, RecordError, Records, parse_filter


def test_filter_literals_double_their_quotes_and_compare_without_case() -> None:
    holds = parse_filter("emailaddress1 eq 'O''Brien@contoso.example' and statecode eq 0")
    assert holds({"emailaddress1": "o'brien@contoso.example", "statecode": 0})
    assert not holds({"emailaddress1": "o'brien@contoso.example", "statecode": 1})
    either = parse_filter("(name eq 'a' or name eq 'b') and teamtype ne 1")
    assert either({"name": "B", "teamtype": 0}) and not either({"name": "c", "teamtype": 0})


def test_filter_takes_bare_guid_literals_in_any_case() -> None:
    holds = parse_filter("_objectid_value eq 5D0C2F0E-3C9A-4B59-9A57-1F6F2B0D9C41")
    assert holds({"_objectid_value": "5d0c2f0e-3c9a-4b59-9a57-1f6f2b0d9c41"})
    assert not holds({"_objectid_value": "5d0c2f0e-3c9a-4b59-9a57-1f6f2b0d9c42"})


@pytest.mark.parametrize("text", ["name eq 'unterminated", "name eq", "name has 'a'", "(name eq 'a'", "name eq 'a' x"])
def test_a_filter_that_does_not_parse_is_a_400(text: str) -> None:
    with pytest.raises(RecordError) as caught:
        parse_filter(text)
    assert (caught.value.status, caught.value.code) == (400, "0x80060888")


def test_select_top_and_the_lookup_annotation() -> None:
    records = Records()
    account = records.add("accounts", name="Contoso")
    for _ in range(3):
        records.add("contacts", emailaddress1="a@contoso.example", parent_account=account)
    params = {"$filter": "emailaddress1 eq 'a@contoso.example'", "$select": "contactid,_parentcustomerid_value",
              "$top": "2"}  # fmt: skip
    rows = records.query("contacts", params, annotations=True)
    assert len(rows) == 2
    assert set(rows[0]) == {"contactid", "_parentcustomerid_value", f"_parentcustomerid_value{LOOKUP_ANNOTATION}"}
    assert set(records.query("contacts", params, annotations=False)[0]) == {"contactid", "_parentcustomerid_value"}
    with pytest.raises(RecordError, match="Could not find a property named 'nope'"):
        records.query("contacts", {"$select": "nope"}, annotations=False)


def test_binding_to_a_missing_record_is_dataverses_400() -> None:
    records = Records()
    team = records.add("teams", name="Sales")
    assert records.lookups({"ownerid@odata.bind": f"/teams({team})"}) == {"_ownerid_value": team}
    missing = "00000000-0000-0000-0000-000000000001"
    with pytest.raises(RecordError) as caught:
        records.lookups({"ownerid@odata.bind": f"/systemusers({missing})"})
    assert (caught.value.status, caught.value.code) == (400, "0x80040217")
    assert caught.value.message == f"systemuser With Id = {missing} Does Not Exist"
    with pytest.raises(RecordError, match="undeclared property 'nope'"):
        records.lookups({"nope@odata.bind": f"/teams({team})"})
    with pytest.raises(RecordError, match="Invalid reference"):
        records.lookups({"campaignid@odata.bind": f"/teams({team})"})


@pytest.mark.parametrize("top", ["x", "-1", "1.5"])
def test_a_top_that_is_not_a_whole_number_is_a_400_as_dataverse_answers(top: str) -> None:
    request = Request("GET", "/api/data/v9.2/contacts", {"$top": [top]}, {}, b"")
    with pytest.raises(RecordError) as raised:
        query_options(request, "contacts", ("$select", "$top", "$filter"))
    assert raised.value.status == 400 and "$top" in raised.value.message
