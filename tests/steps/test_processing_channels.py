"""Mail and Teams as two channels of one lead: each gets each message once, a failure of one never makes the
other send twice, and Dynamics is written once whatever happens. In-memory doubles (tests/doubles.py)."""

from __future__ import annotations

from typing import Any

import pytest

from leads.core import lead_row
from leads.core.clock import now
from leads.core.errors import (
    DataverseRejected,
    DataverseUnavailable,
    DeliveryFailed,
    MailRefused,
    MailUnavailable,
    TeamsRefused,
    TeamsUnavailable,
)
from leads.core.payload import parse_lead
from leads.settings import SettingsError, load_dynamics
from leads.steps.processing import LeadProcessor
from tests.doubles import MemoryLeadStore, RecordingChannel, RecordingCrm, RecordingMailer
from tests.leadsamples import marketplace_lead
from tests.steps.test_processing_states import DYNAMICS


class World:
    def __init__(self) -> None:
        self.store, self.crm, self.mailer, self.channel = (
            MemoryLeadStore(),
            RecordingCrm(),
            RecordingMailer(),
            RecordingChannel(),
        )
        self.asked: list[str] = []  # the app settings the processor asked a channel for

    def processor(self) -> LeadProcessor:
        dynamics = load_dynamics(DYNAMICS)

        def teams(setting: str) -> RecordingChannel:
            self.asked.append(setting)
            return self.channel

        return LeadProcessor(self.store, lambda: dynamics, lambda: self.crm, lambda: self.mailer, teams=teams)

    def lead(self) -> str:
        lead = parse_lead(marketplace_lead())
        assert self.store.insert(lead_row.new_entity(lead, now()))
        return lead.lead_id

    def row(self, lead_id: str) -> dict[str, Any]:
        found = self.store.get(lead_id)
        assert found is not None
        return found

    def replay(self, lead_id: str) -> None:
        self.store.update(lead_id, lead_row.replayed(self.row(lead_id), now()) or {})
        self.processor().process(lead_id)


@pytest.fixture
def world() -> World:
    return World()


def test_each_channel_gets_the_lead_once(world: World) -> None:
    lead_id = world.lead()
    world.processor().process(lead_id)
    world.processor().process(lead_id)  # a redelivery
    done = world.row(lead_id)
    assert done["Status"] == "done" and done["NotifiedAt"] and done["TeamsNotifiedAt"]
    assert len(world.mailer.sent) == 1 and len(world.channel.cards) == 1 and world.crm.calls == 1
    assert world.asked == [""]  # no routing: the default channel (TEAMS_WEBHOOK_URL)
    # insert, one claim for both channels, the mail recorded as soon as it went out, the card with the final state
    assert world.store.writes == 4


def test_a_deleted_workflow_fails_the_lead_and_replay_posts_only_the_card(world: World) -> None:
    lead_id = world.lead()
    world.channel.fail = TeamsRefused("the Teams webhook answered HTTP 404 WorkflowNotFound: the workflow was deleted")
    world.processor().process(lead_id)
    failed = world.row(lead_id)
    assert failed["Status"] == "failed" and failed["LastError"].startswith("teams: ")
    assert failed["NotifiedAt"] and not failed.get("TeamsNotifiedAt") and failed["DynamicsLeadId"]
    world.channel.fail = None
    assert [mail.subject.split(":")[0] for mail in world.mailer.sent][1].endswith("could not be delivered")
    world.replay(lead_id)
    assert world.row(lead_id)["Status"] == "done"
    # The card once; the mail: the lead and the alert about the broken channel, neither again; Dynamics once.
    assert len(world.channel.cards) == 1 and len(world.mailer.sent) == 2 and world.crm.calls == 1


def test_teams_busy_is_retried_later_without_a_second_mail(world: World) -> None:
    lead_id = world.lead()
    world.channel.fail = TeamsUnavailable("the Teams webhook answered HTTP 503")
    with pytest.raises(DeliveryFailed, match="TeamsUnavailable"):
        world.processor().process(lead_id)
    kept = world.row(lead_id)
    assert kept["Status"] == "received" and kept["NotifiedAt"] and not kept["MailClaim"]
    world.channel.fail = None
    world.processor().process(lead_id)  # the queue's next delivery
    assert world.row(lead_id)["Status"] == "done"
    assert len(world.mailer.sent) == 1 and len(world.channel.cards) == 1


def test_a_mail_failure_does_not_repost_the_card(world: World) -> None:
    lead_id = world.lead()
    world.mailer.fail = MailRefused("Microsoft Graph refused to send (HTTP 403)")
    world.processor().process(lead_id)
    assert world.row(lead_id)["LastError"].startswith("mail: ")
    world.mailer.fail = None
    world.replay(lead_id)
    assert len(world.channel.cards) == 2 and len(world.mailer.sent) == 1  # the card and, in Teams, the mail's alert


