"""The HTTP function, called as the Functions host calls it, against a real Azurite."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

from devtools.azurite import Azurite
from function_app import receive_lead
from leads import runtime
from leads.core.payload import MAX_BODY_BYTES
from leads.settings import StorageSettings
from tests.leadsamples import body, marketplace_lead, validation_lead

receive = receive_lead.build().get_user_function()


def post(raw: bytes) -> tuple[int, dict[str, Any], func.HttpResponse]:
    request = func.HttpRequest("POST", "http://localhost:7071/api/leads", body=raw, params={"code": "key"})
    response = receive(request)
    return response.status_code, json.loads(response.get_body()), response


def table_rows(settings: StorageSettings) -> list[dict[str, Any]]:
    client = TableClient.from_connection_string(settings.connection_string, settings.table_name)
    try:
        return list(client.list_entities())
    except ResourceNotFoundError:
        return []  # nothing was ever stored: the table is created on first use


def queue_texts(settings: StorageSettings) -> list[str]:
    """The messages as stored: no decode policy, so we see the wire format the Functions host reads."""
    client = QueueClient.from_connection_string(settings.connection_string, settings.queue_name)
    return [message.content for message in client.peek_messages(max_messages=32)]


def test_new_lead_is_stored_and_enqueued_before_202(storage_env: StorageSettings) -> None:
    status, answer, response = post(body(marketplace_lead()))
    assert status == 202
    assert answer["duplicate"] is False
    assert response.mimetype == "application/json"
    rows = table_rows(storage_env)
    assert len(rows) == 1
    row = rows[0]
    assert row["RowKey"] == answer["id"]
    assert row["Status"] == "received"
    assert json.loads(row["CustomerInfo"])["Email"] == "ada@contoso.example"
    assert row["OfferId"] == "contoso.crm-connector"
    assert json.loads(row["RawPayload"]) == marketplace_lead()


def test_queue_message_is_base64_json_with_ids_only(storage_env: StorageSettings) -> None:
    _, answer, _ = post(body(marketplace_lead()))
    [wire] = queue_texts(storage_env)
    # host.json keeps messageEncoding "base64", the Functions host's default: it decodes exactly this.
    host_json = json.loads((Path(__file__).parents[2] / "host.json").read_text())
    assert host_json["extensions"]["queues"]["messageEncoding"] == "base64"
    message = json.loads(base64.b64decode(wire, validate=True))
    assert message == {"id": answer["id"], "PartitionKey": answer["id"][:2], "RowKey": answer["id"]}


def test_repeat_is_a_duplicate_with_no_second_row_or_message(storage_env: StorageSettings) -> None:
    _, first, _ = post(body(marketplace_lead()))
    variant = {key.lower(): value for key, value in marketplace_lead().items()}
    variant["offertitle"] = "  Contoso CRM Connector "
    status, second, _ = post(body(variant))
    assert status == 202
    assert second == {"id": first["id"], "duplicate": True}
    assert len(table_rows(storage_env)) == 1
    assert len(queue_texts(storage_env)) == 1


def test_test_lead_is_stored_as_test(storage_env: StorageSettings) -> None:
    status, _, _ = post(body(validation_lead()))
    assert status == 202
    assert table_rows(storage_env)[0]["IsTest"] is True


def test_lead_without_personal_data_is_accepted(storage_env: StorageSettings) -> None:
    status, _, _ = post(body({"LeadSource": "AppSource-PLT|contoso.edu", "OfferTitle": "Edu", "UserDetails": {}}))
    assert status == 202


def test_unknown_keys_are_kept(storage_env: StorageSettings) -> None:
    post(body(marketplace_lead(mktcmpid="spring-campaign")))
    assert json.loads(table_rows(storage_env)[0]["RawPayload"])["mktcmpid"] == "spring-campaign"


def test_largest_accepted_body_is_stored_whole(storage_env: StorageSettings) -> None:
    document = marketplace_lead(Description="")
    document["Description"] = "ü" * ((MAX_BODY_BYTES - len(body(document))) // 2 - 10)
    raw = json.dumps(document, ensure_ascii=False).encode()
    assert MAX_BODY_BYTES - 100 < len(raw) <= MAX_BODY_BYTES
    status, _, _ = post(raw)
    assert status == 202
    [row] = table_rows(storage_env)
    assert json.loads(row["RawPayload"] + row.get("RawPayload1", "")) == document


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (b"", 400, "empty"),
        (b"not json", 400, "not valid JSON"),
        (b"[]", 400, "JSON object"),
        (b'{"hello": "world"}', 400, "not a marketplace lead"),
        (b'{"OfferTitle": "\xff"}', 400, "UTF-8"),
        (b'{"Description": "' + b"x" * MAX_BODY_BYTES + b'"}', 413, "limit"),
    ],
)
def test_invalid_requests_get_4xx_with_json_error_and_store_nothing(
    storage_env: StorageSettings, raw: bytes, status: int, message: str
) -> None:
    got, answer, _ = post(raw)
    assert got == status
    assert message in answer["error"]
    assert table_rows(storage_env) == []


def test_storage_down_answers_503_not_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = Azurite(tmp_path / "azurite").start()
    monkeypatch.setenv("AzureWebJobsStorage", emulator.connection_string)
    runtime.reset()
    try:
        assert post(body(marketplace_lead(OfferTitle="first")))[0] == 202
        emulator.stop()
        status, answer, response = post(body(marketplace_lead(OfferTitle="second")))
        assert status == 503
        assert "retry" in answer["error"]
        assert response.headers["Retry-After"] == "30"
    finally:
        emulator.stop()
        runtime.reset()


def test_misconfigured_storage_answers_503_and_names_the_setting_in_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    runtime.reset()
    with caplog.at_level(logging.ERROR):
        status, _, _ = post(body(marketplace_lead()))
    runtime.reset()
    assert status == 503
    assert "AzureWebJobsStorage is not set" in caplog.text


def test_logs_carry_the_lead_id_and_no_personal_data(
    storage_env: StorageSettings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="leads"):
        _, answer, _ = post(body(marketplace_lead()))
        post(body(marketplace_lead()))
    assert answer["id"] in caplog.text
    for personal in ("Ada", "Lovelace", "ada@contoso.example", "7946", "Contoso Ltd"):
        assert personal not in caplog.text


@pytest.mark.parametrize(
    "document",
    [
        marketplace_lead(UserDetails={"Company": "C" * 40_000}),  # CustomerInfo beyond one property
        marketplace_lead(Description="😀" * 11_000 + "x" * 20_000),  # emoji take two UTF-16 units each
    ],
    ids=["long-company", "emoji"],
)
def test_leads_that_fill_properties_are_stored_whole(storage_env: StorageSettings, document: dict[str, Any]) -> None:
    raw = json.dumps(document, ensure_ascii=False).encode()
    assert len(raw) <= MAX_BODY_BYTES
    status, _, _ = post(raw)
    assert status == 202
    [row] = table_rows(storage_env)
    parts = [row[name] for name in sorted(row) if name.startswith("RawPayload")]
    assert json.loads("".join(parts)) == document


def test_number_too_long_to_convert_is_a_400(storage_env: StorageSettings) -> None:
    status, answer, _ = post(b'{"OfferTitle": "x", "Phone": ' + b"9" * 5000 + b"}")
    assert status == 400
    assert "not valid JSON" in answer["error"]
