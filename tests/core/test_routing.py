"""Routing rules: reading the file, matching, templates, and what a Dataverse refusal is about. Pure."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from leads.core.enrichment import Enrichment, refused_binding
from leads.core.mapping import to_dataverse
from leads.core.payload import parse_lead
from leads.core.routing import Lookup, RoutingRules, plan
from leads.core.routing_rules import RulesProblems, parse_rules
from leads.settings import load_routing
from tests.core.test_mapping import RECEIVED
from tests.leadsamples import marketplace_lead, validation_lead

ROOT = Path(__file__).resolve().parents[2]


def rules(text: str) -> RoutingRules:
    return parse_rules(tomllib.loads(text))


def problems(text: str) -> list[str]:
    with pytest.raises(RulesProblems) as caught:
        rules(text)
    return caught.value.problems


def lead(**overrides: Any) -> Any:
    return parse_lead(marketplace_lead(**overrides))


def matched(text: str, **overrides: Any) -> str | None:
    rule = rules(text).match(lead(**overrides))
    return rule.name if rule else None


@pytest.mark.parametrize(
    ("condition", "overrides", "expected"),
    [
        ('offer_id = "contoso.crm-*"', {}, "hit"),
        ('offer_id = "CONTOSO.CRM-CONNECTOR"', {}, "hit"),
        ('offer_id = ["x.*", "contoso.crm-conn?ctor"]', {}, "hit"),
        ('offer_id = "contoso.analytics*"', {}, None),
        ('offer_title = "contoso crm*"', {}, "hit"),
        ('offer_title = "Contoso CRM"', {}, None),
        ('action = ["PLT", "ins"]', {}, "hit"),
        ('action = "PLT"', {}, None),
        ('source = "Azure Marketplace"', {}, "hit"),
        ('source = "AzureMarketplace"', {}, "hit"),
        ('source = "AppSource"', {"LeadSource": "AppSource (SPZA)-PLT|contoso.crm-connector"}, "hit"),
        ('source = "AppSource"', {}, None),
        ('country = ["united kingdom", "Ireland"]', {}, "hit"),
        ('country = "Germany"', {}, None),
        ("test = false", {}, "hit"),
        ("test = true", {}, None),
        ('offer_id = "contoso.*"\naction = "INS"\ncountry = "Germany"', {}, None),  # every condition must hold
    ],
)
def test_each_condition(condition: str, overrides: dict[str, Any], expected: str | None) -> None:
    assert matched(f'[[rules]]\nname = "hit"\n[rules.when]\n{condition}\n', **overrides) == expected


def test_test_leads_match_test_true() -> None:
    text = '[[rules]]\nname = "tests"\nwhen = { test = true }\n[[rules]]\nname = "rest"\n'
    assert rules(text).match(parse_lead(validation_lead())).name == "tests"  # type: ignore[union-attr]
    assert matched(text) == "rest"


def test_first_match_wins_and_the_default_catches_the_rest() -> None:
    text = """
[[rules]]
name = "first"
when = { offer_id = "contoso.*" }
[[rules]]
name = "second"
when = { action = "INS" }
[[rules]]
name = "default"
"""
    assert matched(text) == "first"
    assert matched(text, LeadSource="AzureMarketplace-INS|other.offer") == "second"
    assert matched(text, LeadSource="AzurePortal-Create|other.offer", ActionCode="Create") == "default"
    assert rules(text).rules[2].label == "rule 3 (default)"


def test_no_rule_matching_means_no_routing() -> None:
    routed = plan(rules('[[rules]]\nwhen = { offer_id = "x" }\nowner_team = "T"\n'), lead(), RECEIVED)
    assert routed.rule is None and routed.owner is None and routed.recipients == () and routed.columns == {}


def test_every_output_of_a_rule() -> None:
    text = """
