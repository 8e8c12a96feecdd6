"""The Dataverse stand-in's lead table definitions, its refusals in Dataverse's words, and privileges held through a
team, over HTTP as a client sees them."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest
import requests

from devtools.standins import StandIns
from devtools.standins.dataverse_lead_attributes import LEAD_ATTRIBUTES
from tests.devtools.test_standins import LEAD, dataverse_headers, lead_url

ATTRIBUTES = "EntityDefinitions(LogicalName='lead')/Attributes"


@pytest.fixture(autouse=True)
def trusting(standins: StandIns, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", standins.settings["LOOPBACK_CA_FILE"])  # plain requests: the test CA


def get(standins: StandIns, path: str) -> requests.Response:
    api = f"{standins.dataverse.base_url}/api/data/v9.2"
    return requests.get(f"{api}/{path}", headers=dataverse_headers(standins), timeout=5)


def test_the_reference_columns_the_app_and_routing_rely_on() -> None:
    assert LEAD_ATTRIBUTES["subject"].max_length == 300 and LEAD_ATTRIBUTES["description"].kind == "Memo"
    assert (
        LEAD_ATTRIBUTES["leadsourcecode"].options[8] == "Web" and len(LEAD_ATTRIBUTES["leadsourcecode"].options) == 10
    )
    assert LEAD_ATTRIBUTES["leadqualitycode"].options == {1: "Hot", 2: "Warm", 3: "Cold"}
    assert LEAD_ATTRIBUTES["industrycode"].options[33] == "Wholesale"
    assert LEAD_ATTRIBUTES["statuscode"].kind == "Status" and LEAD_ATTRIBUTES["ownerid"].kind == "Owner"
    assert not LEAD_ATTRIBUTES["fullname"].valid_for_create and LEAD_ATTRIBUTES["address2_line3"].max_length == 250


def test_attributes_common_properties_and_casts(standins: StandIns) -> None:
    standins.dataverse.custom_columns = [{"name": "new_tier", "type": "Picklist", "options": {"1": "Gold"}}]
    common = get(standins, f"{ATTRIBUTES}?$select=LogicalName,AttributeType,AttributeTypeName,IsValidForCreate")
    strings = get(
        standins, f"{ATTRIBUTES}/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength"
    )
    choices = get(
        standins,
        f"{ATTRIBUTES}/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet",
    )
    assert common.status_code == strings.status_code == choices.status_code == 200
    by_name = {row["LogicalName"]: row for row in common.json()["value"]}
    assert by_name["subject"]["AttributeType"] == "String" and by_name["subject"]["IsValidForCreate"] is True
    assert by_name["subject"]["AttributeTypeName"] == {"Value": "StringType"} and "MaxLength" not in by_name["subject"]
    assert by_name["fullname"]["IsValidForCreate"] is False and "new_tier" in by_name
    lengths = {row["LogicalName"]: row["MaxLength"] for row in strings.json()["value"]}
    assert lengths["companyname"] == 100 and "description" not in lengths  # a Memo: its own cast
    options = {row["LogicalName"]: row["OptionSet"]["Options"] for row in choices.json()["value"]}
    assert [(o["Value"], o["Label"]["UserLocalizedLabel"]["Label"]) for o in options["leadqualitycode"]] == [
        (1, "Hot"), (2, "Warm"), (3, "Cold")
    ]  # fmt: skip
    assert options["new_tier"][0]["Value"] == 1 and "statuscode" not in options  # a Status column: another cast


def test_an_unknown_property_in_select_is_dataverses_400(standins: StandIns) -> None:
    answer = get(standins, f"{ATTRIBUTES}?$select=LogicalName,MaxLength")
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "0x80060888",
        "message": "Could not find a property named 'MaxLength' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'.",
    }


@pytest.mark.parametrize(
    ("column", "value", "literal", "edm"),
    [
        ("leadqualitycode", "hot", "hot", "Edm.Int32"),
        ("donotemail", 1, "1", "Edm.Boolean"),
        ("estimatedclosedate", "soon", "soon", "Edm.DateTimeOffset"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_in_odatas_words(
    standins: StandIns, column: str, value: Any, literal: str, edm: str
) -> None:
    answer = requests.patch(
        lead_url(standins), json={**LEAD, column: value}, headers=dataverse_headers(standins), timeout=5
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "0x80048d19"
    assert answer.json()["error"]["message"].endswith(
        f"Cannot convert the literal '{literal}' to the expected type '{edm}'."
    )


def test_a_custom_column_is_checked_like_a_standard_one(standins: StandIns) -> None:
    standins.dataverse.custom_columns = [{"name": "new_region", "type": "String", "max_length": 5}]
    headers = dataverse_headers(standins)
    too_long = requests.patch(lead_url(standins), json={**LEAD, "new_region": "global"}, headers=headers, timeout=5)
    lead_id = str(uuid.uuid4())
    fits = requests.patch(lead_url(standins, lead_id), json={**LEAD, "new_region": "emea"}, headers=headers, timeout=5)
    assert too_long.status_code == 400 and "maximum allowed length of '5'" in too_long.json()["error"]["message"]
    assert fits.status_code == 204 and (standins.dataverse.lead(lead_id) or {})["new_region"] == "emea"


def privileges_by_names(standins: StandIns, names: list[str]) -> requests.Response:
    who = get(standins, "WhoAmI").json()
    alias = quote(json.dumps(names))
    function = "Microsoft.Dynamics.CRM.RetrieveUserSetOfPrivilegesByNames(PrivilegeNames=@p1)"
    return get(standins, f"systemusers({who['UserId']})/{function}?@p1={alias}")


def test_privileges_by_names_include_those_held_through_a_team(standins: StandIns) -> None:
    standins.dataverse.privileges.discard("prvAssignLead")
    standins.dataverse.team_privileges = {"prvAssignLead"}
    answer = privileges_by_names(standins, ["prvAssignLead", "prvCreateLead", "prvDeleteLead"])
    who = get(standins, "WhoAmI").json()
    own_roles = get(standins, f"systemusers({who['UserId']})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()").json()
    assert answer.status_code == 200
    assert answer.json()["@odata.context"].endswith(
        "#Microsoft.Dynamics.CRM.RetrieveUserSetOfPrivilegesByNamesResponse"
    )
    assert {item["PrivilegeName"] for item in answer.json()["RolePrivileges"]} == {"prvAssignLead", "prvCreateLead"}
    assert "prvAssignLead" not in {item["PrivilegeName"] for item in own_roles["RolePrivileges"]}


def test_linking_a_lead_needs_append_and_append_to(standins: StandIns) -> None:
    campaign = standins.dataverse.records.add("campaigns", name="Launch")
    standins.dataverse.privileges.discard("prvAppendToCampaign")
    body = {**LEAD, "campaignid@odata.bind": f"/campaigns({campaign})"}
    refused = requests.patch(lead_url(standins), json=body, headers=dataverse_headers(standins), timeout=5)
    standins.dataverse.team_privileges = {"prvAppendToCampaign"}  # inherited from a team: Dataverse honours it
    accepted = requests.patch(lead_url(standins), json=body, headers=dataverse_headers(standins), timeout=5)
    assert (
        refused.status_code == 403 and "is missing prvAppendToCampaign privilege" in refused.json()["error"]["message"]
    )
    assert accepted.status_code == 204
