"""The shared Web API session: what it logs while retrying never holds a URL's query (secrets, emails)."""

from __future__ import annotations

import logging
import socket

import pytest
import requests

from devtools.standins import StandIns
from leads import runtime
from leads.adapters.webapi import RETRIED_STATUSES, new_session, send_retry_rules
from leads.core import deadline, mapping
from leads.core.errors import DataverseUnavailable


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_retries_are_logged_without_the_query(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{closed_port()}/api/contacts?$filter=emailaddress1 eq 'ada@contoso.example'&sig=S3CRET"
    with pytest.raises(requests.ConnectionError):
        new_session(send_retry_rules(RETRIED_STATUSES)).get(url, timeout=2)
    retries = [record for record in caplog.records if record.name.startswith("urllib3")]
    assert any("Retrying" in record.getMessage() for record in retries)  # urllib3 did log the retries
    assert all(
        "/api/contacts?…" in record.getMessage() or "/api/contacts" not in record.getMessage() for record in retries
    )
    assert "S3CRET" not in caplog.text and "ada@contoso.example" not in caplog.text


def test_retries_stop_where_the_delivery_budget_ends(app_env: dict[str, str], standins: StandIns) -> None:
    """Throttled with Retry-After 1 s, a create is tried 5 times (4 retries) without a budget; with 2.5 s left only
    as often as the waits fit, and the error goes back to the queue rather than outliving functionTimeout."""
    body = {"subject": "budget"}
    standins.dataverse.fail_next(429, retry_after=1, times=100, method="PATCH")
    with pytest.raises(DataverseUnavailable):
        runtime.dataverse().create_lead(mapping.dataverse_lead_id("a" * 32), body)
    unlimited = len([r for r in standins.dataverse.requests if r.method == "PATCH"])
    standins.dataverse.reset()
    standins.dataverse.fail_next(429, retry_after=1, times=100, method="PATCH")
    with deadline.within(2.5), pytest.raises(DataverseUnavailable):
        runtime.dataverse().create_lead(mapping.dataverse_lead_id("b" * 32), body)
    limited = len([r for r in standins.dataverse.requests if r.method == "PATCH"])
    assert (unlimited, limited) == (5, 2)
