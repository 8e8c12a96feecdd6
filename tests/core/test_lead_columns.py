"""Judging routing's columns against the lead table, and which column a Dataverse refusal is about (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leads.core.enrichment import Enrichment, refusal_why, refused_columns
from leads.core.lead_columns import Column, LeadColumns, misfit
from leads.core.payload import parse_lead
from leads.core.privileges import for_routing
from leads.core.routing import longest, plan
from leads.core.routing_rules import parse_rules
from leads.core.rule_columns import app_problems, rule_verdicts
from tests.leadsamples import marketplace_lead

TEXT = Column("new_note", "String", max_length=10)
CHOICE = Column("leadqualitycode", "Picklist", options={1: "Hot", 2: "Warm", 3: "Cold"})
STANDARD = {
    name: Column(name, "Memo" if name == "description" else "String", max_length=length)
    for name, length in (("subject", 300), ("firstname", 50), ("lastname", 50), ("emailaddress1", 100),
                         ("telephone1", 50), ("companyname", 100), ("jobtitle", 100), ("address1_country", 80),
                         ("description", 2000))
}  # fmt: skip
TABLE = LeadColumns({**STANDARD, "leadsourcecode": Column("leadsourcecode", "Picklist", options={8: "Web"}),
                     "leadqualitycode": CHOICE, "new_note": TEXT})  # fmt: skip


@pytest.mark.parametrize(
    ("column", "value", "most", "why"),
    [
        (None, "x", None, "is not a column of your organisation's lead table"),
        (Column("fullname", "String", valid_for_create=False), "x", None, "cannot be set when a lead is created"),
        (Column("campaignid", "Lookup"), "x", None, "is a lookup"),
        (CHOICE, "Hot", None, "is a choice"),
        (CHOICE, 4, None, "has no option 4"),
        (TEXT, 5, None, "is text"),
        (TEXT, "x" * 11, None, "holds at most 10 characters and the value has 11"),
        (TEXT, "{offer_id}", 100, "holds at most 10 characters and the template can make 100"),
        (TEXT, "😀" * 6, None, "the value has 12"),  # UTF-16 code units, as Dataverse counts
        (Column("donotemail", "Boolean"), 1, None, "is yes/no"),
        (Column("numberofemployees", "Integer"), 1.5, None, "is a whole number"),
    ],
)
def test_what_dynamics_would_refuse(column: Column | None, value: Any, most: int | None, why: str) -> None:
    found = misfit(column, value, most)
    assert found is not None and why in found.why and found.fix


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (CHOICE, 2),
        (TEXT, "short"),
        (Column("donotemail", "Boolean"), True),
        (Column("revenue", "Money"), 1.5),
        (Column("estimatedclosedate", "DateTime"), "{received}"),
    ],
)
def test_what_fits(column: Column, value: Any) -> None:
    assert misfit(column, value) is None


def test_a_templates_longest_result_and_its_values_are_cut_to_it() -> None:
    assert longest("{offer_id}") == 100 and longest("Offer {offer_id} ({action})") == 100 + 100 + 9
    rules = parse_rules({"rules": [{"columns": {"new_note": "{offer_title}"}}]})
    lead = parse_lead(marketplace_lead(OfferTitle="T" * 500))
    assert plan(rules, lead, datetime(2026, 12, 1, tzinfo=UTC)).columns["new_note"] == "T" * 300


def test_rule_verdicts_name_the_key_as_the_file_writes_it() -> None:
    rules = parse_rules({"rules": [{"name": "x", "leadqualitycode": 9, "columns": {"new_note": "{country}"}}]})
    verdicts = {verdict.key: verdict for verdict in rule_verdicts(rules, TABLE)}
    assert set(verdicts) == {"leadqualitycode", "columns.new_note"}
    assert verdicts["leadqualitycode"].name == "rule 1 (x) leadqualitycode"
    assert (
        verdicts["columns.new_note"].problem is not None and "can make 80" in verdicts["columns.new_note"].problem.why
    )


def test_the_apps_own_columns_against_a_customised_table() -> None:
    assert app_problems(TABLE) == []
    shrunk = LeadColumns({**TABLE.columns, "companyname": Column("companyname", "String", max_length=50),
                          "leadsourcecode": Column("leadsourcecode", "Picklist", options={1: "Ad"})})  # fmt: skip
    problems = app_problems(shrunk)
    assert len(problems) == 2 and "raise its maximum length to 100" in problems[0] and "no option 8" in problems[1]


ENRICHMENT = Enrichment(columns={"new_a": "INS", "new_b": 7, "leadsourcecode": 99})
PAYLOAD = "Error identified in Payload provided by the user for Entity :'leads' ---->  InnerException : "


@pytest.mark.parametrize(
    ("status", "message", "columns", "why"),
    [
        (400, PAYLOAD + "The property 'new_a' does not exist on type 'Microsoft.Dynamics.CRM.lead'.", ("new_a",),
         "not a column of the lead table"),
        (400, "Could not find a property named 'new_b' on type 'Microsoft.Dynamics.CRM.lead'.", ("new_b",),
         "not a column of the lead table"),
        (400, "A validation error occurred. The value 99 of 'leadsourcecode' on record of type 'lead' is outside the "
         "valid range. Accepted Values: 1,2", ("leadsourcecode",), "not one of its options"),
        (400, "A validation error occurred. The length of the 'new_a' attribute of the 'lead' entity exceeded the "
         "maximum allowed length of '2'.", ("new_a",), "longer than the column allows"),
        (400, PAYLOAD + "Cannot convert the literal 'INS' to the expected type 'Edm.Int32'.", ("new_a",),
         "a value of the wrong type"),
        (400, PAYLOAD + "Cannot convert the literal 'other' to the expected type 'Edm.Int32'.",
         ("new_a", "new_b", "leadsourcecode"), "a value of the wrong type"),
        (400, PAYLOAD + "Does not support untyped value in non-open type.", ("new_a", "new_b", "leadsourcecode"),
         "refused"),
        (403, "User does not have create permissions for the new_b attribute", ("new_b",), "no permission to set it"),
        (400, "The length of the 'companyname' attribute of the 'lead' entity exceeded the maximum allowed length",
         (), "longer than the column allows"),  # the lead's own column: about the lead
        (400, "Invalid argument.", (), "refused"),
        (500, PAYLOAD, (), "refused"),
    ],
)  # fmt: skip
def test_which_column_a_refusal_is_about(status: int, message: str, columns: tuple[str, ...], why: str) -> None:
    assert refused_columns(ENRICHMENT, status, message) == columns
    assert refusal_why(message) == why


def test_privileges_each_feature_needs() -> None:
    rules = parse_rules({"rules": [{"owner_user": "dana@contoso.example", "when": {"test": True}},
                                   {"owner_team": "T", "campaign_code": "C"}]})  # fmt: skip
    assert [needed.privilege for needed in for_routing(rules, link_contacts=True)] == [
        "prvAssignLead", "prvReadUser", "prvReadTeam", "prvReadCampaign", "prvAppendToCampaign",
        "prvReadContact", "prvAppendToContact", "prvReadAccount", "prvAppendToAccount",
    ]  # fmt: skip
    mktcmpid_only = parse_rules({"campaign_from_mktcmpid": True, "rules": [{"recipients": ["a@contoso.example"]}]})
    assert [needed.privilege for needed in for_routing(mktcmpid_only, link_contacts=False)] == [
        "prvReadCampaign", "prvAppendToCampaign"
    ]  # fmt: skip