def test_trouble_worth_retrying_wins_over_a_setting_that_is_wrong(world: World) -> None:
    lead_id = world.lead()
    world.mailer.fail = MailUnavailable("Graph answered 503")
    world.channel.fail = TeamsRefused("HTTP 404")
    with pytest.raises(
        DeliveryFailed, match="MailUnavailable"
    ):  # the queue tries again; the next delivery fails the lead for Teams
        world.processor().process(lead_id)
    world.mailer.fail = None
    world.processor().process(lead_id)
    assert world.row(lead_id)["Status"] == "failed" and world.row(lead_id)["LastError"].startswith("teams: ")
    assert len(world.mailer.sent) == 2  # the lead, then the alert about the broken Teams channel


def test_a_post_without_an_answer_is_not_posted_again(world: World) -> None:
    lead_id = world.lead()
    world.channel.confirm = False  # the webhook took the request and did not answer in time
    world.processor().process(lead_id)
    world.processor().process(lead_id)
    assert world.row(lead_id)["TeamsNotifiedAt"] and len(world.channel.cards) == 1


def test_a_failed_lead_alerts_both_channels_once(world: World) -> None:
    lead_id = world.lead()
    world.crm.fail = DataverseRejected(400, "0x80040203", "Invalid argument")
    world.processor().process(lead_id)
    world.processor().give_up(lead_id, "gave up")
    row = world.row(lead_id)
    assert row["AlertedAt"] and row["TeamsAlertedAt"]
    assert len(world.channel.cards) == 2 and len(world.mailer.sent) == 2
    alert = world.channel.cards[1]["attachments"][0]["content"]["body"][0]["text"]
    assert "not in Dynamics 365 yet" in alert


def test_teams_only_without_mail(world: World) -> None:
    lead_id = world.lead()
    dynamics = load_dynamics(DYNAMICS)
    processor = LeadProcessor(
        world.store, lambda: dynamics, lambda: world.crm, lambda: None, teams=lambda setting: world.channel
    )
    processor.process(lead_id)
    assert world.row(lead_id)["Status"] == "done" and len(world.channel.cards) == 1
    assert not world.row(lead_id).get("NotifiedAt")


def test_a_broken_channel_alerts_on_the_one_that_works(world: World) -> None:
    lead_id = world.lead()
    world.channel.fail = TeamsRefused("the Teams webhook answered HTTP 404 WorkflowNotFound")
    world.processor().process(lead_id)
    row = world.row(lead_id)
    assert row["Status"] == "failed" and row["NotifiedAt"] and row["AlertedAt"] and not row.get("TeamsAlertedAt")
    _, alert = world.mailer.sent
    assert "could not be delivered" in alert.subject and "WorkflowNotFound" in alert.text


def test_the_alert_elsewhere_says_the_lead_is_in_dynamics_when_only_a_channel_failed(world: World) -> None:
    lead_id = world.lead()
    world.mailer.fail = MailRefused("Microsoft Graph refused to send (HTTP 403): grant Mail.Send")
    world.processor().process(lead_id)
    assert world.row(lead_id)["Status"] == "failed" and world.row(lead_id)["TeamsAlertedAt"]
    alert = world.channel.cards[1]["attachments"][0]["content"]
    assert "is in Dynamics 365" in alert["body"][0]["text"]
    assert [action["title"] for action in alert.get("actions", [])] == ["Open the lead in Dynamics 365"]


def test_a_malformed_teams_url_fails_that_channel_only(world: World) -> None:
    lead_id = world.lead()
    dynamics = load_dynamics(DYNAMICS)

    def teams(setting: str) -> RecordingChannel:
        raise SettingsError(["TEAMS_WEBHOOK_URL is not an https:// URL"])

    processor = LeadProcessor(world.store, lambda: dynamics, lambda: world.crm, lambda: world.mailer, teams=teams)
    processor.process(lead_id)
    row = world.row(lead_id)
    assert row["Status"] == "failed" and row["LastError"].startswith("teams: TEAMS_WEBHOOK_URL")
    assert row["DynamicsLeadId"] and row["NotifiedAt"] and row["AlertedAt"]
    assert world.crm.calls == 1 and len(world.mailer.sent) == 2


def test_an_error_to_retry_is_kept_without_the_contact_details(world: World) -> None:
    lead_id = world.lead()
    world.crm.fail = DataverseUnavailable(503, "", "busy; the record for ada@contoso.example (Ada Lovelace) waits")
    with pytest.raises(DeliveryFailed, match="DataverseUnavailable"):
        world.processor().process(lead_id)
    error = world.row(lead_id)["LastError"]
    assert error.startswith("DataverseUnavailable: 503") and "ada@contoso.example" not in error
    assert "Lovelace" not in error