campaign_from_mktcmpid = true
[[rules]]
name = "all"
recipients = ["a@contoso.example", "b@contoso.example"]
owner_team = "CRM Sales"
campaign_code = "CMP-1"
leadsourcecode = 4
leadqualitycode = 1
[rules.columns]
new_offerid = "{offer_id}"
new_summary = "{source} / {action} / {mktcmpid} / {{literal}}"
new_score = 7
new_flag = true
"""
    routed = plan(rules(text), lead(Description="mktcmpid=cmp-9"), RECEIVED)
    assert routed.recipients == ("a@contoso.example", "b@contoso.example")
    assert routed.owner == Lookup("team", "CRM Sales")
    assert routed.campaigns == (Lookup("campaign_code", "cmp-9"), Lookup("campaign_code", "CMP-1"))
    assert routed.columns == {
        "new_offerid": "contoso.crm-connector",
        "new_summary": "Azure Marketplace / INS / cmp-9 / {literal}",
        "new_score": 7,
        "new_flag": True,
        "leadsourcecode": 4,
        "leadqualitycode": 1,
    }
    body = to_dataverse(lead(), RECEIVED, Enrichment(columns=routed.columns).bound("ownerid", "teams", "t-1"))
    assert body["leadsourcecode"] == 4 and body["leadqualitycode"] == 1 and body["new_score"] == 7
    assert body["ownerid@odata.bind"] == "/teams(t-1)"


def test_owner_user_and_campaign_by_name() -> None:
    rule = rules('[[rules]]\nowner_user = "dana@contoso.example"\ncampaign = "Launch"\n').rules[0]
    assert rule.owner == Lookup("user", "dana@contoso.example") and rule.owner.entity_set == "systemusers"
    assert rule.campaign == Lookup("campaign_name", "Launch") and rule.campaign.entity_set == "campaigns"
    assert not rule.campaign_from_mktcmpid


def test_template_values_from_the_lead_cannot_reach_attributes() -> None:
    said = problems('[[rules]]\n[rules.columns]\nnew_x = "{offer_id.__class__}"\nnew_y = "{email}"\nnew_z = "{"\n')
    assert len(said) == 3 and all(problem.startswith("rule 1: columns.new_") for problem in said)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[rules]]\nname = "a"\nowner = "x"\n', "rule 1 (a): unknown key 'owner'"),
        ('[[rules]]\nwhen = { offer = "x" }\n', "rule 1: when.offer: unknown condition"),
        (
            '[[rules]]\nwhen = { offer_id = "contoso.[crm" }\n',
            "rule 1: when.offer_id: 'contoso.[crm' is not a valid glob",
        ),
        ('[[rules]]\nwhen = { offer_id = "" }\n', "rule 1: when.offer_id: must be a non-empty text"),
        ('[[rules]]\nwhen = { test = "yes" }\n', "rule 1: when.test: must be true"),
        (
            '[[rules]]\nrecipients = ["sales@contoso.example", "nobody"]\n',
            "rule 1: recipients: not email addresses: 'nobody'",
        ),
        ('[[rules]]\nowner_user = "Dana Smith"\n', "rule 1: owner_user: 'Dana Smith' is not an email address"),
        ('[[rules]]\nowner_user = "d@contoso.example"\nowner_team = "T"\n', "rule 1: owner_user and owner_team"),
        ('[[rules]]\ncampaign = "A"\ncampaign_code = "B"\n', "rule 1: campaign and campaign_code"),
        ("[[rules]]\nleadsourcecode = 0\n", "rule 1: leadsourcecode: must be the option's whole number value"),
        ('[[rules]]\nleadqualitycode = "hot"\n', "rule 1: leadqualitycode: must be"),
        ("[[rules]]\n[rules.columns]\nnew_when = 2026-01-01\n", "rule 1: columns.new_when: unknown column type date"),
        ("[[rules]]\n[rules.columns]\nnew_list = [1]\n", "rule 1: columns.new_list: unknown column type list"),
        ('[[rules]]\n[rules.columns]\nsubject = "x"\n', "rule 1: columns.subject: the app fills it"),
        ('[[rules]]\n[rules.columns]\n"New-Col" = "x"\n', "rule 1: columns.New-Col: not a Dataverse logical name"),
        ('[[rules]]\nname = "all"\n[[rules]]\nname = "never"\n', "rule 1 (all): matches every lead"),
        ('[[rules]]\n[[rules]]\nname = "b"\nfoo = 1\n', "rule 2 (b): unknown key 'foo'"),
        ("route = 1\n[[rules]]\n", "unknown key 'route'"),
        ("campaign_from_mktcmpid = true\n", "no rules"),
        ('[[rules]]\nowner_team = "T"\nreassign_returning = "yes"\n', "rule 1: reassign_returning: must be true"),
        ("[[rules]]\nreassign_returning = true\n", "rule 1: reassign_returning: needs owner_user or owner_team"),
    ],
)
def test_invalid_rules_name_the_rule_and_the_key(text: str, expected: str) -> None:
    said = problems(text)
    assert any(problem.startswith(expected) for problem in said), said


def test_the_committed_example_loads(tmp_path: Path) -> None:
    loaded = load_routing({"LEAD_ROUTING_FILE": "routing.example.toml"})
    assert loaded.file == ROOT / "routing.example.toml" and loaded.rules is not None
    assert len(loaded.rules.rules) == 7 and loaded.rules.rules[-1].when.always
    analytics = parse_lead(marketplace_lead(LeadSource="AppSource-PLT|contoso.analytics-suite", ActionCode="PLT"))
    assert loaded.rules.match(analytics).name == "Analytics contact me"  # type: ignore[union-attr]
    names = {lookup for _, _, lookup in loaded.rules.lookups()}
    assert Lookup("team", "CRM Sales") in names and Lookup("user", "dana@contoso.example") in names


def test_a_broken_file_names_the_setting_the_file_and_the_rule(tmp_path: Path) -> None:
    from leads.settings import SettingsError

    broken = tmp_path / "routing.toml"
    broken.write_text('[[rules]]\nowner_user = "nobody"\n')
    with pytest.raises(SettingsError) as caught:
        load_routing({"LEAD_ROUTING_FILE": str(broken)})
    assert caught.value.problems == [
        "LEAD_ROUTING_FILE routing.toml: rule 1: owner_user: 'nobody' is not an email address or user principal name "
        "(UPN)"
    ]
    broken.write_text("[[rules]\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_routing({"LEAD_ROUTING_FILE": str(broken)})
    with pytest.raises(SettingsError, match="does not exist"):
        load_routing({"LEAD_ROUTING_FILE": str(tmp_path / "missing.toml")})
    assert load_routing({}).rules is None


def test_which_lookup_a_refusal_is_about() -> None:
    enrichment = Enrichment().bound("ownerid", "teams", "aaaa").bound("campaignid", "campaigns", "bbbb")
    assert refused_binding(enrichment, 400, "team With Id = aaaa Does Not Exist") == "ownerid"
    assert refused_binding(enrichment, 404, "campaign With Id = BBBB Does Not Exist") == "campaignid"
    assert refused_binding(enrichment, 403, "Principal user … is missing prvAssignLead privilege") == "ownerid"
    assert refused_binding(enrichment, 403, "… is missing prvCreateLead privilege") is None
    assert refused_binding(enrichment, 400, "The length of the 'subject' attribute exceeded") is None
    assert refused_binding(enrichment, 503, "aaaa") is None
    assert refused_binding(Enrichment(), 400, "team With Id = aaaa Does Not Exist") is None


def test_the_readme_shows_the_committed_example() -> None:
    assert (ROOT / "routing.example.toml").read_text() in (ROOT / "README.md").read_text()
