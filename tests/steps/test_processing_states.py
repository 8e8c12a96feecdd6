"""The lead's state machine and the mail claim, fast: in-memory doubles with the table's ETag semantics
(tests/doubles.py). The same behaviour through Azurite and the stand-ins is in test_processing.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from leads.core import lead_row
from leads.core.clock import now
from leads.core.errors import (
    ClaimBusy,
    DataverseRejected,
    DataverseUnavailable,
    DeliveryFailed,
    LeadChanged,
    MailRefused,
    MailUnavailable,
)
from leads.core.payload import parse_lead
from leads.settings import load_dynamics
from leads.steps.notify import CLAIM, CLAIM_TIMEOUT
from leads.steps.processing import LeadProcessor
from tests.doubles import MemoryLeadStore, RecordingCrm, RecordingMailer
from tests.leadsamples import marketplace_lead

DYNAMICS = {
    "DYNAMICS_URL": "https://contoso.crm4.dynamics.com",
    "AZURE_TENANT_ID": "tenant",
    "AZURE_CLIENT_ID": "client",
    "AZURE_CLIENT_SECRET": "secret",
}


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 30, 12, 0, tzinfo=now().tzinfo)

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def world() -> tuple[MemoryLeadStore, RecordingCrm, RecordingMailer, Clock]:
    return MemoryLeadStore(), RecordingCrm(), RecordingMailer(), Clock()


def processor(world: Any, enabled: bool = True, mail: bool = True) -> LeadProcessor:
    store, crm, mailer, clock = world
    dynamics = load_dynamics(DYNAMICS | {"DYNAMICS_ENABLED": "true" if enabled else "false"})
    return LeadProcessor(store, lambda: dynamics, lambda: crm, lambda: mailer if mail else None, clock)


def stored(world: Any, **extra: Any) -> str:
    store, _, _, clock = world
    lead = parse_lead(marketplace_lead())
    assert store.insert(lead_row.new_entity(lead, clock()) | extra)
    return lead.lead_id


def row(world: Any, lead_id: str) -> dict[str, Any]:
    found: dict[str, Any] | None = world[0].get(lead_id)
    assert found is not None
    return found


def test_the_double_refuses_a_second_insert_and_a_stale_etag(world: Any) -> None:
    store = world[0]
    lead_id = stored(world)
    assert not store.insert(lead_row.new_entity(parse_lead(marketplace_lead()), now()))
    etag = row(world, lead_id)["_etag"]
    store.update(lead_id, {"Status": "held"}, etag=etag)
    with pytest.raises(LeadChanged):
        store.update(lead_id, {"Status": "done"}, etag=etag)
    assert row(world, lead_id)["Status"] == "held"


def test_a_lead_goes_to_dynamics_then_mail_then_done(world: Any) -> None:
    lead_id = stored(world)
    processor(world).process(lead_id)
    done = row(world, lead_id)
    assert done["Status"] == "done" and done["DynamicsLeadId"] and done["NotifiedAt"] and not done[CLAIM]
    assert world[1].calls == 1 and len(world[2].sent) == 1
    assert world[0].writes == 3  # insert, the claim (with DynamicsLeadId), the final state


def test_the_dynamics_time_is_written_with_the_dynamics_id_and_kept_on_redelivery(world: Any) -> None:
    _, _, mailer, clock = world
    lead_id = stored(world)
    in_dynamics = clock.moment
    mailer.fail = MailUnavailable("Graph: 503")
    with pytest.raises(DeliveryFailed, match="MailUnavailable"):
        processor(world).process(lead_id)
    first = row(world, lead_id)
    assert first["DynamicsLeadId"] and first["DynamicsAt"] == in_dynamics and "NotifiedAt" not in first
    clock.moment += timedelta(seconds=30)
    mailer.fail = None
    processor(world).process(lead_id)
    done = row(world, lead_id)
    assert (done["DynamicsAt"], done["NotifiedAt"]) == (in_dynamics, clock.moment)  # speed to lead: 0 s and 30 s


def test_a_redelivered_message_changes_nothing(world: Any) -> None:
    lead_id = stored(world)
    processor(world).process(lead_id)
    processor(world).process(lead_id)
    assert world[1].calls == 1 and len(world[2].sent) == 1


def test_held_when_dynamics_is_off_and_the_mail_still_goes(world: Any) -> None:
    lead_id = stored(world)
    processor(world, enabled=False).process(lead_id)
    assert row(world, lead_id)["Status"] == "held"
    assert world[1].calls == 0 and len(world[2].sent) == 1


def test_try_again_later_raises_and_keeps_the_reason(world: Any) -> None:
    lead_id = stored(world)
    world[1].fail = DataverseUnavailable(503, "", "Service Unavailable")
    with pytest.raises(DeliveryFailed, match="DataverseUnavailable"):
        processor(world).process(lead_id)
    kept = row(world, lead_id)
    assert kept["Status"] == "received" and kept["LastError"].startswith("DataverseUnavailable: 503")
    assert world[2].sent == []  # the mail waits for the delivery that reaches Dynamics


def test_retry_cannot_help_fails_the_lead_and_alerts(world: Any) -> None:
    lead_id = stored(world)
    world[1].fail = DataverseRejected(400, "0x80040203", "Invalid argument")
    processor(world).process(lead_id)
    failed = row(world, lead_id)
    assert failed["Status"] == "failed" and "0x80040203" in failed["LastError"]
    assert failed["NotifiedAt"] and failed["AlertedAt"]
    notification, alert = world[2].sent
    assert notification.subject.startswith("New marketplace lead") and "could not be delivered" in alert.subject


def test_a_wrong_mail_setting_fails_the_lead_without_a_second_dynamics_write(world: Any) -> None:
    lead_id = stored(world)
    world[2].fail = MailRefused("Microsoft Graph refused to send (HTTP 403): grant Mail.Send")
    processor(world).process(lead_id)
    failed = row(world, lead_id)
    assert failed["Status"] == "failed" and failed["LastError"].startswith("mail: ")
    assert failed["DynamicsLeadId"] and not failed[CLAIM]
    world[2].fail = None
    world[0].update(lead_id, lead_row.replayed(failed, now()) or {})
    processor(world).process(lead_id)
    assert row(world, lead_id)["Status"] == "done"
    assert world[1].calls == 1 and len(world[2].sent) == 1


def test_a_live_claim_of_another_worker_defers(world: Any) -> None:
    lead_id = stored(world, **{CLAIM: "other", f"{CLAIM}At": Clock()()})
    with pytest.raises(ClaimBusy):
        processor(world).process(lead_id)
    assert world[2].sent == []


def test_a_claim_older_than_the_timeout_is_taken_over(world: Any) -> None:
    lead_id = stored(world, **{CLAIM: "dead", f"{CLAIM}At": Clock()() - CLAIM_TIMEOUT - timedelta(seconds=1)})
    processor(world).process(lead_id)
    assert row(world, lead_id)["Status"] == "done" and len(world[2].sent) == 1


def test_mail_sent_by_another_worker_meanwhile_is_not_sent_again(world: Any) -> None:
    """Our read of the entity goes stale while Dynamics is called: the claim's ETag check catches it."""
    store, crm, mailer, clock = world
    lead_id = stored(world)
    crm.during_create = lambda: store.update(lead_id, {"NotifiedAt": clock()})
    processor(world).process(lead_id)
    assert mailer.sent == []
    assert row(world, lead_id)["Status"] == "done"


