"""The reconciliation timer against Azurite: stranded leads are enqueued again, once."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta

from azure.core.exceptions import ResourceNotFoundError
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueClient

from function_app import reconcile_leads
from leads import runtime
from leads.core import clock, lead_row
from leads.core.payload import parse_lead
from leads.settings import StorageSettings
from leads.steps.reconcile import reconcile
from tests.leadsamples import marketplace_lead

timer = reconcile_leads.build().get_user_function()


def queued_ids(settings: StorageSettings) -> list[str]:
    client = QueueClient.from_connection_string(settings.connection_string, settings.queue_name)
    try:
        return [json.loads(base64.b64decode(m.content))["id"] for m in client.peek_messages(max_messages=32)]
    except ResourceNotFoundError:
        return []  # no queue yet: nothing was ever enqueued


def store_stranded(description: str, minutes_ago: int) -> str:
    """A lead stored but never enqueued, as after a crash between the two."""
    lead = parse_lead(marketplace_lead(Description=description))
    runtime.lead_table().insert(lead_row.new_entity(lead, clock.now() - timedelta(minutes=minutes_ago)))
    return lead.lead_id


def test_timer_enqueues_only_leads_stranded_past_the_grace_period(storage_env: StorageSettings) -> None:
    old = store_stranded("old", minutes_ago=30)
    store_stranded("fresh", minutes_ago=1)
    done = store_stranded("done", minutes_ago=30)
    runtime.lead_table().update(done, {"Status": "done", "UpdatedAt": clock.now() - timedelta(minutes=30)})
    timer(TimerRequest())
    assert queued_ids(storage_env) == [old]
    timer(TimerRequest())  # the next run does not enqueue it again while it is being processed
    assert queued_ids(storage_env) == [old]


def test_instances_running_at_once_enqueue_a_lead_once(storage_env: StorageSettings) -> None:
    lead_ids = {store_stranded(f"lead {n}", minutes_ago=60) for n in range(8)}
    results: list[list[str]] = []
    runs = [
        threading.Thread(
            target=lambda: results.append(reconcile(runtime.lead_table(), runtime.lead_queue(), timedelta(minutes=10)))
        )
        for _ in range(3)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    enqueued = [lead_id for result in results for lead_id in result]
    assert sorted(enqueued) == sorted(lead_ids)
    assert sorted(queued_ids(storage_env)) == sorted(lead_ids)


def test_no_table_yet_is_not_an_error(storage_env: StorageSettings) -> None:
    timer(TimerRequest())
    assert queued_ids(storage_env) == []
