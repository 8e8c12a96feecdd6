"""`check`'s Teams part: every channel the settings and the routing rules name, its URL's shape and host, and
(only when asked: it shows in the channel) a test card posted to each. The URLs are secrets: never printed."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from leads.adapters.teams import TeamsWebhook, teams_session
from leads.core.errors import TeamsError
from leads.core.teams_card import probe_card
from leads.core.webhooks import HOW_TO, LEGACY_HOST_SUFFIX, masked
from leads.settings import SettingsError
from leads.settings.routing import load_routing
from leads.settings.teams import DEFAULT_SETTING, load_teams

Report = Callable[[bool | None, str, str], None]


def check_teams(env: Mapping[str, str] | None, post_card: bool, report: Report) -> None:
    settings = [DEFAULT_SETTING, *_rule_settings(env)]
    configured = 0
    for setting in dict.fromkeys(settings):
        try:
            url = load_teams(env, setting).webhook_url
        except SettingsError as exc:
            report(False, f"Teams ({setting})", "; ".join(exc.problems))
            continue
        if not url:
            if setting != DEFAULT_SETTING:
                report(False, f"Teams ({setting})", f"is empty, and a routing rule posts to it: {HOW_TO}")
            continue
        configured += 1
        _check_channel(setting, url, post_card, report)
    if not configured:
        report(None, "Teams", f"{DEFAULT_SETTING} is empty: no Teams cards (set it to post each lead to a channel)")


def _check_channel(setting: str, url: str, post_card: bool, report: Report) -> None:
    name = f"Teams ({setting})"
    if LEGACY_HOST_SUFFIX in masked(url):
        report(
            False,
            name,
            f"{masked(url)} is an old Logic Apps webhook URL, which Microsoft stopped serving at "
            f"the end of November 2025: create the workflow again ({HOW_TO})",
        )
        return
    if not post_card:
        report(True, name, f"{masked(url)} is a Workflows webhook URL (add --teams-test-card to post a test card)")
        return
    try:
        confirmed = TeamsWebhook(url, teams_session()).post(probe_card(setting))
    except TeamsError as exc:
        report(False, name, str(exc))
        return
    said = (
        "accepted a test card: look for it in the channel"
        if confirmed
        else "gave no clear answer (none in time, or a server error): look in the channel, and try again later"
    )
    report(confirmed, name, f"{masked(url)} {said}")


def _rule_settings(env: Mapping[str, str] | None) -> list[str]:
    """The app settings the routing rules name for their channels ([] without rules or with broken ones: the
    routing check reports those)."""
    try:
        rules = load_routing(env).rules
    except SettingsError:
        return []
    return [rule.teams for rule in rules.rules if rule.teams] if rules is not None else []
