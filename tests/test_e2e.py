"""The whole app on the local development host, over HTTP: marketplace POST → table → queue → Dynamics + mail."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.host import LocalHost
from devtools.standins import StandIns
from leads import runtime
from leads.core import clock, lead_row
from leads.core.payload import parse_lead
from tests.leadsamples import marketplace_lead, validation_lead


def wait_until(condition: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not reached within {seconds}s")


@contextmanager
def local_host(project_root: Path, tmp_path: Path) -> Iterator[str]:
    """The project's own function_app.py and host.json, with retries shortened so the poison path is quick."""
    host_json = json.loads((project_root / "host.json").read_text())
    host_json["extensions"]["queues"] |= {
        "visibilityTimeout": "00:00:01",
        "maxDequeueCount": 2,
        "maxPollingInterval": "00:00:00.200",
    }
    (tmp_path / "host.json").write_text(json.dumps(host_json))
    with LocalHost(project_root, port=0, host_json=tmp_path / "host.json") as running:
        yield f"{running.base_url}/api/leads"


@pytest.fixture
def host(app_env: dict[str, str], project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("RECONCILE_SCHEDULE", "0 0 0 1 1 *")  # the timers stay out of the way
    with local_host(project_root, tmp_path) as url:
        yield url


def status_of(lead_id: str) -> str | None:
    entity = runtime.lead_table().get(lead_id)
    return entity.get("Status") if entity else None


def mails(standins: StandIns, transport: str) -> list[tuple[str, tuple[str, ...]]]:
    """(subject, recipients) of every notification the transport delivered."""
    if transport == "graph":
        return [(mail.subject, mail.to) for mail in standins.graph.messages]
    return [(mail.subject, tuple(sorted(mail.message.get_all("To", [])))) for mail in standins.smtp.messages]


@pytest.mark.parametrize("transport", ["graph", "smtp"])
def test_marketplace_test_lead_goes_all_the_way(
    host: str, standins: StandIns, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv("MAIL_TRANSPORT", transport)
    runtime.reset()
    response = requests.post(host, json=validation_lead(), params={"code": "any"}, timeout=10)
    assert response.status_code == 202
    assert response.headers["Content-Type"].startswith("application/json")
    lead_id = response.json()["id"]
    wait_until(lambda: status_of(lead_id) == "done")
    [created] = standins.dataverse.leads.values()
    assert created["subject"].startswith("[Test] ")
    [(subject, recipients)] = mails(standins, transport)
    assert subject.startswith("[Test] ")
    assert "sales@contoso.example" in ", ".join(recipients) and "ceo@contoso.example" in ", ".join(recipients)
    again = requests.post(host, json=validation_lead(), timeout=10)
    assert again.json() == {"id": lead_id, "duplicate": True}
    time.sleep(1)
    assert len(standins.dataverse.leads) == 1
    assert len(mails(standins, transport)) == 1


def test_invalid_request_gets_json_4xx(host: str) -> None:
    response = requests.post(host, data=b"{nope", timeout=10)
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    too_big = requests.post(host, data=b"x" * 70_000, timeout=10)
    assert too_big.status_code == 413
    assert requests.get(host, timeout=10).status_code in (404, 405)


def test_a_lead_that_keeps_failing_ends_failed_with_an_alert(host: str, standins: StandIns) -> None:
    # Dataverse is throttled for longer than a delivery waits (Retry-After over 60 s): every delivery is told to try
    # later, until the host gives up and moves the message to leads-poison, whose function marks the lead failed and
    # tells the contacts: the lead itself (they must not miss it) and the alert.
    standins.dataverse.fail_next(429, retry_after=120, times=100, method="PATCH")
    lead = parse_lead(marketplace_lead(Description="stuck"))
    runtime.lead_table().insert(lead_row.new_entity(lead, clock.now()))
    runtime.lead_queue().send(lead_row.queue_message(lead.lead_id))
    wait_until(lambda: status_of(lead.lead_id) == "failed", seconds=40)
    row = runtime.lead_table().get(lead.lead_id)
    assert row is not None
    assert "gave up" in row["LastError"] and "DataverseUnavailable: 429" in row["LastError"]
    alert = wait_until(lambda: [m for m in standins.graph.messages if "could not be delivered" in m.subject])
    assert len(alert) == 1
    lead_mail = [m for m in standins.graph.messages if m.subject.startswith("New marketplace lead")]
    assert len(lead_mail) == 1 and standins.dataverse.leads == {}


def test_the_timer_recovers_a_stranded_lead(
    app_env: dict[str, str], standins: StandIns, project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stored, then the worker died before enqueueing it: only the reconciliation timer can bring it through.
    lead = parse_lead(marketplace_lead(Description="stranded"))
    runtime.lead_table().insert(lead_row.new_entity(lead, clock.now() - timedelta(minutes=15)))
    monkeypatch.setenv("RECONCILE_SCHEDULE", "*/1 * * * * *")
    monkeypatch.setenv("RECONCILE_GRACE_MINUTES", "10")
    runtime.reset()
    with local_host(project_root, tmp_path):
        wait_until(lambda: status_of(lead.lead_id) == "done")
    assert len(standins.dataverse.leads) == 1
    assert len(standins.graph.messages) == 1
