"""Exactly once under every interleaving: a stateful test of one lead's life, explored by Hypothesis.

Deliveries of the lead's queue messages, the poison handler, the reconcile timer, `replay`, and the marketplace
sending the lead again run as actors (tests/interleavings.py) over the in-memory table, queue and recording
services; the schedule decides which actor takes its next step, which fault the next call to storage or a service
meets, when time passes and when an actor crashes. After the schedule, faults stop and the queue is worked off
(quiescence). Checked:

- at most one lead in Dynamics (creates are counted, not just ids);
- each message at most once per channel: the lead's mail and card once, each failure alert once per cause (a
  permanent refusal, a poison message), beyond the documented unknown outcomes (a send whose answer was lost, a
  crash between a send and its record);
- a lead that is done never becomes anything else (checked on every write);
- nothing unprocessed is lost: at quiescence the lead is done (in Dynamics, both channels told) or failed (the
  contacts told of the lead and of the failure, unless that channel's own setting was refused).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from leads.core import lead_row, mapping
from leads.core.errors import (
    DataverseRejected,
    DataverseUnavailable,
    LeadsError,
    MailRefused,
    MailUnavailable,
    StorageUnavailable,
    TeamsRefused,
    TeamsUnavailable,
)
from leads.core.lead_row import Status
from leads.core.payload import parse_lead
from leads.ops.replay import replay
from leads.settings import load_dynamics
from leads.steps.intake import receive
from leads.steps.notify import CLAIM_TIMEOUT
from leads.steps.processing import LeadProcessor
from leads.steps.reconcile import reconcile
from tests.doubles import MemoryLeadStore
from tests.interleavings import Actor, Resumption, Sent, checkpoint, current_actor, message_being_delivered
from tests.leadsamples import body, marketplace_lead
from tests.steps.test_processing_states import DYNAMICS

EXAMPLES = 300  # seeded (derandomize): the same schedules every run
DECISIONS = 60  # scheduling decisions per example before quiescence
VISIBILITY = timedelta(minutes=5)  # host.json visibilityTimeout: a failed delivery is retried after this
LOCK_LOST = timedelta(minutes=10)  # a crashed host's message becomes visible again after this
FUNCTION_TIMEOUT = timedelta(minutes=10)  # host.json functionTimeout: the host stops an invocation after this
MAX_DEQUEUE = 5
GRACE = timedelta(minutes=10)
FAULTS = {
    "read": ("", "unavailable"),
    "write": ("", "unavailable", "answer_lost"),
    "queue": ("", "unavailable"),
    "dynamics": ("", "unavailable", "unknown", "rejected"),
    "mail": ("", "unavailable", "unknown", "refused"),
    "teams": ("", "unavailable", "unknown", "refused"),
    "sleep": ("",),
}
RECORDS = ("NotifiedAt", "AlertedAt", "TeamsNotifiedAt", "TeamsAlertedAt")


@dataclass
class Message:
    text: str
    visible_at: datetime
    dequeues: int = 0
    poison: bool = False


class World:
    """The lead's world: virtual time, the table, the queues, the services, and what the invariants need."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        self.store = ScheduledStore(self)
        self.queue = ScheduledQueue(self)
        self.sent = Sent()
        self.creates = 0
        self.causes = {"AlertedAt": 0, "TeamsAlertedAt": 0}  # reasons to alert: permanent refusals, poison
        self.refused_channels: set[str] = set()
        self.violations: list[str] = []
        self.trace: list[str] = []  # what happened, shown when an invariant fails
        self.dynamics: dict[str, dict[str, Any]] = {}  # the Dynamics leads, by id
        self.faults_on = True
        self.poison_exhausted = False  # the poison handler's own message used up its attempts (storage kept failing)
        self.lead = parse_lead(marketplace_lead())
        dynamics = load_dynamics(DYNAMICS)
        self.processor = LeadProcessor(
            self.store,
            lambda: dynamics,
            lambda: Crm(self),
            lambda: Mailer(self),
            clock=self.clock,
            teams=lambda setting: Channel(self),
            sleep=self.sleep,
        )

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        checkpoint("sleep")
        self.now += timedelta(seconds=seconds)

    def fault(self, kind: str) -> str:
        fault = checkpoint(kind)
        actor = current_actor()
        self.trace.append(f"{self.now:%H:%M:%S} {actor.name if actor else 'test'} {kind} {fault}".rstrip())
        return fault

    def cause(self) -> None:
        for field in self.causes:
            self.causes[field] += 1

    def sent_now(self, kind: str) -> None:
        self.trace.append(f"{self.now:%H:%M:%S}   sent {kind}")
        self.sent.add(kind)
        if (actor := current_actor()) is not None:
            actor.unrecorded.add(kind)


