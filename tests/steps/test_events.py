"""Every lead state change logs one structured event (leads/core/events.py) whose fields reach Application Insights
as customDimensions, and no record carries the customer's name, email or phone. In-memory doubles
(tests/doubles.py) with pytest's caplog: the records as the logging handlers see them."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from leads.core import events, lead_row
from leads.core.clock import now
from leads.core.errors import DataverseRejected, DataverseUnavailable, DeliveryFailed, MailRefused
from leads.core.payload import parse_lead
from leads.steps import intake
from leads.steps.reconcile import reconcile
from tests.doubles import MemoryLeadStore, MemoryQueue, RecordingCrm, RecordingMailer
from tests.leadsamples import body, marketplace_lead
from tests.steps.test_processing_states import Clock, processor, row, stored

CONTACT = marketplace_lead()["UserDetails"]
PERSONAL = [CONTACT[key] for key in ("FirstName", "LastName", "Email", "Phone")]


def logged(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The events' fields, in order; and no record, event or not, names the customer."""
    for record in caplog.records:
        text = record.getMessage() + repr(vars(record))
        assert not [value for value in PERSONAL if value in text], f"personal data logged: {text}"
    return [
        {key: getattr(record, key) for key in vars(record) if key in _FIELDS}
        for record in caplog.records
        if hasattr(record, events.EVENT)
    ]


_FIELDS = {events.EVENT, "lead_id", "offer_id", "action", "status", "reason", "is_test"} | {
    "seconds_to_dynamics",
    "seconds_to_notified",
}


@pytest.fixture
def doubles() -> tuple[MemoryLeadStore, RecordingCrm, RecordingMailer, Clock]:
    return MemoryLeadStore(), RecordingCrm(), RecordingMailer(), Clock()


@pytest.fixture(autouse=True)
def capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="leads")


def test_received_stored_lead_logs_its_ids_offer_and_action(caplog: pytest.LogCaptureFixture) -> None:
    answer = intake.answer(body(marketplace_lead()), MemoryLeadStore, MemoryQueue, now())
    assert answer.status == 202
    (received,) = logged(caplog)
    lead_id = parse_lead(marketplace_lead()).lead_id
    assert received == {
        events.EVENT: events.RECEIVED,
        "lead_id": lead_id,
        "offer_id": "contoso.crm-connector",
        "action": "INS",
        "status": "received",
        "is_test": False,
    }


def test_a_lead_logs_dynamics_notified_done_with_durations(caplog: pytest.LogCaptureFixture, doubles: Any) -> None:
    lead_id = stored(doubles)
    doubles[3].moment += timedelta(seconds=42)
    processor(doubles).process(lead_id)
    names = [event[events.EVENT] for event in logged(caplog)]
    assert names == [events.IN_DYNAMICS, events.NOTIFIED, events.DONE]
    in_dynamics, notified, done = logged(caplog)
    assert in_dynamics["seconds_to_dynamics"] == 42.0 and notified["seconds_to_notified"] == 42.0
    assert {e["lead_id"] for e in (in_dynamics, notified, done)} == {lead_id}
    assert done["status"] == "done" and done["offer_id"] == "contoso.crm-connector"


def test_a_held_lead_logs_held(caplog: pytest.LogCaptureFixture, doubles: Any) -> None:
    processor(doubles, enabled=False, mail=False).process(stored(doubles))
    assert [e[events.EVENT] for e in logged(caplog)] == [events.HELD]


def test_a_refused_lead_logs_failed_with_the_class_not_the_text(caplog: pytest.LogCaptureFixture, doubles: Any) -> None:
    doubles[1].fail = DataverseRejected(400, "0x80040203", f"emailaddress1 {CONTACT['Email']} is not valid")
    processor(doubles).process(stored(doubles))
    failed = logged(caplog)[-1]
    assert failed[events.EVENT] == events.FAILED and failed["reason"] == "DataverseRejected"
    names = [e[events.EVENT] for e in logged(caplog)]
    assert events.ALERTED in names and events.IN_DYNAMICS not in names


def test_a_refused_mail_fails_the_lead_with_its_reason(caplog: pytest.LogCaptureFixture, doubles: Any) -> None:
    doubles[2].fail = MailRefused("Microsoft Graph refused to send (HTTP 403): grant Mail.Send")
    processor(doubles).process(stored(doubles))
    failed = logged(caplog)[-1]
    assert failed[events.EVENT] == events.FAILED and failed["reason"] == "mail"


def test_a_poisoned_lead_logs_poisoned_and_failed_with_the_last_error_class(
    caplog: pytest.LogCaptureFixture, doubles: Any
) -> None:
    lead_id = stored(doubles)
    doubles[1].fail = DataverseUnavailable(503, "", "Service Unavailable")
    with pytest.raises(DeliveryFailed, match="DataverseUnavailable"):
        processor(doubles).process(lead_id)
    processor(doubles).give_up(lead_id, "gave up: every delivery failed")
    names = [e[events.EVENT] for e in logged(caplog)]
    assert names[:2] == [events.POISONED, events.FAILED]
    assert {e.get("reason") for e in logged(caplog)[:2]} == {"DataverseUnavailable"}
    assert row(doubles, lead_id)["Status"] == "failed"


def test_a_stranded_lead_logs_reenqueued(caplog: pytest.LogCaptureFixture) -> None:
    store, queue = MemoryLeadStore(), MemoryQueue()
    lead = parse_lead(marketplace_lead())
    store.insert(lead_row.new_entity(lead, now() - timedelta(hours=1)))
    assert reconcile(store, queue, timedelta(minutes=10)) == [lead.lead_id]
    assert logged(caplog)[-1][events.EVENT] == events.REENQUEUED and logged(caplog)[-1]["lead_id"] == lead.lead_id
