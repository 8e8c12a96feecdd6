"""Teams beside the mail, end to end: the queue function, Azurite, and the Entra ID, Dataverse, Graph and
Workflows stand-ins over real sockets; then `check` and `replay` as an operator runs them."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from devtools.standins import StandIns
from leads import runtime
from leads.ops import check, replay
from tests.leadsamples import marketplace_lead
from tests.steps.test_processing import dataverse_creates, entity, message, post, process


@pytest.fixture
def teams_env(app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TEAMS_WEBHOOK_URL", standins.teams_webhook_url)
    runtime.reset()
    yield standins.teams_webhook_url
    runtime.reset()


def test_each_lead_reaches_dynamics_the_mail_and_the_channel_once(teams_env: str, standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    process(message(lead_id, dequeue_count=2))  # a redelivery
    row = entity(lead_id)
    assert row["Status"] == "done" and row["NotifiedAt"] and row["TeamsNotifiedAt"]
    [card] = standins.workflows.cards
    assert standins.workflows.rejected == []  # Teams would render it
    assert card["attachments"][0]["content"]["actions"][0]["url"].endswith(row["DynamicsLeadId"])
    assert len(standins.graph.messages) == 1 and len(dataverse_creates(standins)) == 1


def test_a_deleted_workflow_fails_the_lead_until_replayed(
    teams_env: str, standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    standins.workflows.delete_workflow(teams_env)
    lead_id = post(marketplace_lead())
    process(message(lead_id))  # completes: retrying cannot help until the webhook is fixed
    row = entity(lead_id)
    assert (
        row["Status"] == "failed" and row["LastError"].startswith("teams: ") and "WorkflowNotFound" in row["LastError"]
    )
    assert "sig=" not in row["LastError"]
    _, alert = standins.graph.messages  # the lead, and the alert about the channel (it cannot go to Teams)
    assert "could not be delivered" in alert.subject and "WorkflowNotFound" in alert.content
    assert "sig=" not in alert.content

    monkeypatch.setenv("TEAMS_WEBHOOK_URL", standins.workflows.add_workflow())  # the publisher makes a new one
    runtime.reset()
    out = io.StringIO()
    assert replay.replay(runtime.lead_table(), runtime.lead_queue(), [], ["failed"], out) == 0
    process(message(lead_id, dequeue_count=1))
    assert entity(lead_id)["Status"] == "done"
    assert len(standins.workflows.cards) == 1
    assert len(standins.graph.messages) == 2 and len(dataverse_creates(standins)) == 1  # nothing sent twice


def test_throttling_waits_and_posts_once(teams_env: str, standins: StandIns) -> None:
    standins.workflows.fail_next(429, retry_after=1)
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    assert entity(lead_id)["Status"] == "done" and len(standins.workflows.cards) == 1


def test_teams_only_is_a_valid_setup(teams_env: str, standins: StandIns, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_TRANSPORT", "none")
    runtime.reset()
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    assert entity(lead_id)["Status"] == "done" and len(standins.workflows.cards) == 1
    assert standins.graph.messages == []


def test_check_masks_the_url_and_posts_a_test_card_only_when_asked(teams_env: str, standins: StandIns) -> None:
    out = io.StringIO()
    assert check.check(out=out) == 0, out.getvalue()
    text = out.getvalue()
    assert "✓ Teams (TEAMS_WEBHOOK_URL)" in text and "signature hidden" in text
    assert teams_env.split("sig=")[1] not in text and standins.workflows.cards == []
    out = io.StringIO()
    assert check.check(out=out, teams_test_card=True) == 0, out.getvalue()
    assert "accepted a test card" in out.getvalue() and len(standins.workflows.cards) == 1


def test_check_explains_a_deleted_workflow(teams_env: str, standins: StandIns) -> None:
    standins.workflows.delete_workflow(teams_env)
    out = io.StringIO()
    assert check.check(out=out, teams_test_card=True) == 1
    assert "✗ Teams (TEAMS_WEBHOOK_URL)" in out.getvalue() and "deleted" in out.getvalue()


def test_a_gateway_error_counts_as_posted_and_the_card_is_never_sent_twice(teams_env: str, standins: StandIns) -> None:
    standins.workflows.fail_next(502)  # a gateway may answer so after the run was queued: the outcome is unknown
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    process(message(lead_id, dequeue_count=2))  # a redelivery
    row = entity(lead_id)
    assert row["Status"] == "done" and row["TeamsNotifiedAt"]
    assert [r.method for r in standins.workflows.requests] == ["POST"]  # one attempt, never repeated
    assert len(standins.graph.messages) == 1


def test_check_says_a_gateway_error_gave_no_clear_answer(teams_env: str, standins: StandIns) -> None:
    standins.workflows.fail_next(504)
    out = io.StringIO()
    assert check.check(out=out, teams_test_card=True) == 1
    assert "✗ Teams (TEAMS_WEBHOOK_URL)" in out.getvalue() and "gave no clear answer" in out.getvalue()
