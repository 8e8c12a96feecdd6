"""The interleavings an independent review found (issue 22), each played out with the in-memory doubles: two
workers on one lead, a stale poison message, a storage blip after a send, a write whose answer was lost. The
stateful test (test_exactly_once.py) explores many more; these pin each defect down by name."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from leads.core import lead_row, personal
from leads.core.errors import DeliveryFailed, StorageUnavailable
from leads.ops.replay import replay
from leads.steps.intake import receive
from leads.steps.notify import CLAIM, CLAIM_TIMEOUT, RECORD_PATIENCE
from leads.steps.reconcile import reconcile
from tests.doubles import MemoryLeadStore, MemoryQueue, RecordingCrm, RecordingMailer
from tests.leadsamples import body, marketplace_lead
from tests.steps.test_processing_states import Clock, processor, row, stored


@pytest.fixture
def world() -> tuple[MemoryLeadStore, RecordingCrm, RecordingMailer, Clock]:
    return MemoryLeadStore(), RecordingCrm(), RecordingMailer(), Clock()


def sleeper(clock: Clock, slept: list[float]) -> Callable[[float], None]:
    """The processor's sleep, moving the test clock on: patience is measured in the clock's time."""

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.moment += timedelta(seconds=seconds)

    return sleep


class QueueDown:
    def send(self, text: str, delay_seconds: int = 0) -> None:
        raise StorageUnavailable("queue leads: ServiceRequestError")


def test_a_stale_poison_message_never_fails_or_remails_a_lead_finished_meanwhile(world: Any) -> None:
    store, _, mailer, _ = world
    lead_id = stored(world)
    # The poison handler reads the lead; before it writes, a live delivery (the reconcile's message) finishes it.
    store.after_get = lambda: processor(world).process(lead_id)
    processor(world).give_up(lead_id, "gave up")
    done = row(world, lead_id)
    assert done["Status"] == "done" and not done.get("AlertedAt") and not done["LastError"]
    assert [mail.subject.startswith("New marketplace lead") for mail in mailer.sent] == [True]


def test_a_stale_poison_message_leaves_a_lead_being_sent_to_its_worker(world: Any) -> None:
    _, _, mailer, _ = world
    lead_id = stored(world)
    poison_outcomes: list[str] = []

    def poison_message_arrives() -> None:  # while a live delivery is sending the mail
        try:
            processor(world).give_up(lead_id, "gave up")
        except DeliveryFailed as exc:  # the host tries the poison message again later
            poison_outcomes.append(str(exc))

    mailer.during_send = poison_message_arrives
    processor(world).process(lead_id)
    processor(world).give_up(lead_id, "gave up")  # the poison message again, once that delivery has finished
    done = row(world, lead_id)
    assert done["Status"] == "done" and not done.get("AlertedAt") and len(mailer.sent) == 1
    assert len(poison_outcomes) == 1 and "another worker is sending" in poison_outcomes[0]


def test_a_storage_blip_after_sending_is_recorded_patiently_and_the_mail_is_not_sent_again(world: Any) -> None:
    store, _, mailer, clock = world
    lead_id = stored(world)
    slept: list[float] = []

    def blip_after_the_send() -> None:
        store.unavailable = 3  # the record of the mail fails three times (each after the SDK's own retries)

    mailer.during_send = blip_after_the_send
    worker = processor(world)
    worker.sleep = sleeper(clock, slept)
    worker.process(lead_id)
    assert row(world, lead_id)["Status"] == "done" and slept == [1.0, 2.0, 4.0]
    clock.moment += CLAIM_TIMEOUT * 2
    processor(world).process(lead_id)  # a redelivery, long after
    assert len(mailer.sent) == 1


def test_storage_down_for_longer_than_the_patience_is_raised_and_the_claim_stays(world: Any) -> None:
    """What remains (README, Exactly once): the record could not be written at all, so the claim stays until it
    expires and the next delivery then sends the mail again, rather than never."""
    store, _, mailer, clock = world
    lead_id = stored(world)
    mailer.during_send = lambda: setattr(store, "unavailable", 1000)
    worker = processor(world)
    worker.sleep = sleeper(clock, [])
    started = clock.moment
    with pytest.raises(DeliveryFailed, match="StorageUnavailable"):
        worker.process(lead_id)
    assert RECORD_PATIENCE - timedelta(seconds=16) <= clock.moment - started <= RECORD_PATIENCE
    store.unavailable = 0
    kept = row(world, lead_id)
    assert kept["Status"] == "received" and kept[CLAIM] and "NotifiedAt" not in kept


def test_a_claim_that_went_through_but_whose_answer_was_lost_is_recognised_as_ours(world: Any) -> None:
    store, crm, mailer, _ = world
    lead_id = stored(world)
    crm.during_create = lambda: setattr(store, "answers_lost", 1)  # the claim, the next write, is answered 412
    processor(world).process(lead_id)
    assert row(world, lead_id)["Status"] == "done" and len(mailer.sent) == 1


def test_the_loser_of_a_claim_race_leaves_no_error_on_a_lead_finished_meanwhile(world: Any) -> None:
    store, crm, mailer, clock = world
    lead_id = stored(world, **{CLAIM: "winner", f"{CLAIM}At": Clock()()})  # the winner is sending

    def winner_finishes() -> None:
        store.update(lead_id, {"Status": "done", "NotifiedAt": clock(), CLAIM: "", "LastError": ""})

    crm.during_create = winner_finishes
    processor(world).process(lead_id)  # the loser read the lead while the winner held its claim
    done = row(world, lead_id)
    assert done["Status"] == "done" and done["LastError"] == "" and mailer.sent == []


def test_an_insert_whose_answer_was_lost_is_enqueued_and_answered_as_new(world: Any) -> None:
    store, _, _, clock = world
    queue = MemoryQueue()
    store.answers_lost = 1  # the insert went through; the SDK's retry met 409
    receipt = receive(body(marketplace_lead()), store, queue, clock())
    assert receipt.duplicate is False and queue.messages == [lead_row.queue_message(receipt.lead_id)]
    clock.moment += timedelta(seconds=5)
    again = receive(body(marketplace_lead()), store, queue, clock())  # the marketplace sends it again
    assert again.duplicate is True and len(queue.messages) == 1  # it is still waiting its turn: not enqueued twice


def test_a_repeat_of_a_lead_stranded_in_received_enqueues_it(world: Any) -> None:
    store, _, _, clock = world
    receipt = receive(body(marketplace_lead()), store, QueueDown(), clock())  # stored, not enqueued
    queue = MemoryQueue()
    clock.moment += timedelta(minutes=3)
    assert receive(body(marketplace_lead()), store, queue, clock()).duplicate is True
    assert queue.messages == [lead_row.queue_message(receipt.lead_id)]


def test_a_reconcile_claim_whose_answer_was_lost_still_enqueues(world: Any) -> None:
    store, _, _, clock = world
    lead_id = stored(world)
    store.update(lead_id, {"UpdatedAt": clock() - timedelta(hours=1)})
    queue = MemoryQueue()
    store.answers_lost = 1
    assert reconcile(store, queue, timedelta(minutes=10), clock) == [lead_id]
    assert queue.messages == [lead_row.queue_message(lead_id)]


def test_replay_never_sends_a_lead_finished_meanwhile_round_again(world: Any) -> None:
    store = world[0]
    lead_id = stored(world, Status="failed", LastError="DataverseRejected: 400")
    queue = MemoryQueue()
    # replay reads the failed lead; meanwhile a late delivery finishes it (done).
    store.after_get = lambda: store.update(lead_id, {"Status": "done", "LastError": ""})
    out = io.StringIO()
    replay(store, queue, [lead_id], [], out)
    assert row(world, lead_id)["Status"] == "done" and queue.messages == []
    assert "already done" in out.getvalue()


def test_the_lead_row_may_never_go_from_done_to_failed() -> None:
    assert not lead_row.may_become("done", lead_row.Status.FAILED)
    assert not lead_row.may_become("done", lead_row.Status.HELD)
    assert lead_row.may_become("failed", lead_row.Status.DONE)
    assert not lead_row.may_become("failed", lead_row.Status.HELD)
    assert lead_row.may_become("received", lead_row.Status.FAILED)


def test_a_delivery_that_used_its_time_budget_stops_before_the_next_send(world: Any) -> None:
    """The work left goes back to the queue: what was done is recorded, nothing is sent after the budget."""
    _, crm, mailer, _ = world
    lead_id = stored(world)
    crm.during_create = lambda: time.sleep(0.3)  # Dynamics took the whole budget
    worker = processor(world)
    worker.budget = 0.2
    with pytest.raises(DeliveryFailed, match="OutOfTime: the delivery used its time budget before sending"):
        worker.process(lead_id)
    kept = row(world, lead_id)
    assert kept["Status"] == "received" and kept["DynamicsLeadId"] and not kept[CLAIM] and mailer.sent == []
    processor(world).process(lead_id)  # the next delivery, with time to spare
    assert row(world, lead_id)["Status"] == "done" and len(mailer.sent) == 1 and crm.calls == 1


def test_a_lead_erased_while_a_worker_delivers_it_is_neither_told_nor_brought_back(world: Any) -> None:
    store, crm, mailer, clock = world
    lead_id = stored(world)

    def forget_meanwhile() -> None:  # `forget --apply` while the worker is creating the lead in Dynamics
        current = store.get(lead_id)
        assert current is not None
        store.replace(lead_id, personal.erased(current, clock()), current["_etag"])

    crm.during_create = forget_meanwhile
    processor(world).process(lead_id)
    kept = row(world, lead_id)
    assert kept["Status"] == "failed" and kept[lead_row.ERASED_AT] and mailer.sent == []
    assert "CustomerInfo" not in kept and lead_row.RAW_PAYLOAD_PROPERTY not in kept
