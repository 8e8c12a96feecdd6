"""TEAMS_WEBHOOK_URL: the Workflows hosts, and a secret that is never printed."""

from __future__ import annotations

import pytest

from leads.core.webhooks import masked
from leads.settings import SettingsError
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
        ("https://contoso.webhook.office.com/webhookb2/x?sig=SECRETSIGNATURE", "not a Teams Workflows host"),
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
