"""Posting to Teams through the Workflows stand-in over real sockets: 202, throttling, outages, a deleted
workflow, a wrong signature, and the answers whose outcome is unknown (a time-out, a gateway's 502/504), which
are never posted again."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from devtools.standins.workflows import WorkflowsStandIn
from leads.adapters.teams import TeamsWebhook, teams_session
from leads.core.errors import TeamsRefused, TeamsUnavailable
from leads.core.messages import DynamicsState
from leads.core.payload import parse_lead
from leads.core.teams_card import lead_card
from tests.leadsamples import marketplace_lead

CARD = lead_card(parse_lead(marketplace_lead()), datetime(2026, 11, 30, tzinfo=UTC), DynamicsState("held"))


@pytest.fixture
def workflows() -> Iterator[WorkflowsStandIn]:
    with WorkflowsStandIn() as running:
        yield running


def webhook(url: str, read_timeout: float = 5) -> TeamsWebhook:
    return TeamsWebhook(url, teams_session(), timeout=(2, read_timeout))


def posts(workflows: WorkflowsStandIn) -> int:
    return sum(1 for request in workflows.requests if request.method == "POST")


def test_a_card_is_accepted_and_rendered(workflows: WorkflowsStandIn) -> None:
    assert webhook(workflows.add_workflow()).post(CARD) is True
    assert workflows.cards == [CARD] and workflows.rejected == []


def test_throttling_waits_retry_after_then_posts_once(workflows: WorkflowsStandIn) -> None:
    workflows.fail_next(429, retry_after=1, times=2)
    assert webhook(workflows.add_workflow()).post(CARD) is True
    assert posts(workflows) == 3 and len(workflows.cards) == 1
    first, _, last = workflows.requests
    assert last.time - first.time >= 2  # two Retry-After waits of 1 s, measured on the stand-in's clock


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_that_a_gateway_may_send_after_queuing_the_run_is_not_posted_again(
    workflows: WorkflowsStandIn, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    workflows.fail_next(status, times=5)
    assert webhook(workflows.add_workflow()).post(CARD) is False  # unconfirmed: the caller records it as sent
    assert posts(workflows) == 1  # not repeated: the card may be in the channel already
    assert f"answered HTTP {status}" in caplog.text and "sig=" not in caplog.text


def test_a_503_with_retry_after_is_retried_because_nothing_was_posted(workflows: WorkflowsStandIn) -> None:
    workflows.fail_next(503, retry_after=1, times=2)
    assert webhook(workflows.add_workflow()).post(CARD) is True
    assert posts(workflows) == 3 and len(workflows.cards) == 1


def test_an_outage_that_lasts_is_try_again_later(workflows: WorkflowsStandIn) -> None:
    workflows.fail_next(503, retry_after=1, times=10)
    with pytest.raises(TeamsUnavailable, match="HTTP 503"):
        webhook(workflows.add_workflow()).post(CARD)
    assert workflows.cards == [] and posts(workflows) == 5  # the first try and four retries


def test_a_request_that_never_arrived_whole_is_try_again_later(workflows: WorkflowsStandIn) -> None:
    workflows.fail_next(408)
    with pytest.raises(TeamsUnavailable, match="HTTP 408"):
        webhook(workflows.add_workflow()).post(CARD)


def test_no_answer_in_time_is_not_posted_again(workflows: WorkflowsStandIn, caplog: pytest.LogCaptureFixture) -> None:
    url = workflows.add_workflow()
    workflows.fail_next(delay=1.5)  # answers 202, but after the client gave up
    assert webhook(url, read_timeout=0.5).post(CARD) is False
    assert workflows.wait_for(lambda: posts(workflows) == 1)
    assert posts(workflows) == 1  # not repeated: the card may be in the channel already
    assert "sig=" not in caplog.text


def test_a_deleted_workflow_is_permanent_with_advice_and_no_secret(workflows: WorkflowsStandIn) -> None:
    url = workflows.add_workflow()
    workflows.delete_workflow(url)
    with pytest.raises(TeamsRefused, match="WorkflowNotFound") as raised:
        webhook(url).post(CARD)
    assert "deleted" in str(raised.value) and "Workflows" in str(raised.value)
    signature = url.split("sig=")[1]
    assert signature not in str(raised.value) and "sig=" not in str(raised.value)


def test_a_wrong_signature_is_permanent(workflows: WorkflowsStandIn) -> None:
    url = workflows.add_workflow().split("sig=")[0] + "sig=wrong"
    with pytest.raises(TeamsRefused, match="signature"):
        webhook(url).post(CARD)


def test_an_unreachable_webhook_is_try_again_later(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with WorkflowsStandIn() as gone:
        url = gone.add_workflow()
    with pytest.raises(TeamsUnavailable, match="ConnectionError") as raised:
        webhook(url).post(CARD)
    assert "sig=" not in str(raised.value)


def test_the_stand_in_refuses_cards_teams_cannot_render(workflows: WorkflowsStandIn) -> None:
    bad = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "version": "2.0",
                    "body": [{"type": "Input.Text"}],
                    "actions": [{"type": "Action.Submit"}],
                },
            }
        ],
    }
    assert webhook(workflows.add_workflow()).post(bad) is True  # Workflows answers 202 all the same
    [rejected] = workflows.rejected
    assert len(rejected.problems) == 3 and workflows.cards == []
