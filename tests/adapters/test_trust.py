"""LOOPBACK_CA_FILE: a CA trusted in addition to the configured bundle, only for HTTPS to loopback. Real TLS servers
on loopback sockets, certificates from throwaway CAs (trustme), and the sessions the app builds."""

from __future__ import annotations

import io
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import certifi
import pytest
import requests
import trustme

from devtools.standins import StandIns
from leads.adapters import trust
from leads.adapters.webapi import new_session
from leads.ops import check


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:
        pass


Serve = Callable[..., str]


@pytest.fixture
def https_server() -> Iterator[Serve]:
    """``serve(ca, host)``: an HTTPS server on ``host`` with a certificate from ``ca``; its base URL."""
    servers: list[HTTPServer] = []

    def serve(ca: trustme.CA, host: str, name: str | None = None) -> str:
        server = HTTPServer((host, 0), _Hello)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(name or host).configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"https://{name or host}:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def pem(tmp_path: Path, name: str, *parts: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(b"".join(parts))
    return str(path)


def status_of(session: requests.Session, url: str) -> int | str:
    try:
        return session.get(url, timeout=5).status_code
    except requests.exceptions.SSLError:
        return "not trusted"


def test_the_loopback_ca_is_trusted_in_addition_to_the_configured_bundle(
    tmp_path: Path, https_server: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    standins_ca, corporate_ca = trustme.CA(), trustme.CA()
    standin = https_server(standins_ca, "127.0.0.1")
    corporate_local = https_server(corporate_ca, "127.0.0.1", "localhost")
    # A corporate machine: REQUESTS_CA_BUNDLE holds the public CAs and the company's own.
    bundle = pem(tmp_path, "bundle.pem", Path(certifi.where()).read_bytes(), corporate_ca.cert_pem.bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    monkeypatch.delenv(trust.SETTING, raising=False)
    assert status_of(new_session(), standin) == "not trusted"  # what `check` met: SSLCertVerificationError
    monkeypatch.setenv(trust.SETTING, pem(tmp_path, "standins.pem", standins_ca.cert_pem.bytes()))
    session = new_session()
    assert status_of(session, standin) == 200
    assert status_of(session, corporate_local) == 200  # the configured bundle still counts on loopback: in addition
    assert type(session.get_adapter(standin)) is trust.LoopbackTrust


def test_the_loopback_ca_is_not_trusted_for_other_hosts(
    tmp_path: Path, https_server: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    standins_ca = trustme.CA()
    # 127.0.0.2 is this machine too, but not one of the loopback names the stand-ins use: a stand-in for "elsewhere".
    elsewhere = https_server(standins_ca, "127.0.0.2")
    monkeypatch.setenv(trust.SETTING, pem(tmp_path, "standins.pem", standins_ca.cert_pem.bytes()))
    session = new_session()
    assert status_of(session, elsewhere) == "not trusted"
    for url in ("https://login.microsoftonline.com/", "https://127.0.0.10:8443/", "https://localhost.example/"):
        assert type(session.get_adapter(url)) is not trust.LoopbackTrust, url


def test_without_the_setting_sessions_and_msal_are_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(trust.SETTING, raising=False)
    assert all(type(adapter) is requests.adapters.HTTPAdapter for adapter in new_session().adapters.values())
    assert trust.msal_http_options(30) == {"timeout": 30}


def test_check_passes_against_the_standins_with_a_machine_wide_bundle(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This machine sets both globally; on another one, set them here: the stand-ins' CA must not replace them.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert app_env[trust.SETTING] == standins.settings["LOOPBACK_CA_FILE"]
    out = io.StringIO()
    assert check.check(out=out) == 0, out.getvalue()
    assert "✓ sign-in (client_secret)" in out.getvalue()


def test_without_the_loopback_ca_check_says_so_in_whole_words_and_promises_no_retry(
    app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.delenv(trust.SETTING)  # what `check` met before: the stand-ins' CA not trusted
    out = io.StringIO()
    assert check.check(out=out) == 1
    [line] = [line for line in out.getvalue().splitlines() if line.startswith("✗ sign-in")]
    assert "SSLError" in line and "will be retried" not in line
    assert line.endswith("…)") or line.endswith(")")
    assert "SSLCertVerificationErr…" not in line