def test_a_failed_send_records_what_went_out_and_releases_the_claim(world: Any) -> None:
    lead_id = stored(world)
    world[1].fail = DataverseRejected(400, "0x1", "bad")
    sent: list[Any] = []

    def send_once_then_fail(email: Any) -> None:
        if sent:
            raise DataverseUnavailable(None, "Timeout", "mail server slow")  # any TryAgainLater
        sent.append(email)

    world[2].send = send_once_then_fail
    with pytest.raises(DeliveryFailed, match="DataverseUnavailable"):
        processor(world).process(lead_id)
    kept = row(world, lead_id)
    assert kept["NotifiedAt"] and not kept.get("AlertedAt") and not kept[CLAIM]


def test_giving_up_leaves_a_live_claim_to_its_worker(world: Any) -> None:
    """A stale poison message must not fail a lead that another worker is sending right now, nor send it twice."""
    lead_id = stored(world, **{CLAIM: "live", f"{CLAIM}At": Clock()(), "LastError": "ClaimBusy: busy"})
    with pytest.raises(DeliveryFailed, match="another worker is sending"):  # the host tries it again later
        processor(world).give_up(lead_id, "gave up")
    kept = row(world, lead_id)
    assert kept["Status"] == "received" and kept[CLAIM] == "live" and world[2].sent == []


def test_giving_up_takes_over_an_expired_claim_and_sends_both_messages_once(world: Any) -> None:
    expired = Clock()() - CLAIM_TIMEOUT - timedelta(seconds=1)
    lead_id = stored(world, **{CLAIM: "dead", f"{CLAIM}At": expired, "LastError": "DataverseUnavailable: 503"})
    processor(world).give_up(lead_id, "gave up")
    processor(world).give_up(lead_id, "gave up")  # a second poison message
    failed = row(world, lead_id)
    assert failed["Status"] == "failed" and failed["LastError"] == "gave up; last error: DataverseUnavailable: 503"
    assert len(world[2].sent) == 2 and failed["NotifiedAt"] and failed["AlertedAt"] and not failed[CLAIM]


def test_replay_resets_a_failed_lead_and_leaves_a_done_one() -> None:
    at = now()
    assert lead_row.replayed({"Status": "done"}, at) is None
    changes = lead_row.replayed({"Status": "failed", "LastError": "x", "AlertedAt": at}, at)
    assert changes == {
        "Status": "received",
        "UpdatedAt": at,
        "AlertedAt": "",
        "TeamsAlertedAt": "",
        "LastError": "replayed after: x",
    }
