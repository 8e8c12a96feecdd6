"""A routing rule's Teams channel: named by the app setting that holds its webhook URL, never by the URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from leads.settings import SettingsError, load_routing
from leads.steps.routing import LeadRouter
from tests.core.test_routing import lead, problems, rules

DACH = """
[[rules]]
name = "DACH"
when = { country = ["Germany", "Austria"] }
teams = "TEAMS_WEBHOOK_DACH"

[[rules]]
name = "everyone else"
"""
URL = "https://default0a.1b.environment.api.powerplatform.com/powerautomate/x/triggers/manual/paths/invoke?sig=S3CRET"


def test_the_rule_names_the_setting_and_others_use_the_default() -> None:
    router = LeadRouter(rules(DACH), False, lambda: None)  # type: ignore[arg-type,return-value]  # no lookups here
    assert router.teams_setting(lead(UserDetails={"Country": "Germany"})) == "TEAMS_WEBHOOK_DACH"
    assert router.teams_setting(lead(UserDetails={"Country": "France"})) == ""


@pytest.mark.parametrize("value", [URL, "teams-dach", 42])
def test_a_url_or_a_malformed_name_is_refused_naming_the_rule(value: object) -> None:
    text = DACH.replace('"TEAMS_WEBHOOK_DACH"', repr(value) if isinstance(value, int) else f'"{value}"')
    [problem] = problems(text)
    assert problem.startswith("rule 1 (DACH): teams:") and "secret" in problem and "S3CRET" not in problem


def test_the_named_setting_must_hold_a_workflows_url(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text(DACH, encoding="utf-8")
    env = {"LEAD_ROUTING_FILE": str(path)}
    with pytest.raises(SettingsError, match="TEAMS_WEBHOOK_DACH is not set"):
        load_routing(env)
    with pytest.raises(SettingsError, match=r"TEAMS_WEBHOOK_DACH .*not a Teams Workflows host") as raised:
        load_routing(env | {"TEAMS_WEBHOOK_DACH": "https://evil.example/triggers/x?sig=S3CRET"})
    assert "S3CRET" not in str(raised.value)
    assert load_routing(env | {"TEAMS_WEBHOOK_DACH": URL}).rules is not None
