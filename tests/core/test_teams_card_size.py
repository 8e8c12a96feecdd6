"""A card with every value at its cap stays under the Workflows message limit (about 28 KB, REFERENCE §9.1) in any
alphabet: posted through the app's webhook client to the Workflows stand-in, which refuses larger messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.standins.workflows import MAX_MESSAGE_BYTES, WorkflowsStandIn
from leads.adapters.teams import TeamsWebhook, teams_session
from leads.core import campaign
from leads.core.messages import DynamicsState
from leads.core.payload import parse_lead
from leads.core.teams_card import failure_card, lead_card
from tests.leadsamples import marketplace_lead

RECEIVED = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
LINK = (
    "https://contoso.crm4.dynamics.com/main.aspx?etn=lead&pagetype=entityrecord&id=0b9e5c1a-0000-0000-0000-000000000000"
)
# What costs most once JSON-encoded: a character outside the BMP (12 bytes as a surrogate pair of \\uXXXX), a
# backslash before punctuation (escaped, and a word joiner after it), a star (escaped), a quote, CJK.
ALPHABETS = {
    "emoji": "\U0001f600",
    "backslash": "\\*",
    "star": "*",
    "quote": '"',
    "cjk": "名",
    "ascii": "x",
}


def longest_lead(unit: str) -> dict[str, Any]:
    """Every value far beyond its cap, campaign parameters at theirs too."""
    value = unit * 3000
    parameters = dict.fromkeys(campaign.COLUMNS, unit * 500)
    return marketplace_lead(
        UserDetails=dict.fromkeys(("FirstName", "LastName", "Email", "Phone", "Country", "Company", "Title"), value),
        LeadSource=f"{value}-{value}|{value}",
        ActionCode=value,
        OfferTitle=value,
        Description=value + "\n" + json.dumps(parameters),
    )


def cards(unit: str) -> list[dict[str, Any]]:
    lead = parse_lead(longest_lead(unit))
    found = campaign.summary(lead.campaign_parameters)
    return [
        lead_card(lead, RECEIVED, DynamicsState("created", link=LINK), found),
        lead_card(lead, RECEIVED, DynamicsState("failed", error="x" * 2000), found),
        failure_card("18b723f1031366536a30ca625b3ebcaa", lead, RECEIVED, DynamicsState("created", link=LINK)),
    ]


@pytest.fixture(scope="module")
def workflows() -> Iterator[WorkflowsStandIn]:
    with WorkflowsStandIn() as running:
        yield running


@pytest.mark.parametrize("alphabet", sorted(ALPHABETS))
def test_every_value_at_its_cap_fits_the_workflows_limit(alphabet: str, workflows: WorkflowsStandIn) -> None:
    url = workflows.add_workflow()
    for message in cards(ALPHABETS[alphabet]):
        size = len(json.dumps(message).encode("utf-8"))  # as requests encodes json=
        assert size <= 24 * 1024 < MAX_MESSAGE_BYTES, size
        assert TeamsWebhook(url, teams_session()).post(message) is True
    assert workflows.rejected == []
