"""`route` and the routing part of `check`, against Azurite and the stand-ins."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from devtools.standins import StandIns
from leads.core import mapping, returning
from leads.core.payload import lead_id_of
from leads.ops.check import check
from leads.ops.route import route
from tests.leadsamples import marketplace_lead

RULES = """
[[rules]]
name = "CRM"
recipients = ["crm-sales@contoso.example"]
owner_team = "CRM Sales"
campaign_code = "CMP-1"
[rules.when]
offer_id = "contoso.crm-*"
[[rules]]
name = "default"
owner_team = "Inside Sales"
"""


@pytest.fixture
def rules_file(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "routing.toml"
    path.write_text(RULES)
    monkeypatch.setenv("LEAD_ROUTING_FILE", str(path))
    return path


def run(command: str, *args: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = route(args[0], out) if command == "route" else check(out=out)
    return code, out.getvalue()


def test_route_shows_rule_body_and_recipients_without_sending(
    rules_file: Path, standins: StandIns, tmp_path: Path
) -> None:
    team = standins.dataverse.records.add("teams", name="CRM Sales")
    campaign = standins.dataverse.records.add("campaigns", name="Launch", codename="CMP-1")
    payload = tmp_path / "lead.json"
    payload.write_text(json.dumps(marketplace_lead()))
    code, text = run("route", payload)
    assert code == 0, text
    assert "rule: rule 1 (CRM)" in text
    assert "recipients (rule 1 (CRM)): crm-sales@contoso.example" in text
    dynamics_id = mapping.dataverse_lead_id(lead_id_of(marketplace_lead()))
    assert f"PATCH {standins.dataverse.base_url}/api/data/v9.2/leads({dynamics_id})" in text
    body = json.loads(text[text.index("{") :])
    assert body["ownerid@odata.bind"] == f"/teams({team})"
    assert body["campaignid@odata.bind"] == f"/campaigns({campaign})"
    assert body["emailaddress1"] == "ada@contoso.example"
    assert standins.dataverse.leads == {} and standins.graph.messages == []
    assert {r.method for r in standins.dataverse.requests} == {"GET"}


def test_route_with_the_default_rule_and_a_missing_team(rules_file: Path, standins: StandIns, tmp_path: Path) -> None:
    payload = tmp_path / "lead.json"
    payload.write_text(json.dumps(marketplace_lead(LeadSource="AzurePortal-Create|contoso.other")))
    code, text = run("route", payload)
    assert code == 0
    assert "rule: rule 2 (default)" in text
    assert "recipients (NOTIFY_TO): sales@contoso.example, ceo@contoso.example" in text
    assert "not applied: rule 2 (default): no team 'Inside Sales' in Dynamics" in text
    assert "ownerid@odata.bind" not in text


def test_route_says_what_is_wrong_with_the_payload(rules_file: Path, tmp_path: Path) -> None:
    payload = tmp_path / "lead.json"
    payload.write_text("[]")
    code, text = run("route", payload)
    assert code == 2 and "expected a JSON object" in text


def test_check_resolves_every_name_and_reports_the_missing_one(rules_file: Path, standins: StandIns) -> None:
    standins.dataverse.records.add("teams", name="CRM Sales")
    standins.dataverse.records.add("campaigns", name="Launch", codename="CMP-1")
    code, text = run("check")
    assert code == 1
    assert "✓ routing rules: " in text and "2 rule(s) parse" in text
    assert "✓ team 'CRM Sales' (rule 1 owner_team): found" in text
    assert "✓ campaign with code 'CMP-1' (rule 1 campaign_code): found" in text
    assert (
        "✗ team 'Inside Sales' (rule 2 owner_team): not found in Dynamics: create an owner team with this name in "
        "Dynamics (Settings → Security → Teams), or fix rule 2 owner_team in routing.toml" in text
    )
    assert "✓ assign leads: the user holds prvAssignLead" in text
    standins.dataverse.records.add("teams", name="inside sales")
    assert run("check")[0] == 0


def test_check_reports_missing_privileges(
    rules_file: Path, standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNAMICS_LINK_CONTACTS", "true")
    standins.dataverse.privileges -= {"prvAssignLead", "prvReadContact"}
    code, text = run("check")
    assert code == 1
    assert "✗ assign leads: the user lacks prvAssignLead: give its security role Assign on Lead" in text
    assert "✗ read contacts: the user lacks prvReadContact" in text


def test_check_reports_invalid_rules_by_number_and_key(rules_file: Path) -> None:
    rules_file.write_text('[[rules]]\nname = "x"\nowner_team = "T"\nrecipients = "nobody"\n[[rules]]\nwhen = 3\n')
    code, text = run("check")
    assert code == 1
    assert "✗ routing rules: LEAD_ROUTING_FILE routing.toml: rule 1 (x): recipients: not email addresses" in text
    assert "rule 2: when: must be a table" in text


def test_check_without_routing_says_so(app_env: dict[str, str]) -> None:
    code, text = run("check")
    assert code == 0
    assert "- routing rules: LEAD_ROUTING_FILE is empty" in text


def test_route_shows_that_a_returning_customer_would_join_their_open_lead(
    rules_file: Path, standins: StandIns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNAMICS_DUPLICATES", "attach")
    existing = standins.dataverse.seed_lead(emailaddress1="ada@contoso.example", lastname="Lovelace")
    payload = tmp_path / "lead.json"
    payload.write_text(json.dumps(marketplace_lead()))
    code, text = run("route", payload)
    assert code == 0, text
    assert f"returning customer: yes — the event would be added as a note to the open lead {existing}" in text
    assert f"etn=lead&pagetype=entityrecord&id={existing}" in text
    note_id = returning.dataverse_note_id(lead_id_of(marketplace_lead()))
    assert f"PATCH {standins.dataverse.base_url}/api/data/v9.2/annotations({note_id})" in text
    assert f'"objectid_lead@odata.bind": "/leads({existing})"' in text
    assert f"PATCH {standins.dataverse.base_url}/api/data/v9.2/leads({existing}) (its empty columns" in text
    assert standins.dataverse.annotations() == [] and {r.method for r in standins.dataverse.requests} == {"GET"}


def test_route_says_a_new_customer_gets_a_lead_and_an_unreachable_dynamics_is_not_verified(
    rules_file: Path, standins: StandIns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNAMICS_DUPLICATES", "attach")
    payload = tmp_path / "lead.json"
    payload.write_text(json.dumps(marketplace_lead()))
    code, text = run("route", payload)
    assert "returning customer: no — no open lead with this email created in the last 90 days: a new lead" in text
    monkeypatch.setenv("DYNAMICS_URL", "https://127.0.0.1:9")  # nothing listens there
    code, text = run("route", payload)
    assert code == 1
    assert "whether the person has an open lead" in text.split("not verified", 1)[1]
    assert "/leads(" in text and "If-None-Match: *" in text  # the create it would make, still shown


def test_route_with_rules_shows_the_create_with_duplicate_detection_on(
    rules_file: Path, standins: StandIns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNAMICS_DUPLICATES", "rules")
    payload = tmp_path / "lead.json"
    payload.write_text(json.dumps(marketplace_lead()))
    code, text = run("route", payload)
    assert code == 0, text
    assert "duplicate detection rules match no open lead: a new lead" in text
    assert "MSCRM.SuppressDuplicateDetection: false" in text
    existing = standins.dataverse.seed_lead(emailaddress1="ada@contoso.example")
    assert f"note to the open lead {existing}" in run("route", payload)[1]
