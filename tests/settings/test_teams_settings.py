"""TEAMS_WEBHOOK_URL (and a routing rule's channel setting): the Workflows hosts, the URL read as the HTTP client
reads it, retired connector URLs, and a secret that is never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from leads.core.webhooks import masked
from leads.settings import SettingsError, load_routing
from leads.settings.teams import load_teams

CURRENT = (
    "https://default0123456789abcdef0123456789abcd.ef.environment.api.powerplatform.com:443/powerautomate/"
    "automations/direct/workflows/0123abcd/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual"
    "%2Frun&sv=1.0&sig=SECRETSIGNATURE"
)
LEGACY = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/0123abcd/triggers/manual/paths/invoke"
    "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SECRETSIGNATURE"
)


@pytest.mark.parametrize("url", [CURRENT, LEGACY, "http://127.0.0.1:8080/powerautomate/x/triggers/manual?sig=s"])
def test_workflows_urls_are_accepted(url: str) -> None:
    assert load_teams({"TEAMS_WEBHOOK_URL": url}).enabled


def test_no_url_means_no_teams() -> None:
    assert not load_teams({}).enabled


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://prod-1.westeurope.logic.azure.com/workflows/x/triggers/manual?sig=SECRETSIGNATURE", "https://"),
        ("https://evil.example/workflows/x/triggers/manual?sig=SECRETSIGNATURE", "not a Teams Workflows host"),
        ("https://evil.example\\@x.environment.api.powerplatform.com/triggers/x?sig=SECRETSIGNATURE", "backslash"),
        ("https://x.environment.api.powerplatform.com@evil.example/triggers/x?sig=SECRETSIGNATURE", "user name"),
        ("https://x.environment.api.powerplatform.com\t/triggers/x?sig=SECRETSIGNATURE", "line break"),
        (CURRENT.split("&sig=")[0], "signature is missing"),
    ],
)
def test_other_urls_are_refused_with_the_way_to_get_one_and_without_the_secret(url: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says) as raised:
        load_teams({"TEAMS_WEBHOOK_URL": url})
    assert "TEAMS_WEBHOOK_URL" in str(raised.value) and "Workflows" in str(raised.value)
    assert "SECRETSIGNATURE" not in str(raised.value)


def test_masked_shows_where_it_points_only() -> None:
    assert masked(CURRENT) == (
        "https://default0123456789abcdef0123456789abcd.ef.environment.api.powerplatform.com:443/…(signature hidden)"
    )
    assert "SECRET" not in masked(LEGACY)


CONNECTORS = [
    "https://contoso.webhook.office.com/webhookb2/0123abcd-0000-4000-8000-000000000000@00000000-0000-4000-8000-"
    "000000000001/IncomingWebhook/SECRETSIGNATURE/0123abcd-0000-4000-8000-000000000002",
    "https://outlook.office.com/webhook/0123abcd@00000000/IncomingWebhook/SECRETSIGNATURE/0123abcd",
    "https://outlook.office365.com/webhook/0123abcd@00000000/IncomingWebhook/SECRETSIGNATURE/0123abcd",
]


@pytest.mark.parametrize("url", CONNECTORS)
def test_a_retired_connector_url_says_so_and_how_to_create_the_workflow(url: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_teams({"TEAMS_WEBHOOK_URL": url})
    text = str(raised.value)
    assert "TEAMS_WEBHOOK_URL is an Office 365 connector" in text and "retired" in text
    assert "Workflows → 'Post to a channel when a webhook request is received'" in text
    assert "SECRETSIGNATURE" not in text


def test_a_rule_channel_holding_a_connector_url_is_told_the_same(tmp_path: Path) -> None:
    rules = tmp_path / "routing.toml"
    rules.write_text('[[rules]]\nname = "DACH"\nteams = "TEAMS_WEBHOOK_DACH"\n', encoding="utf-8")
    with pytest.raises(SettingsError) as raised:
        load_routing({"LEAD_ROUTING_FILE": str(rules), "TEAMS_WEBHOOK_DACH": CONNECTORS[0]})
    assert "TEAMS_WEBHOOK_DACH (routing.toml" in str(raised.value) and "retired" in str(raised.value)
    assert "SECRETSIGNATURE" not in str(raised.value)


def test_workflows_urls_longer_than_255_characters_are_kept_whole() -> None:
    long_url = CURRENT.replace("sig=SECRETSIGNATURE", "sig=" + "S" * 43) + "&extra=" + "x" * 80
    assert len(long_url) > 255 + 80
    assert load_teams({"TEAMS_WEBHOOK_URL": long_url}).webhook_url == long_url


def test_the_url_kept_is_rebuilt_from_what_was_checked() -> None:
    typed = CURRENT.replace("https://default", "HTTPS://Default").replace("%2Frun", "%2frun")
    assert load_teams({"TEAMS_WEBHOOK_URL": typed}).webhook_url == CURRENT


def test_repr_never_shows_the_url() -> None:
    settings = load_teams({"TEAMS_WEBHOOK_URL": CURRENT})
    assert "SECRETSIGNATURE" not in repr(settings) and "SECRETSIGNATURE" not in str(settings)
