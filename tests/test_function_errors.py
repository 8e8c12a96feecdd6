"""What leaves a function when it fails: the Functions host logs the exception with its traceback and the exceptions
chained to it. None of it may carry the lead's personal data, whatever the services answer (they quote values back).
The functions are called as the host calls them, against Azurite and the stand-ins."""

from __future__ import annotations

import traceback
from typing import Any

import pytest

from devtools.standins import StandIns
from leads.core import lead_row
from leads.core.clock import now
from leads.core.errors import DeliveryFailed
from leads.core.payload import parse_lead
from leads.settings import load_dynamics
from leads.steps.processing import LeadProcessor
from tests.doubles import MemoryLeadStore, RecordingCrm, RecordingMailer
from tests.leadsamples import marketplace_lead
from tests.steps.test_processing import entity, message, poison, post, process
from tests.steps.test_processing_states import DYNAMICS

PERSONAL = ("Ada", "Lovelace", "ada@contoso.example", "+44 20 7946 0000", "7946 0000", "Contoso Ltd")
QUOTING = {"error": {"code": "0x80040216", "message": "Lead Ada Lovelace <ada@contoso.example>, +44 20 7946 0000"}}


def what_the_host_logs(error: BaseException) -> str:
    """The exception as the host logs it (message and traceback, chained exceptions included), and its parts."""
    parts = ["".join(traceback.format_exception(error)), repr(error.args), repr(vars(error))]
    chained = [error.__cause__, error.__context__]
    return "\n".join(parts + ["".join(traceback.format_exception(link)) for link in chained if link is not None])


def assert_nothing_personal(error: BaseException) -> None:
    logged = what_the_host_logs(error).lower()
    assert [value for value in PERSONAL if value.lower() in logged] == []
    assert error.__cause__ is None and error.__context__ is None  # not even a suppressed original


def failing(call: Any, *args: Any) -> BaseException:
    with pytest.raises(Exception, match=r"^lead [0-9a-f]{32}: ") as caught:  # the lead id, then what went wrong
        call(*args)
    return caught.value


@pytest.mark.parametrize("status", [500, 503, 429])
def test_dataverse_quoting_the_lead_back(app_env: dict[str, str], standins: StandIns, status: int) -> None:
    lead_id = post(marketplace_lead())
    standins.dataverse.fail_next(status, body=QUOTING, times=100, method="PATCH")
    error = failing(process, message(lead_id))
    assert isinstance(error, DeliveryFailed) and lead_id in str(error)
    assert_nothing_personal(error)
    assert [value for value in PERSONAL if value in entity(lead_id)["LastError"]] == []


def test_graph_quoting_the_recipient_and_the_lead(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    body = {"error": {"code": "ErrorInternalServerTransientError", "message": "Ada Lovelace ada@contoso.example"}}
    standins.graph.fail_next(503, body=body, times=100)
    assert_nothing_personal(failing(process, message(lead_id)))


def test_the_poison_handler_when_mail_keeps_failing(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    standins.dataverse.fail_next(400, body=QUOTING, times=100, method="PATCH")
    body = {"error": {"code": "ErrorInternalServerTransientError", "message": "to ada@contoso.example"}}
    standins.graph.fail_next(503, body=body, times=100)
    error = failing(poison, message(lead_id))
    assert isinstance(error, DeliveryFailed)  # the host tries the poison message again later
    assert_nothing_personal(error)


def test_a_bug_quoting_the_lead_leaves_as_a_redacted_error_with_where_it_happened(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, crm, mailer = MemoryLeadStore(), RecordingCrm(), RecordingMailer()
    lead = parse_lead(marketplace_lead())
    store.insert(lead_row.new_entity(lead, now()))
    crm.fail = KeyError("ada@contoso.example Ada Lovelace")  # not one of ours: a bug
    dynamics = load_dynamics(DYNAMICS)
    worker = LeadProcessor(store, lambda: dynamics, lambda: crm, lambda: mailer)
    error = failing(worker.process, lead.lead_id)
    assert_nothing_personal(error)
    assert "KeyError" in str(error)
    unexpected = [record for record in caplog.records if "unexpected KeyError" in record.getMessage()]
    assert unexpected and "create_lead" in unexpected[0].getMessage()  # where, without the message
    assert [value for value in PERSONAL if value in caplog.text] == []
