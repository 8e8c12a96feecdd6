"""Posting each lead to a Teams channel through a Workflows webhook ("When a Teams webhook request is received").

``TEAMS_WEBHOOK_URL`` is the default channel; a routing rule may name another app setting holding its own
channel's URL (``teams = "TEAMS_WEBHOOK_DACH"``). Every such URL is a secret (leads/core/webhooks.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from leads.core.urls import AddressProblem
from leads.core.webhooks import parse_webhook
from leads.settings.reader import Reader

DEFAULT_SETTING = "TEAMS_WEBHOOK_URL"


@dataclass(frozen=True)
class TeamsSettings:
    # "" when no default channel is set (routing rules may name their own). A secret: kept out of repr().
    webhook_url: str = field(repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url)


def load_teams(env: Mapping[str, str] | None = None, setting: str = DEFAULT_SETTING) -> TeamsSettings:
    """The channel the app setting ``setting`` names ("" in it: no Teams card for those leads)."""
    read = Reader(env)
    url = read.text(setting)
    if url:
        try:
            url = parse_webhook(url).url  # rebuilt from the parts checked: the host checked is the host posted to
        except AddressProblem as exc:
            read.problem(setting, str(exc))
    read.done()
    return TeamsSettings(webhook_url=url)
