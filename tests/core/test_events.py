"""The event fields themselves (leads/core/events.py): a failure's class, never its text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leads.core import events
from leads.core.lead_row import Status


@pytest.mark.parametrize(
    ("last_error", "expected"),
    [
        ("DataverseRejected: 400 0x80040203: emailaddress1 ada@contoso.example is not valid", "DataverseRejected"),
        ("mail: Microsoft Graph refused to send (HTTP 403): grant Mail.Send", "mail"),
        (
            "gave up: every delivery failed (host.json maxDequeueCount); last error: SignInUnavailable: 503",
            "SignInUnavailable",
        ),
        ("gave up: every delivery failed; last error: no error was recorded", "gave up"),
        ("", "unknown"),
        ("Ada Lovelace called", "unknown"),
    ],
)
def test_reason_is_the_failure_class_or_its_label(last_error: str, expected: str) -> None:
    assert events.reason(last_error) == expected


def test_finished_events_carry_their_status_and_failed_its_reason() -> None:
    entity = {"LeadId": "abc12345", "Status": "received", "OfferId": "contoso.crm", "Action": "INS"}
    assert events.finished(entity, Status.DONE)["status"] == "done"
    failed = events.finished(entity, Status.FAILED, "DataverseRejected: 400")
    assert failed[events.EVENT] == events.FAILED and failed["status"] == "failed"
    assert failed["reason"] == "DataverseRejected"


def test_a_duration_needs_the_received_time() -> None:
    assert "seconds_to_dynamics" not in events.in_dynamics({"RowKey": "abc12345"}, datetime.now(UTC))


@pytest.mark.parametrize("origin", ["import", "table"])
def test_imported_leads_carry_no_durations_and_say_where_they_came_from(origin: str) -> None:
    received = datetime(2026, 11, 23, tzinfo=UTC)
    entity = {"LeadId": "abc12345", "Origin": origin, "ReceivedAt": received}
    later = datetime(2026, 11, 30, tzinfo=UTC)  # imported a week after the marketplace received it
    assert "seconds_to_dynamics" not in events.in_dynamics(entity, later)
    assert "seconds_to_notified" not in events.sent(entity, "NotifiedAt", later)
    assert events.in_dynamics(entity, later)["origin"] == origin
    over_https = events.in_dynamics({**entity, "Origin": "https"}, later)
    assert over_https["seconds_to_dynamics"] == 7 * 24 * 3600 and over_https["origin"] == "https"
    assert events.received({"LeadId": "abc12345"})["origin"] == "https"  # stored before Origin existed
