"""The shared Web API session: what it logs while retrying never holds a URL's query (secrets, emails)."""

from __future__ import annotations

import logging
import socket

import pytest
import requests

from leads.adapters.webapi import RETRIED_STATUSES, new_session, send_retry_rules


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