class ScheduledStore(MemoryLeadStore):
    """The table, stopping at every call; a write may meet a fault; a done lead must stay done."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    def get(self, lead_id: str) -> dict[str, Any] | None:
        if self.world.fault("read") == "unavailable":
            raise StorageUnavailable("table leads: ServiceRequestError")
        return super().get(lead_id)

    def query(self, query_filter: str, parameters: dict[str, Any], select: list[str] | None = None) -> Any:
        if self.world.fault("read") == "unavailable":
            raise StorageUnavailable("table leads: ServiceRequestError")
        return iter(list(super().query(query_filter, parameters, select)))

    def insert(self, entity: dict[str, Any]) -> bool:
        self._play(self.world.fault("write"))
        return super().insert(entity)

    def update(self, lead_id: str, changes: dict[str, Any], etag: str | None = None) -> str:
        self._play(self.world.fault("write"))
        before = self.rows.get(lead_row.keys_for(lead_id), {}).get("Status")
        try:
            return super().update(lead_id, changes, etag)
        finally:
            after = self.rows.get(lead_row.keys_for(lead_id), {})
            self.world.trace.append(f"            wrote {sorted(changes)} → {after.get('Status')}")
            if before == Status.DONE and after.get("Status") != Status.DONE:
                self.world.violations.append(f"a done lead became {after.get('Status')}")
            if (actor := current_actor()) is not None:
                actor.unrecorded -= {field for field in RECORDS if after.get(field)}

    def _play(self, fault: str) -> None:
        if fault == "unavailable":
            self.unavailable = 1
        elif fault == "answer_lost":
            self.answers_lost = 1


class ScheduledQueue:
    def __init__(self, world: World) -> None:
        self.world = world
        self.messages: list[Message] = []

    def send(self, text: str, delay_seconds: int = 0) -> None:
        if self.world.fault("queue") == "unavailable":
            raise StorageUnavailable("queue leads: ServiceRequestError")
        self.messages.append(Message(text, self.world.now + timedelta(seconds=delay_seconds)))


class Crm:
    """Dataverse's create-if-absent (PATCH with If-None-Match: *), counting real creations."""

    def __init__(self, world: World) -> None:
        self.world = world

    def create_lead(self, lead_id: str, body: dict[str, Any]) -> bool:
        fault = self.world.fault("dynamics")
        if fault == "unavailable":
            raise DataverseUnavailable(503, "", "Service Unavailable")
        if fault == "rejected":
            self.world.cause()
            raise DataverseRejected(400, "0x80040203", "Invalid argument")
        created = lead_id not in self.world.dynamics
        if created:
            self.world.dynamics[lead_id] = body
            self.world.creates += 1
        if fault == "unknown":  # it went through; the answer did not come back
            raise DataverseUnavailable(None, "Timeout", "no answer in time")
        return created


class Mailer:
    def __init__(self, world: World) -> None:
        self.world = world

    def send(self, email: object) -> None:
        kind = message_being_delivered()
        fault = self.world.fault("mail")
        if fault == "unavailable":
            raise MailUnavailable("Graph answered 503")
        if fault == "refused":
            self.world.cause()
            self.world.refused_channels.add("mail")
            raise MailRefused("Graph answered 403: grant Mail.Send")
        self.world.sent_now(kind)
        if fault == "unknown":  # sent, but the answer was lost: the next delivery sends it again (documented)
            self.world.sent.allow_repeat(kind)
            raise MailUnavailable("Graph did not answer in time")

    def check(self) -> str:
        return "scheduled mailer"


class Channel:
    def __init__(self, world: World) -> None:
        self.world = world

    def post(self, message: dict[str, Any]) -> bool:
        kind = message_being_delivered()
        fault = self.world.fault("teams")
        if fault == "unavailable":
            raise TeamsUnavailable("the Teams webhook answered 429")
        if fault == "refused":
            self.world.cause()
            self.world.refused_channels.add("teams")
            raise TeamsRefused("the Teams webhook answered 404 WorkflowNotFound")
        self.world.sent_now(kind)
        return fault != "unknown"  # no answer in time: recorded as posted, never posted again


