"""Returning customers' decisions, fast: in-memory doubles of the table (with its ETags) and of Dataverse's leads and
notes (tests/doubles.py). The same through Azurite and the stand-ins is in test_returning.py; every interleaving of
two events of one person is explored in test_exactly_once_returning.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from leads.core import lead_row, mapping, returning
from leads.core.errors import ClaimBusy, DataverseRejected, DataverseUnavailable, DeliveryFailed, PersonBusy
from leads.core.matching import email_hash
from leads.core.payload import parse_lead
from leads.settings import load_dynamics
from leads.steps.notify import CLAIM_TIMEOUT
from leads.steps.processing import LeadProcessor
from leads.steps.returning import PERSON_WAITS, ReturningCustomers
from tests.doubles import MemoryDynamics, MemoryLeadStore, RecordingMailer
from tests.leadsamples import marketplace_lead
from tests.steps.test_processing_states import DYNAMICS, Clock

INSTALLED = marketplace_lead(ActionCode="INS")
CONTACT_ME = marketplace_lead(ActionCode="PLT", Description="Call me")
PERSON = email_hash("ada@contoso.example")


@dataclass
class World:
    mode: str = "attach"
    store: MemoryLeadStore = field(default_factory=MemoryLeadStore)
    dynamics: MemoryDynamics = field(default_factory=MemoryDynamics)
    mailer: RecordingMailer = field(default_factory=RecordingMailer)
    clock: Clock = field(default_factory=Clock)
    slept: list[float] = field(default_factory=list)
    owner: dict[str, str] = field(default_factory=dict)  # what a rule with reassign_returning gives the open lead

    def __post_init__(self) -> None:
        self.dynamics.clock = self.clock

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.moment += timedelta(seconds=seconds)

    def processor(self) -> LeadProcessor:
        settings = load_dynamics(DYNAMICS | {"DYNAMICS_DUPLICATES": self.mode})
        customers = ReturningCustomers(self.mode, settings.duplicates_days, lambda: self.dynamics, self.store,
                                       self.clock, self.sleep, owner=lambda lead: self.owner)  # fmt: skip
        return LeadProcessor(self.store, lambda: settings, lambda: self.dynamics, lambda: self.mailer, self.clock,
                             sleep=self.sleep, returning=lambda: customers)  # fmt: skip

    def receive(self, document: dict[str, Any]) -> str:
        lead = parse_lead(document)
        assert self.store.insert(lead_row.new_entity(lead, self.clock()))
        return lead.lead_id

    def row(self, lead_id: str) -> dict[str, Any]:
        found = self.store.get(lead_id)
        assert found is not None
        return found

    def claim(self) -> dict[str, Any] | None:
        return self.store.get_row(*returning.person_keys(PERSON))


@pytest.fixture(params=["attach", "rules"])
def world(request: pytest.FixtureRequest) -> World:
    return World(mode=request.param)


def test_a_returning_customer_becomes_a_note_on_their_open_lead(world: World) -> None:
    first, second = world.receive(INSTALLED), world.receive(CONTACT_ME)
    world.processor().process(first)
    world.processor().process(second)
    own = mapping.dataverse_lead_id(first)
    assert world.dynamics.creates == 1 and set(world.dynamics.notes) == {returning.dataverse_note_id(second)}
    row = world.row(second)
    assert row["Status"] == "done" and row["DynamicsLeadId"] == own and row[returning.RETURNING] is True
    assert [mail.subject.split(":")[0] for mail in world.mailer.sent] == ["New marketplace lead", "Returning customer"]
    assert world.claim() is None


def test_another_event_of_the_person_being_decided_makes_this_one_wait_then_go_back_to_the_queue(world: World) -> None:
    other = world.receive(INSTALLED)
    world.store.insert_row(returning.claim_row(PERSON, other, world.clock()))
    lead_id = world.receive(CONTACT_ME)
    with pytest.raises(ClaimBusy) as busy:
        world.processor().process(lead_id)
    assert "another lead of the same person" in str(busy.value)
    assert world.slept == list(PERSON_WAITS) and world.dynamics.leads == {}
    assert world.row(lead_id)["Status"] == "received" and not world.row(lead_id).get("LastError")
    assert world.claim() is not None and world.claim()["Claim"] == other  # type: ignore[index]


def test_a_claim_released_while_waiting_is_taken(world: World) -> None:
    other = world.receive(INSTALLED)
    world.store.insert_row(returning.claim_row(PERSON, other, world.clock()))
    lead_id = world.receive(CONTACT_ME)
    release = world.sleep

    def sleep_then_release(seconds: float) -> None:
        release(seconds)
        claim = world.claim()
        assert claim is not None
        world.store.delete_row(*returning.person_keys(PERSON), claim["_etag"])

    world.sleep = sleep_then_release  # type: ignore[method-assign]
    world.processor().process(lead_id)
    assert world.slept == [PERSON_WAITS[0]] and world.row(lead_id)["Status"] == "done"


def test_a_claim_left_by_a_stopped_delivery_expires(world: World) -> None:
    other = world.receive(INSTALLED)
    world.store.insert_row(returning.claim_row(PERSON, other, world.clock() - CLAIM_TIMEOUT))
    lead_id = world.receive(CONTACT_ME)
    world.processor().process(lead_id)
    assert world.slept == [] and world.row(lead_id)["Status"] == "done" and world.claim() is None


def test_a_refusal_releases_the_claim_and_fails_the_lead(world: World) -> None:
    first, second = world.receive(INSTALLED), world.receive(CONTACT_ME)
    world.processor().process(first)
    world.dynamics.leads.clear()  # the open lead is deleted between the query and the note: the bind is refused
    world.dynamics.add("ada@contoso.example")
    refuse = world.dynamics.attach_note

    def refused(note_id: str, body: dict[str, Any]) -> bool:
        world.dynamics.leads.clear()
        return refuse(note_id, body)

    world.dynamics.attach_note = refused  # type: ignore[method-assign]
    world.processor().process(second)
    assert world.row(second)["Status"] == "failed" and "0x80040217" in world.row(second)["LastError"]
    assert world.claim() is None


def test_trouble_keeps_the_claim_and_the_next_try_resumes_what_the_first_made(world: World) -> None:
    first, second = world.receive(INSTALLED), world.receive(CONTACT_ME)
    world.processor().process(first)
    world.store.answers_lost = 0
    recorded = world.store.update

    def storage_down_after_the_note(lead_id: str, changes: dict[str, Any], etag: str | None = None) -> str:
        if lead_id == second and "DynamicsLeadId" in changes and world.dynamics.notes:
            world.store.unavailable = 1  # the outcome cannot be recorded: the try stops here
        return recorded(lead_id, changes, etag)

    world.store.update = storage_down_after_the_note  # type: ignore[method-assign]
    with pytest.raises(DeliveryFailed):
        world.processor().process(second)
    assert world.claim() is not None and world.row(second).get("DynamicsLeadId") is None
    world.store.update = recorded  # type: ignore[method-assign]
    world.dynamics.leads[mapping.dataverse_lead_id(first)]["statecode"] = 1  # and the lead was qualified meanwhile
    world.processor().process(second)
    assert world.dynamics.notes_created == 1 and world.dynamics.creates == 1  # the note was found again
    assert world.row(second)["DynamicsLeadId"] == mapping.dataverse_lead_id(first) and world.claim() is None


def test_dynamics_busy_keeps_the_claim_for_this_lead_only(world: World) -> None:
    lead_id = world.receive(CONTACT_ME)
    busy = DataverseUnavailable(503, "", "Service Unavailable")

    def unavailable(*args: Any) -> Any:
        raise busy

    world.dynamics.find_open_leads = unavailable  # type: ignore[method-assign,assignment]
    world.dynamics.create_unless_duplicate = unavailable  # type: ignore[method-assign,assignment]
    with pytest.raises(DeliveryFailed):
        world.processor().process(lead_id)
    claim = world.claim()
    assert claim is not None and claim["Claim"] == lead_id


def test_a_test_lead_is_created_whatever_came_before(world: World) -> None:
    test_lead = marketplace_lead(UserDetails={"Email": "MSFT_TEST@example.com", "FirstName": "MSFT_TEST"})
    first, second = world.receive(test_lead), world.receive(test_lead | {"ActionCode": "PLT"})
    world.processor().process(first)
    world.processor().process(second)
    assert world.dynamics.creates == 2 and world.dynamics.notes == {}


def test_an_open_lead_older_than_the_window_is_not_joined() -> None:
    world = World()
    world.dynamics.add("ada@contoso.example", created=world.clock() - timedelta(days=91))
    lead_id = world.receive(CONTACT_ME)
    world.processor().process(lead_id)
    assert world.dynamics.creates == 1 and world.row(lead_id).get(returning.RETURNING) is None


def test_with_rules_a_closed_duplicate_means_a_new_lead() -> None:
    world = World(mode="rules")
    world.dynamics.add("ada@contoso.example", state=2)
    lead_id = world.receive(CONTACT_ME)
    world.processor().process(lead_id)
    assert world.dynamics.creates == 1 and world.dynamics.notes == {}


def test_a_fill_in_that_meets_a_changed_lead_is_said(world: World) -> None:
    existing = world.dynamics.add("ada@contoso.example")
    fill = world.dynamics.update_open_lead

    def changed_meanwhile(lead_id: str, changes: dict[str, Any], etag: str) -> bool:
        world.dynamics.leads[existing]["@odata.etag"] = 'W/"someone"'
        return fill(lead_id, changes, etag)

    world.dynamics.update_open_lead = changed_meanwhile  # type: ignore[method-assign]
    lead_id = world.receive(CONTACT_ME)
    world.processor().process(lead_id)
    row = world.row(lead_id)
    assert row["Status"] == "done" and "the open lead changed meanwhile" in row["LastError"]
    assert returning.RETURNING_FILLED not in row
    assert "Not applied: returning customer: the open lead changed meanwhile" in world.mailer.sent[0].text


def test_person_busy_is_a_claim_busy() -> None:
    assert issubclass(PersonBusy, ClaimBusy)
    assert not issubclass(PersonBusy, DataverseRejected)


def test_the_claim_is_by_the_lead_so_a_redelivery_recognises_it(world: World) -> None:
    lead_id = world.receive(CONTACT_ME)
    world.store.insert_row(returning.claim_row(PERSON, lead_id, world.clock()))  # its own, from an earlier try
    world.processor().process(lead_id)
    assert world.slept == [] and world.row(lead_id)["Status"] == "done" and world.claim() is None


def test_an_expired_claim_of_its_own_is_claimed_afresh_before_dynamics_is_asked(world: World) -> None:
    """Found by the exploration (test_exactly_once_returning.py): a delivery resuming its own expired claim without
    writing it let another event of the person take the same claim over, and both created a lead."""
    lead_id = world.receive(CONTACT_ME)
    world.store.insert_row(returning.claim_row(PERSON, lead_id, world.clock() - CLAIM_TIMEOUT))
    seen: list[Any] = []
    ask = world.dynamics.note_target

    def note_target(note_id: str) -> str | None:
        claim = world.claim()
        seen.append(claim["ClaimAt"] if claim else None)
        return ask(note_id)

    world.dynamics.note_target = note_target  # type: ignore[method-assign]
    world.processor().process(lead_id)
    assert seen == [world.clock()] and world.row(lead_id)["Status"] == "done"


def test_an_owner_the_open_lead_refuses_is_said_and_the_note_stays(world: World) -> None:
    existing = world.dynamics.add("ada@contoso.example")
    world.dynamics.leads[existing] |= dict.fromkeys(returning.FILLABLE, "set")  # nothing to fill in: the owner only
    world.owner = {"ownerid@odata.bind": "/teams(00000000-0000-4000-8000-00000000000a)"}

    def refused(lead_id: str, changes: dict[str, Any], etag: str) -> bool:
        raise DataverseRejected(403, "0x80040220", "missing prvAssignLead privilege")

    world.dynamics.update_open_lead = refused  # type: ignore[method-assign]
    lead_id = world.receive(CONTACT_ME)
    world.processor().process(lead_id)
    row = world.row(lead_id)
    assert row["Status"] == "done" and row[returning.RETURNING] is True and len(world.dynamics.notes) == 1
    assert "returning customer: its owner was not changed (403 0x80040220)" in row["LastError"]
