"""A column a routing rule sets that Dynamics refuses never fails a lead: it is dropped, the lead created without it,
and the note says which key of which rule and why. End to end: Azurite, and the Entra ID / Dataverse / Graph
stand-ins over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devtools.standins import StandIns
from leads import runtime
from tests.leadsamples import marketplace_lead
from tests.steps.test_processing import entity, message, post, process
from tests.steps.test_routing import created, use_rules

RULES = """
[[rules]]
name = "CRM"
leadsourcecode = 99
leadqualitycode = 1
campaign = "Launch"
[rules.when]
offer_id = "contoso.crm-*"
[rules.columns]
new_offerid = "{offer_id}"
new_tier = "{action}"
new_region = "{country}"
new_score = 7
"""


@pytest.fixture
def routed_env(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    use_rules(RULES, monkeypatch, tmp_path)
    runtime.reset()
    return app_env


def patches(standins: StandIns) -> list[Any]:
    return [r for r in standins.dataverse.requests if r.method == "PATCH"]


def test_unknown_columns_wrong_types_lengths_and_options_are_dropped_one_by_one(
    routed_env: dict[str, str], standins: StandIns
) -> None:
    campaign = standins.dataverse.records.add("campaigns", name="Launch")
    standins.dataverse.custom_columns = [
        {"name": "new_tier", "type": "Picklist", "options": {"1": "Gold"}},  # a choice: "INS" is the wrong type
        {"name": "new_region", "type": "String", "max_length": 5},  # "United Kingdom" is too long
        {"name": "new_score", "type": "Integer"},
    ]  # new_offerid is not a column of this organisation's lead table; leadsourcecode 99 is not an option
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    record = created(standins, lead_id)
    row = entity(lead_id)
    assert row["Status"] == "done"
    assert (record["leadsourcecode"], record["leadqualitycode"], record["new_score"]) == (8, 1, 7)  # 8: the default
    assert record["_campaignid_value"] == campaign and "new_offerid" not in record and record.get("new_tier") is None
    notes = row["RoutingNotes"]
    assert "rule 1 (CRM) columns.new_offerid not applied, Dynamics refused it (400 0x80048d19: not a column of the " \
        "lead table); created without it" in notes  # fmt: skip
    assert (
        "rule 1 (CRM) columns.new_tier not applied, Dynamics refused it (400 0x80048d19: a value of the wrong type)"
        in notes
    )
    assert "rule 1 (CRM) columns.new_region not applied, Dynamics refused it (400 0x80044331: longer than the column " \
        "allows)" in notes  # fmt: skip
    assert (
        "rule 1 (CRM) leadsourcecode not applied, Dynamics refused it (400 0x8004431A: not one of its options)" in notes
    )
    assert row["LastError"].startswith("routing: ") and "United Kingdom" not in notes  # values are never quoted
    assert [r.status for r in patches(standins)] == [400, 400, 400, 400, 204]
    assert "Not applied: rule 1 (CRM) columns.new_offerid" in standins.graph.messages[0].content


def test_a_column_refused_whatever_its_value_is_left_out_of_later_leads_up_front(
    routed_env: dict[str, str], standins: StandIns
) -> None:
    standins.dataverse.records.add("campaigns", name="Launch")
    standins.dataverse.custom_columns = ["new_tier", "new_region", {"name": "new_score", "type": "Integer"}]
    first = post(marketplace_lead())
    process(message(first))
    assert [r.status for r in patches(standins)] == [400, 400, 204]  # new_offerid, then leadsourcecode 99
    second = post(marketplace_lead(Description="another"))
    process(message(second))
    assert [r.status for r in patches(standins)] == [400, 400, 204, 400, 204]  # only the value-dependent one again
    assert (
        "columns.new_offerid not applied, Dynamics refused it (400 0x80048d19: not a column"
        in entity(second)["RoutingNotes"]
    )


def test_linking_without_append_on_lead_drops_the_campaign_not_the_lead(
    routed_env: dict[str, str], standins: StandIns
) -> None:
    standins.dataverse.records.add("campaigns", name="Launch")
    standins.dataverse.custom_columns = [
        "new_offerid",
        "new_tier",
        "new_region",
        {"name": "new_score", "type": "Integer"},
    ]
    standins.dataverse.privileges.discard("prvAppendLead")
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    record = created(standins, lead_id)
    assert entity(lead_id)["Status"] == "done" and record["_campaignid_value"] is None
    assert "campaign not applied, Dynamics refused it (403 0x80040220)" in entity(lead_id)["RoutingNotes"]
