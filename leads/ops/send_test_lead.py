"""`send-test-lead`: post a marketplace test lead to the endpoint and follow it through the pipeline."""

from __future__ import annotations

import time
from typing import Any, TextIO

import requests

from leads.adapters.lead_table import LeadTable
from leads.core import clock
from leads.core.errors import StorageUnavailable
from leads.core.lead_row import Status
from leads.core.validation_lead import dotnet_ticks, test_lead_payload
from leads.ops import failures
from leads.ops.common import FAIL, PASS, SKIP, open_table
from leads.settings import SettingsError, load_storage


def send_test_lead(
    url: str, code: str | None, out: TextIO, follow_seconds: float = 60.0, env: dict[str, str] | None = None
) -> int:
    payload = test_lead_payload(dotnet_ticks(clock.now()))
    params = {"code": code} if code else None
    print(f"POST {url} (lead {payload['UserDetails']['FirstName']})", file=out, flush=True)
    try:
        response = requests.post(url, json=payload, params=params, timeout=30)
    except requests.RequestException as exc:
        print(
            f"{FAIL} the endpoint did not answer ({exc.__class__.__name__}); is the app running (make run)?", file=out
        )
        return failures.UNREACHABLE
    print(f"{PASS if response.status_code == 202 else FAIL} {response.status_code} {response.text[:500]}", file=out)
    if response.status_code != 202:
        return failures.ATTENTION
    try:
        lead_id = str(response.json()["id"])
    except (ValueError, TypeError, KeyError):
        print(f"{FAIL} the answer has no lead id: is {url} this app's lead endpoint?", file=out)
        return failures.ATTENTION
    try:
        table = open_table(load_storage(env))
    except SettingsError:
        print(
            f"{SKIP} the lead table is not configured here; follow lead {lead_id} with `status` where it is", file=out
        )
        return 0
    return follow(table, lead_id, out, follow_seconds)


def follow(table: LeadTable, lead_id: str, out: TextIO, seconds: float) -> int:
    """Print each step the lead takes until it is done, held or failed."""
    steps = [
        ("Status", "stored"),
        ("DynamicsLeadId", "in Dynamics as"),
        ("NotifiedAt", "contacts notified at"),
        ("TeamsNotifiedAt", "Teams card posted at"),
    ]
    shown: set[str] = set()
    entity: dict[str, Any] | None = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            entity = table.get(lead_id)
        except StorageUnavailable:
            entity = None
        for field, label in steps:
            if entity and entity.get(field) and field not in shown:
                shown.add(field)
                value = entity[field]
                print(f"{PASS} {label} {value if field != 'Status' else ''}".rstrip(), file=out, flush=True)
        if entity and entity.get("Status") in (Status.DONE, Status.HELD, Status.FAILED):
            ok = entity["Status"] != Status.FAILED
            error = f": {entity.get('LastError')}" if not ok else ""
            print(f"{PASS if ok else FAIL} lead {lead_id} is {entity['Status']}{error}", file=out)
            return 0 if ok else 1
        time.sleep(0.5)
    if entity is None:
        print(
            f"{FAIL} lead {lead_id} is not in the table configured here (AzureWebJobsStorage, LEADS_TABLE): "
            "follow it with `status` where the endpoint's settings are",
            file=out,
        )
    else:
        print(
            f"{FAIL} lead {lead_id} is still {entity.get('Status')} after {seconds:.0f}s; is the queue function "
            "running?",
            file=out,
        )
    return 1
