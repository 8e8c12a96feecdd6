"""`check` and `route` against the lead table's definitions and the user's privileges: the committed example, a rule
Dynamics would refuse parts of, privileges held through a team, and `route` without a reachable Dynamics."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from devtools.standins import StandIns
from devtools.standins.dataverse_seed import records_named, seed
from leads.core.routing_rules import parse_rules
from leads.ops.check import check
from leads.ops.route import route
from leads.settings.routing import APP_ROOT

EXAMPLE = APP_ROOT / "routing.example.toml"
BROKEN = """
[[rules]]
name = "CRM"
owner_team = "CRM Sales"
leadsourcecode = 99
[rules.when]
offer_id = "contoso.crm-*"
[rules.columns]
new_offerid = "{offer_id}"
new_region = "{country}"
fullname = "x"
purchasetimeframe = "soon"
qualificationcomments = "{offer_title}"
"""


def run_check() -> tuple[int, str]:
    out = io.StringIO()
    return check(out=out), out.getvalue()


def run_route(path: Path | None) -> tuple[int, str]:
    out = io.StringIO()
    return route(path, out), out.getvalue()


@pytest.fixture
def example(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEAD_ROUTING_FILE", "routing.example.toml")
    return EXAMPLE


@pytest.fixture
def broken(app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "routing.toml"
    path.write_text(BROKEN)
    monkeypatch.setenv("LEAD_ROUTING_FILE", str(path))
    standins.dataverse.records.add("teams", name="CRM Sales")
    standins.dataverse.custom_columns = [{"name": "new_region", "type": "String", "max_length": 20}]
    return path


def test_the_example_names_what_make_run_seeds() -> None:
    import tomllib

    rules = parse_rules(tomllib.loads(EXAMPLE.read_text()))
    seeded = {(entity_set, record.get("name") or record["internalemailaddress"]) for entity_set, record in
              records_named(rules)}  # fmt: skip
    assert seeded == {
        ("teams", "CRM Sales"), ("teams", "Analytics Sales"), ("teams", "DACH Sales"), ("teams", "Azure Sales"),
        ("teams", "Inside Sales"), ("systemusers", "dana@contoso.example"), ("campaigns", "Campaign CMP-01042"),
        ("campaigns", "Analytics launch 2026"),
    }  # fmt: skip


def test_the_committed_example_passes_check_on_a_stock_organisation(example: Path, standins: StandIns) -> None:
    code, text = run_check()
    assert code == 1
    assert "✗ campaign named 'Analytics launch 2026' (rule 4 campaign): not found in Dynamics" in text
    assert "or fix rule 4 campaign in routing.example.toml" in text  # the key as the file writes it
    seed(standins.dataverse.control_url, example)
    code, text = run_check()
    assert code == 0, text
    assert "✓ lead table: " in text and "the ones the app fills from every lead fit" in text
    assert "✓ team 'CRM Sales' (rule 2 owner_team): found" in text
    assert "✓ rule 2 (CRM connector) leadsourcecode: option 8 = Web" in text
    assert "✓ rule 2 (CRM connector) columns.qualificationcomments: text of up to 2000 characters; the template " \
        "makes at most 519" in text  # fmt: skip
    assert "✓ rule 3 (Analytics contact me) columns.preferredcontactmethodcode: option 2 = Email" in text
    for privilege in ("assign leads", "read users", "read teams", "read campaigns", "append to campaigns"):
        assert f"✓ {privilege}: the user holds prv" in text


def test_check_names_each_column_dynamics_would_refuse(broken: Path) -> None:
    code, text = run_check()
    assert code == 1
    assert (
        "✗ rule 1 (CRM) columns.new_offerid: new_offerid is not a column of your organisation's lead table: create "
        "the column on the lead table in Dynamics first (see README, Routing: your own columns), or correct the name, "
        "or remove columns.new_offerid from routing.toml; until then leads are created without it" in text
    )
    assert (
        "✗ rule 1 (CRM) leadsourcecode: leadsourcecode has no option 99: use one of 1 = Advertisement, 2 = Employee "
        "Referral, 3 = External Referral, 4 = Partner, 5 = Public Relations, 6 = Seminar, 7 = Trade Show, 8 = Web, "
        "9 = Word of Mouth, 10 = Other, or add the option in Dynamics, or remove leadsourcecode from routing.toml; "
        "until then leads are created without it (the default leadsourcecode 8, Web, applies)" in text
    )
    assert "✗ rule 1 (CRM) columns.new_region: new_region holds at most 20 characters and the template can make 80: " \
        "raise the column's maximum length to 80 in Dynamics" in text  # fmt: skip
    assert "✗ rule 1 (CRM) columns.fullname: fullname cannot be set when a lead is created" in text
    assert "✗ rule 1 (CRM) columns.purchasetimeframe: purchasetimeframe is a choice: give the option's whole number " \
        "value (0 = Immediate, 1 = This Quarter" in text  # fmt: skip
    assert "✓ rule 1 (CRM) columns.qualificationcomments: text of up to 2000 characters" in text


def test_privileges_held_through_a_team_count(example: Path, standins: StandIns) -> None:
    seed(standins.dataverse.control_url, example)
    standins.dataverse.privileges -= {"prvAssignLead", "prvReadTeam", "prvAppendLead"}
    standins.dataverse.team_privileges = {"prvAssignLead", "prvReadTeam"}
    code, text = run_check()
    assert code == 1
    assert "✓ assign leads: the user holds prvAssignLead" in text and "✓ read teams: the user holds prvReadTeam" in text
    assert "✗ append to leads: the user lacks prvAppendLead: give its security role Append on Lead (linking leads " \
        "to campaigns and contacts)" in text  # fmt: skip
    functions = [r.path for r in standins.dataverse.requests if "Privileges" in r.path]
    assert len(functions) == 1 and functions[0].endswith("RetrieveUserSetOfPrivilegesByNames(PrivilegeNames=@p)")


def test_check_reads_the_lead_tables_definitions_once(example: Path, standins: StandIns) -> None:
    run_check()
    metadata = [r for r in standins.dataverse.requests if "EntityDefinitions" in r.path]
    assert len(metadata) == 4 and all(r.status == 200 for r in metadata)


def test_route_example_shows_the_verdicts_and_the_body(example: Path, standins: StandIns) -> None:
    seed(standins.dataverse.control_url, example)
    code, text = run_route(None)
    assert code == 0, text
    assert "rule: rule 2 (CRM connector)" in text
    assert "recipients (rule 2 (CRM connector)): crm-sales@contoso.example, crm-lead@contoso.example" in text
    assert "✓ rule 2 (CRM connector) leadsourcecode: option 8 = Web" in text
    body = json.loads(text[text.rindex("\n{") :])
    assert body["ownerid@odata.bind"].startswith("/teams(") and body["campaignid@odata.bind"].startswith("/campaigns(")
    assert body["qualificationcomments"] == "Marketplace INS on Contoso CRM Connector (Azure Marketplace)"
    assert "not verified" not in text and standins.dataverse.leads == {}


def test_route_leaves_out_what_dynamics_would_refuse(broken: Path, tmp_path: Path) -> None:
    payload = tmp_path / "lead.json"
    payload.write_text(json.dumps({"LeadSource": "AzureMarketplace-INS|contoso.crm-connector", "OfferTitle": "CRM"}))
    code, text = run_route(payload)
    assert code == 0
    assert "✗ rule 1 (CRM) columns.new_offerid: new_offerid is not a column of your organisation's lead table" in text
    assert (
        "not applied: rule 1 (CRM) columns.new_offerid: Dynamics would refuse it (new_offerid is not a column" in text
    )
    body = json.loads(text[text.rindex("\n{") :])
    assert "new_offerid" not in body and body["leadsourcecode"] == 8 and body["qualificationcomments"] == "CRM"


def test_route_without_a_sign_in_still_shows_rule_recipients_and_body(
    example: Path, standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-the-secret")
    code, text = run_route(None)
    assert code == 1
    assert "rule: rule 2 (CRM connector)" in text and "recipients (rule 2 (CRM connector)): crm-sales@" in text
    assert "not verified, as signing in failed: AZURE_CLIENT_SECRET is wrong" in text
    assert "\n  team 'CRM Sales'\n  campaign with code 'CMP-01042'\n" in text
    assert "\n  the columns qualificationcomments, leadsourcecode against your lead table\n" in text
    body = json.loads(text[text.rindex("\n{") :])
    assert body["leadsourcecode"] == 8 and "ownerid@odata.bind" not in body
    assert len([r for r in standins.entra.requests if r.path.endswith("/token")]) == 1  # tried once, not per name
    assert standins.dataverse.requests == []


def test_route_needs_a_file_or_example(capsys: pytest.CaptureFixture[str]) -> None:
    from leads.__main__ import main

    with pytest.raises(SystemExit):
        main(["route"])
    assert "route needs a FILE.json or --example" in capsys.readouterr().err
