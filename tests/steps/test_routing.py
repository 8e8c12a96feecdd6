"""Routing and contact linking end to end: Azurite, and the Entra ID / Dataverse / Graph stand-ins over HTTP."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.standins import StandIns
from leads import runtime
from leads.core import mapping
from tests.leadsamples import marketplace_lead
from tests.steps.test_processing import entity, message, post, process

RULES = """
campaign_from_mktcmpid = true
[[rules]]
name = "CRM"
recipients = ["crm-sales@contoso.example"]
owner_team = "CRM Sales"
campaign = "Launch 2026"
leadqualitycode = 2
[rules.when]
offer_id = "contoso.crm-*"
[rules.columns]
new_offerid = "{offer_id}"
[[rules]]
name = "Analytics"
owner_user = "dana@contoso.example"
[rules.when]
offer_id = "contoso.analytics*"
[[rules]]
name = "default"
"""


@pytest.fixture
def routed_env(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    use_rules(RULES, monkeypatch, tmp_path)
    standins.dataverse.custom_columns = {"new_offerid"}
    runtime.reset()
    return app_env


def use_rules(text: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """These routing rules, as LEAD_ROUTING_FILE."""
    rules = tmp_path / "routing.toml"
    rules.write_text(text)
    monkeypatch.setenv("LEAD_ROUTING_FILE", str(rules))


def records(standins: StandIns, entity_set: str) -> list[Any]:
    return [r for r in standins.dataverse.requests if r.method == "GET" and r.path.endswith(f"/{entity_set}")]


def created(standins: StandIns, lead_id: str) -> dict[str, Any]:
    record = standins.dataverse.lead(mapping.dataverse_lead_id(lead_id))
    assert record is not None
    return record


def test_a_rule_sets_owner_campaign_codes_columns_and_recipients(
    routed_env: dict[str, str], standins: StandIns
) -> None:
    team = standins.dataverse.records.add("teams", name="CRM Sales")
    launch = standins.dataverse.records.add("campaigns", name="Launch 2026", codename="CMP-1")
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    record = created(standins, lead_id)
    assert record["_ownerid_value"] == team
    assert record["_campaignid_value"] == launch
    assert record["leadqualitycode"] == 2 and record["new_offerid"] == "contoso.crm-connector"
    assert "Routing: rule 1 (CRM)" in record["description"]
    [mail] = standins.graph.messages
    assert mail.to == ("crm-sales@contoso.example",)  # replaces NOTIFY_TO
    assert entity(lead_id)["Status"] == "done" and not entity(lead_id)["LastError"]


def test_names_are_looked_up_once_per_process(routed_env: dict[str, str], standins: StandIns) -> None:
    standins.dataverse.records.add("teams", name="CRM Sales")
    standins.dataverse.records.add("campaigns", name="Launch 2026")
    for number in range(3):
        process(message(post(marketplace_lead(Description=f"lead {number}"))))
    assert len(standins.dataverse.leads) == 3
    assert len(records(standins, "teams")) == 1 and len(records(standins, "campaigns")) == 1
    patches = [r for r in standins.dataverse.requests if r.method == "PATCH"]
    assert len(standins.dataverse.requests) == 2 + len(patches)  # steady state: one request per lead


def test_mktcmpid_names_the_campaign_by_its_code(routed_env: dict[str, str], standins: StandIns) -> None:
    standins.dataverse.records.add("teams", name="CRM Sales")
    standins.dataverse.records.add("campaigns", name="Launch 2026")
    spring = standins.dataverse.records.add("campaigns", name="Spring", codename="CMP-7")
    lead_id = post(marketplace_lead(Description='{"mktcmpid": "cmp-7", "utm_source": "newsletter"}'))
    process(message(lead_id))
    record = created(standins, lead_id)
    assert record["_campaignid_value"] == spring
    assert "Campaign parameters: mktcmpid=cmp-7; utm_source=newsletter" in record["description"]
    assert entity(lead_id)["CampaignMktcmpid"] == "cmp-7"
    row = '>Campaign</th><td valign="top">mktcmpid=cmp-7; utm_source=newsletter</td>'
    assert row in standins.graph.messages[0].content


def test_a_name_dynamics_does_not_know_is_noted_not_fatal(routed_env: dict[str, str], standins: StandIns) -> None:
    standins.dataverse.records.add("campaigns", name="Launch 2026")
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    record = created(standins, lead_id)
    assert record["_ownerid_value"] == record["_createdby_value"]  # the default owner: the application user
    row = entity(lead_id)
    assert row["Status"] == "done"
    assert "no team 'CRM Sales' in Dynamics" in row["LastError"]
    assert "Not applied: rule 1 (CRM): no team &#x27;CRM Sales&#x27; in Dynamics" in standins.graph.messages[0].content


def test_an_owner_removed_after_startup_is_dropped_and_looked_up_again(
    routed_env: dict[str, str], standins: StandIns, caplog: pytest.LogCaptureFixture
) -> None:
    user = standins.dataverse.records.add("systemusers", internalemailaddress="dana@contoso.example")
    analytics = {"LeadSource": "AppSource-PLT|contoso.analytics-suite"}
    process(message(post(marketplace_lead(**analytics))))
    standins.dataverse.records.remove("systemusers", user)  # Dana leaves; the process still has her id
    with caplog.at_level(logging.DEBUG):
        lead_id = post(marketplace_lead(Description="second", **analytics))
        process(message(lead_id))
    record = created(standins, lead_id)
    assert record["_ownerid_value"] == record["_createdby_value"]
    row = entity(lead_id)
    assert row["Status"] == "done" and "owner not applied, Dynamics refused it (400 0x80040217)" in row["LastError"]
    assert sorted(r.status for r in standins.dataverse.requests if r.method == "PATCH") == [204, 204, 400]
    assert "dana@contoso.example" not in caplog.text + row["LastError"]
    process(message(post(marketplace_lead(Description="third", **analytics))))
    assert len(records(standins, "systemusers")) == 2  # the id was forgotten, so it is looked up again


def test_a_refusal_the_app_cannot_put_down_to_routing_still_fails_the_lead(
    routed_env: dict[str, str], standins: StandIns
) -> None:
    standins.dataverse.records.add("teams", name="CRM Sales")
    standins.dataverse.records.add("campaigns", name="Launch 2026")
    standins.dataverse.fail_next(400, body={"error": {"code": "0x80040203", "message": "Invalid argument."}},
                                 method="PATCH")  # fmt: skip
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    assert entity(lead_id)["Status"] == "failed"
    assert "0x80040203" in entity(lead_id)["LastError"]
    assert len([r for r in standins.dataverse.requests if r.method == "PATCH"]) == 1


def test_assigning_needs_the_privilege_and_without_it_the_lead_is_created_unassigned(
    routed_env: dict[str, str], standins: StandIns
) -> None:
    standins.dataverse.records.add("teams", name="CRM Sales")
    launch = standins.dataverse.records.add("campaigns", name="Launch 2026")
    standins.dataverse.privileges.discard("prvAssignLead")
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    record = created(standins, lead_id)
    assert record["_campaignid_value"] == launch and record["_ownerid_value"] == record["_createdby_value"]
    assert "owner not applied" in entity(lead_id)["LastError"] and "0x80040220" in entity(lead_id)["LastError"]


def test_an_invalid_rules_file_routes_nothing_and_says_so(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rules = tmp_path / "routing.toml"
    rules.write_text('[[rules]]\nowner_team = "T"\nbogus = 1\n')
    monkeypatch.setenv("LEAD_ROUTING_FILE", str(rules))
    runtime.reset()
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    row = entity(lead_id)
    assert row["Status"] == "done"
    assert "routing rules not used" in row["LastError"] and "rule 1: unknown key 'bogus'" in row["LastError"]
    assert set(standins.graph.messages[0].to) == {"sales@contoso.example", "ceo@contoso.example"}


@pytest.fixture
def linking_env(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("DYNAMICS_LINK_CONTACTS", "true")
    runtime.reset()
    return app_env


def test_one_contact_links_the_lead_and_its_account(linking_env: dict[str, str], standins: StandIns) -> None:
    account = standins.dataverse.records.add("accounts", name="Contoso Ltd")
    contact = standins.dataverse.records.add("contacts", emailaddress1="ADA@contoso.example", parent_account=account)
    standins.dataverse.records.add("contacts", emailaddress1="ada@contoso.example", statecode=1)  # inactive
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    record = created(standins, lead_id)
    assert (record["_parentcontactid_value"], record["_parentaccountid_value"]) == (contact, account)
    assert "Existing contact: linked" in record["description"]
    [query] = records(standins, "contacts")
    assert query.query["$top"] == ["2"]
    assert query.query["$filter"] == ["emailaddress1 eq 'ada@contoso.example' and statecode eq 0"]


def test_a_contact_without_an_account_links_the_contact_only(linking_env: dict[str, str], standins: StandIns) -> None:
    contact = standins.dataverse.records.add("contacts", emailaddress1="ada@contoso.example")
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    record = created(standins, lead_id)
    assert (record["_parentcontactid_value"], record["_parentaccountid_value"]) == (contact, None)


@pytest.mark.parametrize(("contacts", "fact"), [(0, "none with this email address"), (2, "several have this email")])
def test_no_or_several_contacts_leave_the_lead_unlinked(
    linking_env: dict[str, str], standins: StandIns, contacts: int, fact: str
) -> None:
    for _ in range(contacts):
        standins.dataverse.records.add("contacts", emailaddress1="ada@contoso.example")
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    record = created(standins, lead_id)
    assert record["_parentcontactid_value"] is None and f"Existing contact: {fact}" in record["description"]


def test_a_quote_in_the_email_is_escaped_not_widening_the_filter(
    linking_env: dict[str, str], standins: StandIns
) -> None:
    standins.dataverse.records.add("contacts", emailaddress1="someone@contoso.example")
    tricky = "o'brien@contoso.example' or emailaddress1 ne 'x"
    document = marketplace_lead()
    document["UserDetails"]["Email"] = tricky
    lead_id = post(document)
    process(message(lead_id))
    record = created(standins, lead_id)
    assert record["_parentcontactid_value"] is None  # an unescaped quote would have matched every contact
    [query] = records(standins, "contacts")
    assert query.status == 200
    assert query.query["$filter"] == [
        "emailaddress1 eq 'o''brien@contoso.example'' or emailaddress1 ne ''x' and statecode eq 0"
    ]
    obrien = standins.dataverse.records.add("contacts", emailaddress1="o'brien@contoso.example")
    document["UserDetails"]["Email"] = "o'brien@contoso.example"
    lead_id = post(document)
    process(message(lead_id))
    assert created(standins, lead_id)["_parentcontactid_value"] == obrien


class CountingDirectory:
    """Dynamics' names in memory, counting the look-ups."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.asked: list[str] = []

    def find_id(self, lookup: Any) -> str | None:
        self.asked.append(lookup.value)
        return self.known.get(lookup.value)

    def find_contacts(self, email: str) -> list[Any]:
        return []


def test_a_name_dynamics_lacks_is_asked_again_only_after_a_while() -> None:
    from leads.core.payload import parse_lead
    from leads.core.routing_rules import parse_rules
    from leads.steps.routing import NOT_FOUND_SECONDS, LeadRouter

    directory = CountingDirectory({})
    now = [0.0]
    rules = parse_rules({"rules": [{"owner_team": "Later"}]})
    router = LeadRouter(rules, False, lambda: directory, clock=lambda: now[0])
    lead = parse_lead(marketplace_lead())
    received = datetime(2026, 11, 30, tzinfo=UTC)
    for _ in range(3):
        assert "ownerid" not in router.route(lead, received).enrichment.bindings
    assert directory.asked == ["Later"]
    directory.known["Later"] = "t-1"
    now[0] += NOT_FOUND_SECONDS + 1
    for _ in range(3):
        assert router.route(lead, received).enrichment.bindings["ownerid"] == "/teams(t-1)"
    assert directory.asked == ["Later", "Later"]
