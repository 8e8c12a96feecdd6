"""Writes that went through but whose answer was lost, with the real storage SDK: a proxy in front of Azurite's table
port lets the request reach storage, then answers 500, and the SDK retries as it does in Azure (a POST or PATCH
answered 500/503/504 is retried: azure-core's RetryPolicy). The retry meets 409 (an insert) or 412 (a conditional
update); the app must recognise its own write."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from azure.storage.queue import QueueClient

from devtools.azurite import ACCOUNT, ACCOUNT_KEY, Azurite
from devtools.standins import StandIns
from devtools.storage_proxy import CountingProxy
from leads import runtime
from leads.settings import StorageSettings
from tests.leadsamples import marketplace_lead
from tests.steps.test_processing import entity, message, post, process


@pytest.fixture
def proxied(
    app_env: dict[str, str], storage_env: StorageSettings, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CountingProxy]:
    with CountingProxy("table", azurite.table_port) as proxy:
        base = "http://127.0.0.1:{}/" + ACCOUNT
        monkeypatch.setenv(
            "AzureWebJobsStorage",
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={base.format(azurite.blob_port)};QueueEndpoint={base.format(azurite.queue_port)};"
            f"TableEndpoint={base.format(proxy.port)};",
        )
        runtime.reset()
        yield proxy
        runtime.reset()


def queued(settings: StorageSettings) -> list[str]:
    client = QueueClient.from_connection_string(runtime.storage_settings().connection_string, settings.queue_name)
    return [json.loads(base64.b64decode(m.content))["id"] for m in client.peek_messages(max_messages=32)]


def test_an_insert_whose_answer_was_lost_is_enqueued_and_answered_as_new(
    proxied: CountingProxy, storage_env: StorageSettings
) -> None:
    first = post(marketplace_lead(Description="the first lead creates the table"))
    proxied.take()
    proxied.lose_answer("POST", storage_env.table_name)
    lead_id = post(marketplace_lead())  # asserts 202; the answer says duplicate: false
    inserts = [call.status for call in proxied.take() if call.operation == "insert entity"]
    assert inserts == [201, 409]  # the SDK's retry met the row its first try had stored
    assert queued(storage_env) == [first, lead_id]


def test_a_claim_whose_answer_was_lost_is_recognised_as_ours(
    proxied: CountingProxy, storage_env: StorageSettings, standins: StandIns
) -> None:
    lead_id = post(marketplace_lead())
    proxied.take()
    proxied.lose_answer("PATCH", lead_id)  # the first write of the delivery: the claim
    process(message(lead_id))
    merges = [(call.status, call.conditional) for call in proxied.take() if call.operation == "merge entity"]
    assert merges[:2] == [(204, True), (412, True)]  # the claim went through; its retry met our own new ETag
    assert entity(lead_id)["Status"] == "done" and len(standins.graph.messages) == 1
