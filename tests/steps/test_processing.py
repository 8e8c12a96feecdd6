"""The queue functions end to end: Azurite, and the Entra ID / Dataverse / Graph stand-ins over HTTP."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage

from devtools.standins import StandIns
from function_app import lead_failed, process_lead, receive_lead
from leads import runtime
from leads.adapters.dataverse import Dataverse
from leads.adapters.lead_table import LeadTable
from leads.core import lead_row, mapping
from leads.core.errors import DeliveryFailed
from leads.settings import StorageSettings
from leads.steps.processing import LeadProcessor
from tests.leadsamples import body, marketplace_lead, validation_lead

receive = receive_lead.build().get_user_function()
process = process_lead.build().get_user_function()
poison = lead_failed.build().get_user_function()


def post(document: dict[str, Any]) -> str:
    response = receive(func.HttpRequest("POST", "http://localhost/api/leads", body=body(document)))
    assert response.status_code == 202, response.get_body()
    lead_id: str = json.loads(response.get_body())["id"]
    return lead_id


def message(lead_id: str, dequeue_count: int = 1) -> QueueMessage:
    return QueueMessage(id="m1", body=lead_row.queue_message(lead_id).encode(), dequeue_count=dequeue_count)


def entity(lead_id: str) -> dict[str, Any]:
    found = runtime.lead_table().get(lead_id)
    assert found is not None
    return found


def sign_in_with(mode: str, standins: StandIns, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNAMICS_AUTH", mode)
    if mode == "managed_identity":  # the stand-in's user-assigned identity, and no secret anywhere
        monkeypatch.setenv("AZURE_CLIENT_ID", standins.settings["STANDIN_MANAGED_IDENTITY_CLIENT_ID"])
        monkeypatch.delenv("AZURE_CLIENT_SECRET")
    runtime.reset()


def dataverse_creates(standins: StandIns) -> list[Any]:
    return [r for r in standins.dataverse.requests if r.method == "PATCH" and "/leads(" in r.path]


def test_lead_reaches_dynamics_with_mapped_fields_and_is_done(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    dynamics_id = mapping.dataverse_lead_id(lead_id)
    created = standins.dataverse.lead(dynamics_id)
    assert created is not None
    assert created["firstname"] == "Ada"
    assert created["companyname"] == "Contoso Ltd"
    assert created["subject"] == "Azure Marketplace lead: Contoso CRM Connector (INS)"
    assert created["leadsourcecode"] == 8
    [create] = dataverse_creates(standins)
    assert create.headers.get("if-none-match") == "*"
    assert create.headers.get("odata-version") == "4.0"
    assert create.headers.get("odata-maxversion") == "4.0"
    row = entity(lead_id)
    assert row["Status"] == "done"
    assert row["DynamicsLeadId"] == dynamics_id
    assert row["NotifiedAt"]
    [mail] = standins.graph.messages
    assert set(mail.to) == {"sales@contoso.example", "ceo@contoso.example"}
    assert mail.sender == app_env["NOTIFY_FROM"]


def test_test_lead_lands_like_a_real_one(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(validation_lead())
    process(message(lead_id))
    created = standins.dataverse.lead(mapping.dataverse_lead_id(lead_id))
    assert created is not None
    assert created["subject"].startswith("[Test] ")
    assert entity(lead_id)["Status"] == "done"


def test_long_values_are_cut_not_refused(app_env: dict[str, str], standins: StandIns) -> None:
    document = marketplace_lead()
    document["UserDetails"]["Company"] = "C" * 500
    document["Description"] = "D" * 10_000
    lead_id = post(document)
    process(message(lead_id))
    created = standins.dataverse.lead(mapping.dataverse_lead_id(lead_id))
    assert created is not None
    assert len(created["companyname"]) == 100
    assert len(created["description"]) == 2000
    assert entity(lead_id)["Status"] == "done"


def test_redelivered_message_makes_one_lead_and_one_mail(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    process(message(lead_id, dequeue_count=2))
    assert len(standins.dataverse.leads) == 1
    assert len(dataverse_creates(standins)) == 1
    assert len(standins.graph.messages) == 1


def test_crash_after_create_is_resumed_with_412_as_success(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    # As if the worker died after Dataverse created the lead but before the table recorded it.
    runtime.lead_table().update(lead_id, {"DynamicsLeadId": "", "Status": "received"})
    process(message(lead_id, dequeue_count=2))
    creates = dataverse_creates(standins)
    assert len(creates) == 2
    assert len(standins.dataverse.leads) == 1
    assert entity(lead_id)["Status"] == "done"
    assert len(standins.graph.messages) == 1


def test_one_token_for_many_leads(app_env: dict[str, str], standins: StandIns) -> None:
    for number in range(5):
        lead_id = post(marketplace_lead(Description=f"lead {number}"))
        process(message(lead_id))
    assert len(standins.dataverse.leads) == 5
    issued = [t for t in standins.entra.token_requests if t.error is None]
    by_scope: dict[str, int] = {}
    for request in issued:
        by_scope[request.scope] = by_scope.get(request.scope, 0) + 1
    assert by_scope == {f"{app_env['DYNAMICS_URL']}/.default": 1, f"{app_env['GRAPH_URL']}/.default": 1}


@pytest.mark.parametrize("mode", ["username_password", "managed_identity"])
def test_other_sign_in_modes(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    sign_in_with(mode, standins, monkeypatch)
    lead_ids = [post(marketplace_lead(Description=f"{mode} {n}")) for n in range(2)]
    for lead_id in lead_ids:
        process(message(lead_id))
        assert entity(lead_id)["Status"] == "done"
    assert len(standins.dataverse.leads) == 2
    grants = [t.grant_type for t in standins.entra.token_requests if t.error is None]
    if mode == "username_password":
        # One sign-in with the password; MSAL's refresh token then serves the Graph scope.
        assert grants.count("password") == 1
        assert set(grants) <= {"password", "refresh_token"}
    else:
        assert set(grants) == {"managed_identity"}
    dataverse_tokens = [t for t in standins.entra.token_requests if t.audience == app_env["DYNAMICS_URL"]]
    assert len(dataverse_tokens) == 1


def test_429_waits_at_least_retry_after(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    standins.dataverse.fail_next(429, retry_after=2, method="PATCH")
    started = time.monotonic()
    process(message(lead_id))
    creates = dataverse_creates(standins)
    assert len(creates) == 2
    assert creates[1].time - creates[0].time >= 2
    assert time.monotonic() - started >= 2
    assert entity(lead_id)["Status"] == "done"


def test_5xx_then_success(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    standins.dataverse.fail_next(503, method="PATCH", times=2)
    process(message(lead_id))
    assert len(dataverse_creates(standins)) == 3
    assert entity(lead_id)["Status"] == "done"


def test_persistent_5xx_raises_for_the_queue_and_records_the_error(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    standins.dataverse.fail_next(500, method="PATCH", times=10)
    with pytest.raises(Exception, match="500"):
        process(message(lead_id))
    row = entity(lead_id)
    assert row["Status"] == "received"
    assert "Dataverse" in row["LastError"]
    assert standins.graph.messages == []  # the mail waits for the next delivery


def test_permanent_400_marks_failed_and_still_tells_the_contacts(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    # Dataverse's messages can quote the values it refused: they must not end up in LastError or the alert.
    refusal = "Invalid argument: 'Contoso Ltd' for Ada Lovelace <ada@contoso.example> is not allowed."
    standins.dataverse.fail_next(400, body={"error": {"code": "0x80040203", "message": refusal}}, method="PATCH")
    process(message(lead_id))  # completes: retrying cannot help
    row = entity(lead_id)
    assert row["Status"] == "failed"
    assert "0x80040203" in row["LastError"] and "Invalid argument" in row["LastError"]
    for personal in ("Ada", "Lovelace", "ada@contoso.example", "Contoso Ltd"):
        assert personal not in row["LastError"]
    [alert] = [mail for mail in standins.graph.messages if "could not be delivered" in mail.subject]
    assert "ada@contoso.example" not in alert.content and "Lovelace" not in alert.content
    assert "[redacted]" in alert.content  # the refusal is there, without the values it quoted
    subjects = sorted(mail.subject for mail in standins.graph.messages)
    assert len(subjects) == 2  # the lead itself (saying Dynamics failed) and the failure alert
    assert any("could not be delivered" in subject for subject in subjects)
    process(message(lead_id, dequeue_count=2))  # a redelivery changes nothing
    assert len(standins.graph.messages) == 2
    assert len(dataverse_creates(standins)) == 1


def test_401_gets_one_fresh_token(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    standins.dataverse.fail_next(401, method="PATCH")
    process(message(lead_id))
    assert entity(lead_id)["Status"] == "done"
    dataverse_tokens = [t for t in standins.entra.token_requests if t.audience == app_env["DYNAMICS_URL"]]
    assert len(dataverse_tokens) == 2


def test_wrong_secret_is_a_configuration_failure_naming_the_setting(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "wrong")
    monkeypatch.setenv("MAIL_TRANSPORT", "none")  # Graph would refuse the same secret; see test_graph
    runtime.reset()
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    row = entity(lead_id)
    assert row["Status"] == "failed"
    assert "AZURE_CLIENT_SECRET" in row["LastError"]


def test_poison_message_marks_the_lead_failed_and_alerts(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    standins.dataverse.fail_next(503, method="PATCH", times=10)
    with pytest.raises(Exception, match="503"):
        process(message(lead_id))
    poison(message(lead_id, dequeue_count=6))
    row = entity(lead_id)
    assert row["Status"] == "failed"
    assert "gave up: every delivery failed" in row["LastError"]
    assert "503" in row["LastError"]
    # The contacts get the lead itself (they must not miss it, whatever Dynamics did) and the alert.
    subjects = sorted(mail.subject for mail in standins.graph.messages)
    assert len(subjects) == 2
    assert any("could not be delivered" in subject for subject in subjects)
    assert any(subject.startswith("New marketplace lead") for subject in subjects)
    poison(message(lead_id, dequeue_count=6))  # a second poison message: no more mail, the reason kept as it was
    assert len(standins.graph.messages) == 2
    assert entity(lead_id)["LastError"] == row["LastError"]


def test_disabled_dynamics_holds_the_lead_and_still_mails(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNAMICS_ENABLED", "false")
    runtime.reset()
    lead_id = post(marketplace_lead())
    process(message(lead_id))
    assert entity(lead_id)["Status"] == "held"
    assert standins.dataverse.leads == {}
    assert len(standins.graph.messages) == 1
    # Switched on again and replayed: the lead goes to Dynamics, the contacts are not mailed twice.
    monkeypatch.setenv("DYNAMICS_ENABLED", "true")
    runtime.reset()
    runtime.lead_table().update(lead_id, {"Status": "received"})
    process(message(lead_id, dequeue_count=1))
    assert entity(lead_id)["Status"] == "done"
    assert len(standins.dataverse.leads) == 1
    assert len(standins.graph.messages) == 1


def test_mail_failure_retries_without_a_second_dynamics_write(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    standins.graph.fail_next(503, times=10)
    with pytest.raises(DeliveryFailed, match="Mail"):
        process(message(lead_id))
    assert entity(lead_id)["DynamicsLeadId"]
    assert entity(lead_id)["Status"] == "received"
    standins.graph.reset()
    process(message(lead_id, dequeue_count=2))
    assert entity(lead_id)["Status"] == "done"
    assert len(dataverse_creates(standins)) == 1
    assert len(standins.graph.messages) == 1


def test_two_concurrent_workers_send_one_mail(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    standins.graph.fail_next(delay=1.0)  # keep the first send in flight while the second worker arrives
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            process(message(lead_id))
        except BaseException as exc:  # the loser is told to try later
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(standins.graph.messages) == 1
    assert len(standins.dataverse.leads) == 1
    assert len(errors) == 1
    assert "another worker" in str(errors[0])
    process(message(lead_id, dequeue_count=2))  # the retry of the loser finds it done
    assert len(standins.graph.messages) == 1
    assert entity(lead_id)["Status"] == "done"


def test_foreign_and_unknown_messages_complete_without_effect(app_env: dict[str, str], standins: StandIns) -> None:
    process(QueueMessage(id="x", body=b"hello", dequeue_count=1))
    process(message("0" * 32))
    assert standins.dataverse.requests == []


def test_no_personal_data_in_logs(
    app_env: dict[str, str], standins: StandIns, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        lead_id = post(marketplace_lead())
        standins.dataverse.fail_next(503, method="PATCH")
        process(message(lead_id))
    assert lead_id in caplog.text
    for personal in (
        "Ada",
        "Lovelace",
        "ada@contoso.example",
        "7946",
        "Contoso Ltd",
        "sales@contoso.example",
        app_env["AZURE_CLIENT_SECRET"],
    ):
        assert personal not in caplog.text


class CountingTable(LeadTable):
    """The real table adapter, counting the calls the pipeline makes."""

    def __init__(self, settings: StorageSettings) -> None:
        super().__init__(settings)
        self.reads = self.writes = 0

    def get(self, lead_id: str) -> dict[str, Any] | None:
        self.reads += 1
        return super().get(lead_id)

    def update(self, lead_id: str, changes: dict[str, Any], etag: str | None = None) -> str:
        self.writes += 1
        return super().update(lead_id, changes, etag)


@pytest.mark.parametrize(("mail", "writes"), [(True, 2), (False, 1)])
def test_a_lead_costs_one_read_and_as_few_writes_as_the_states_need(
    app_env: dict[str, str], storage_env: StorageSettings, standins: StandIns, mail: bool, writes: int
) -> None:
    lead_id = post(marketplace_lead())
    table = CountingTable(storage_env)
    pipeline = LeadProcessor(
        table, runtime.dynamics_settings, runtime.dataverse, runtime.mailer if mail else lambda: None
    )
    pipeline.process_message(lead_row.queue_message(lead_id))
    assert (table.reads, table.writes) == (1, writes)
    assert entity(lead_id)["Status"] == "done"
    assert len(standins.graph.messages) == (1 if mail else 0)


@pytest.mark.parametrize("mode", ["client_secret", "managed_identity"])
def test_invocations_starting_together_share_one_sign_in(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    sign_in_with(mode, standins, monkeypatch)
    scope = f"{app_env['DYNAMICS_URL']}/.default"
    start = threading.Barrier(8)
    tokens: list[str] = []

    def invocation() -> None:
        start.wait()
        tokens.append(runtime.tokens().token(scope))

    threads = [threading.Thread(target=invocation) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(tokens)) == 1
    assert standins.entra.token_request_count(audience=app_env["DYNAMICS_URL"]) == 1


def test_timeout_then_retry_still_makes_one_lead(app_env: dict[str, str], standins: StandIns) -> None:
    # Dataverse is slower than our read timeout but does create the lead; the retry's 412 means "it is there".
    lead_id = post(marketplace_lead())
    dataverse = Dataverse(runtime.dynamics_settings(), runtime.tokens(), runtime.http_session(), timeout=(2, 0.5))
    pipeline = LeadProcessor(runtime.lead_table(), runtime.dynamics_settings, lambda: dataverse, runtime.mailer)
    standins.dataverse.fail_next(delay=1.0, method="PATCH")
    pipeline.process_message(lead_row.queue_message(lead_id))
    assert standins.dataverse.wait_for(lambda: len(dataverse_creates(standins)) == 2)
    assert sorted(create.status for create in dataverse_creates(standins)) == [204, 412]
    assert len(standins.dataverse.leads) == 1
    assert entity(lead_id)["Status"] == "done"


def test_a_mail_setting_that_is_wrong_fails_the_lead_without_retries(
    app_env: dict[str, str], standins: StandIns
) -> None:
    lead_id = post(marketplace_lead())
    standins.graph.permissions.discard("Mail.Send")
    process(message(lead_id))  # completes: retrying cannot help until someone grants the permission
    row = entity(lead_id)
    assert row["Status"] == "failed"
    assert "Mail.Send" in row["LastError"]
    assert row["DynamicsLeadId"]
    standins.graph.permissions.add("Mail.Send")
    runtime.lead_table().update(lead_id, {"Status": "received"})  # what `replay --failed` does
    process(message(lead_id, dequeue_count=1))
    assert entity(lead_id)["Status"] == "done"
    assert len(standins.dataverse.leads) == 1
    assert len(dataverse_creates(standins)) == 1
    assert len(standins.graph.messages) == 1


def test_entra_having_trouble_is_retried_not_failed(app_env: dict[str, str], standins: StandIns) -> None:
    lead_id = post(marketplace_lead())
    busy = {"error": "temporarily_unavailable", "error_description": "AADSTS90033: A transient error has occurred."}
    standins.entra.fail_next(503, body=busy, path="/token", times=5)
    with pytest.raises(Exception, match="503"):  # MSAL raises on Entra's 5xx; the queue delivers the lead again
        process(message(lead_id))
    assert entity(lead_id)["Status"] == "received"
    assert "503" in entity(lead_id)["LastError"]
    standins.entra.reset()
    # MSAL keeps answering from its memory of the 5xx for a minute; the next delivery comes minutes later (host.json
    # visibilityTimeout), here played by a fresh worker.
    runtime.reset()
    process(message(lead_id, dequeue_count=2))
    assert entity(lead_id)["Status"] == "done"