class Schedule:
    """Runs the actors as the drawn decisions say."""

    def __init__(self, world: World, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.world = world
        self.draw = draw
        self.actors: list[tuple[Actor, Message | None]] = []
        self.steps = 0

    # --- starting actors -----------------------------------------------------------------------------

    def deliver(self, message: Message) -> None:
        """The host receives a visible message: it runs the queue function (or moves it to the poison queue)."""
        message.dequeues += 1
        message.visible_at = self.world.now + FUNCTION_TIMEOUT  # leased while it runs
        if message.dequeues > MAX_DEQUEUE:  # a crash on the last attempt: the host moves it on when it comes back
            self.to_poison(message)
            return
        lead_id = lead_row.lead_id_from_message(message.text)
        if message.poison:
            body: Callable[[], object] = lambda: self.world.processor.give_up(lead_id, "gave up")  # noqa: E731
            self.world.cause()
        else:
            body = lambda: self.world.processor.process_message(message.text)  # noqa: E731
        self.start(Actor("poison" if message.poison else "delivery", body, self.world.now.timestamp()), message)

    def start(self, actor: Actor, message: Message | None = None) -> None:
        self.actors.append((actor, message))
        actor.name = f"{actor.name}#{len(self.world.trace)}"
        actor.start()
        self.settle(actor, message)

    def settle(self, actor: Actor, message: Message | None) -> None:
        """An actor that stopped for good: what the host does with its message."""
        if not actor.done:
            return
        if actor.error is not None and not isinstance(actor.error, LeadsError):
            self.world.violations.append(f"{actor.name} raised {actor.error!r}")
        if actor.error is not None and "StorageUnavailable" in str(actor.error):
            # Storage stayed down for longer than RECORD_PATIENCE after a send (documented): the claim expires, and
            # the next delivery sends that message again.
            for kind in actor.unrecorded:
                self.world.sent.allow_repeat(kind)
        self.world.trace.append(f"{self.world.now:%H:%M:%S} {actor.name} ended: {actor.error or actor.outcome!r}")
        self.actors.remove((actor, message))
        if message is None:
            return
        if actor.crashed:
            message.visible_at = self.world.now + LOCK_LOST
        elif actor.error is not None:
            message.visible_at = self.world.now + VISIBILITY
            if message.dequeues >= MAX_DEQUEUE:  # the host moves it to the poison queue after the last attempt
                self.to_poison(message)
        else:
            self.world.queue.messages.remove(message)

    def to_poison(self, message: Message) -> None:
        self.world.queue.messages.remove(message)
        if message.poison:  # leads-poison-poison is nobody's: what the poison handler had left to do stays undone
            self.world.poison_exhausted = True
        else:
            self.world.queue.messages.append(Message(message.text, self.world.now, poison=True))

    # --- one decision ---------------------------------------------------------------------------------

    def decide(self) -> None:
        self.steps += 1
        live = [actor for actor, _ in self.actors]
        visible = [m for m in self.world.queue.messages if m.visible_at <= self.world.now]
        # Weighted as a busy system is: mostly steps of running actors, sometimes a new one, rarely a crash.
        choices = ["step"] * 8 * bool(live) + ["deliver"] * 3 * bool(visible)
        choices += ["advance"] * 2 + ["reconcile", "repeat", "replay"] + ["crash"] * bool(live)
        choice = self.draw(st.sampled_from(choices))
        if choice == "step":
            self.step(self.draw(st.sampled_from(live)))
        elif choice == "deliver":
            self.deliver(self.draw(st.sampled_from(visible)))
        elif choice == "advance":
            self.advance(timedelta(seconds=self.draw(st.sampled_from((1, 5, 30, 120, 300, 660, 900)))))
        elif choice == "crash":
            self.crash(self.draw(st.sampled_from(live)))
        else:
            self.start(Actor(choice, self.operator(choice), self.world.now.timestamp()))

    def operator(self, name: str) -> Callable[[], object]:
        world = self.world
        if name == "reconcile":
            return lambda: reconcile(world.store, world.queue, GRACE, world.clock)
        if name == "repeat":
            return lambda: receive(body(marketplace_lead()), world.store, world.queue, world.now)
        return lambda: replay(world.store, world.queue, [world.lead.lead_id], [], io.StringIO(), world.clock)

    def fault_choices(self, actor: Actor) -> tuple[str, ...]:
        """The faults the call an actor stopped at may meet ("" none)."""
        return FAULTS[actor.kind]

    def step(self, actor: Actor, faults: bool = True) -> None:
        fault = self.draw(st.sampled_from(self.fault_choices(actor))) if faults and self.world.faults_on else ""
        actor.step(Resumption(fault=fault))
        self.settle(actor, self.message_of(actor))

    def crash(self, actor: Actor) -> None:
        for kind in actor.unrecorded:  # sent, never recorded: the next delivery sends it again (documented)
            self.world.sent.allow_repeat(kind)
        actor.finish_crashed()
        self.settle(actor, self.message_of(actor))

    def advance(self, by: timedelta) -> None:
        """Time passes; the host stops any invocation that would outlive functionTimeout."""
        for actor, _ in list(self.actors):
            if datetime.fromtimestamp(actor.started_at, UTC) + FUNCTION_TIMEOUT <= self.world.now + by:
                self.crash(actor)
        self.world.now += by

    def message_of(self, actor: Actor) -> Message | None:
        return next((message for running, message in self.actors if running is actor), None)

    # --- quiescence -----------------------------------------------------------------------------------

    settle_steps = 400  # enough for the world to settle once faults stop

    def next_in_turn(self) -> Actor:
        """While working off: the actor that takes the next step."""
        return self.actors[0][0]

    def waiting_in_received(self) -> bool:
        """A lead left `received` (only the reconcile brings it on)."""
        entity = self.world.store.get(self.world.lead.lead_id)
        return entity is not None and entity.get("Status") == Status.RECEIVED

    def work_off(self) -> None:
        """No more faults: run every actor to its end, deliver every message, let the reconcile find the rest."""
        self.world.faults_on = False
        for _ in range(self.settle_steps):
            if self.actors:
                self.step(self.next_in_turn(), faults=False)
                continue
            visible = [m for m in self.world.queue.messages if m.visible_at <= self.world.now]
            if visible:
                self.deliver(visible[0])
                continue
            if self.world.queue.messages:
                self.world.now = min(m.visible_at for m in self.world.queue.messages)
                continue
            if self.waiting_in_received():
                self.world.now += GRACE + CLAIM_TIMEOUT
                self.start(Actor("reconcile", self.operator("reconcile"), self.world.now.timestamp()))
                continue
            return
        raise AssertionError("the world did not settle")


def check(world: World) -> None:
    try:
        check_invariants(world)
    except AssertionError as failed:
        raise AssertionError(f"{failed}\n" + "\n".join(world.trace[-150:])) from None


def check_invariants(world: World) -> None:
    assert not world.violations, world.violations
    assert world.creates <= 1, f"{world.creates} leads created in Dynamics"
    limits = {"NotifiedAt": 1, "TeamsNotifiedAt": 1} | world.causes
    assert not (over := world.sent.over_the_limit(limits)), f"sent more often than allowed: {over}"
    entity = world.store.get(world.lead.lead_id)
    assert entity is not None
    status = entity.get("Status")
    assert status in (Status.DONE, Status.FAILED), f"the lead was left {status}"
    if status == Status.DONE:
        assert entity["DynamicsLeadId"] == mapping.dataverse_lead_id(world.lead.lead_id)
        assert entity["DynamicsLeadId"] in world.dynamics
        assert entity.get("NotifiedAt") and entity.get("TeamsNotifiedAt"), "done, but a channel was not told"
        assert world.sent.counts.get("NotifiedAt") and world.sent.counts.get("TeamsNotifiedAt")
    elif not world.poison_exhausted:  # else `status` shows the lead failed, and the lead-poison alert fires
        told = {"mail": "NotifiedAt", "teams": "TeamsNotifiedAt"}
        alerted = {"mail": "AlertedAt", "teams": "TeamsAlertedAt"}
        working = {"mail", "teams"} - world.refused_channels
        for channel in working:
            assert world.sent.counts.get(told[channel]), f"failed, and {channel} never had the lead"
        assert not working or any(world.sent.counts.get(alerted[channel]) for channel in working), (
            "failed, and no channel that works was alerted"
        )


class Unexpected(logging.Handler):
    """A bug inside a delivery leaves the function as DeliveryFailed (redacted); processing logs it as unexpected."""

    def __init__(self, world: World) -> None:
        super().__init__(logging.ERROR)
        self.world = world

    def emit(self, record: logging.LogRecord) -> None:
        if "unexpected" in record.getMessage():
            self.world.violations.append(record.getMessage())


def live_through(data: st.DataObject, store: type[ScheduledStore] = ScheduledStore) -> None:
    world = World()
    world.store = world.processor.store = store(world)
    schedule = Schedule(world, data.draw)
    watch = Unexpected(world)
    logging.getLogger("leads").addHandler(watch)
    try:
        assert receive(body(marketplace_lead()), world.store, world.queue, world.now).duplicate is False
        for _ in range(DECISIONS):
            schedule.decide()
        schedule.work_off()
    finally:
        logging.getLogger("leads").removeHandler(watch)
    check(world)


EXPLORE = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@EXPLORE
@given(st.data())
def test_one_lead_is_created_once_told_once_and_never_lost_whatever_the_interleaving(data: st.DataObject) -> None:
    live_through(data)


class IgnoresETags(ScheduledStore):
    """A table that forgets optimistic concurrency: every write wins."""

    def update(self, lead_id: str, changes: dict[str, Any], etag: str | None = None) -> str:
        return super().update(lead_id, changes, None)


def test_the_exploration_finds_what_a_table_without_etags_breaks() -> None:
    """The property can fail: with ETags ignored, claims stop excluding each other, and some schedule among the
    same examples sends a message twice or fails a lead that was done."""

    @settings(EXPLORE, phases=[Phase.generate])
    @given(st.data())
    def without_etags(data: st.DataObject) -> None:
        live_through(data, IgnoresETags)

    with pytest.raises(AssertionError, match=r"sent more often than allowed|done lead became"):
        without_etags()
