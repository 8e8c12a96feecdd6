"""The stand-ins behave like the documented services when driven by the real client libraries."""

from __future__ import annotations

import json
import signal
import smtplib
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import msal
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential

from devtools.standins import SmtpStandIn, StandIns, shared_ca, start_all

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ODATA = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
LEAD = {"subject": "Contoso Test", "firstname": "Ada", "lastname": "Lovelace", "leadsourcecode": 8}


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIns]:
    running = start_all(tmp_path_factory.mktemp("standins"))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh(standins: StandIns, monkeypatch: pytest.MonkeyPatch) -> None:
    standins.reset()
    # MSAL used directly (not through the app's trust.py): requests lets REQUESTS_CA_BUNDLE override a session's
    # verify=, so the environment is how it trusts the stand-ins' CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", standins.settings["LOOPBACK_CA_FILE"])


def confidential_app(standins: StandIns, secret: str | None = None) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        standins.app.client_id,
        client_credential=secret or standins.app.client_secret,
        authority=standins.entra.authority,
        instance_discovery=False,
    )


def app_token(standins: StandIns, resource: str) -> str:
    result = confidential_app(standins).acquire_token_for_client(scopes=[f"{resource}/.default"])
    token: str = result["access_token"]
    return token


def dataverse_headers(standins: StandIns, **extra: str) -> dict[str, str]:
    return {**ODATA, "Authorization": f"Bearer {app_token(standins, standins.dataverse.base_url)}", **extra}


def lead_url(standins: StandIns, lead_id: str | None = None) -> str:
    return f"{standins.dataverse.base_url}/api/data/v9.2/leads({lead_id or uuid.uuid4()})"


def graph_send(standins: StandIns, body: dict[str, Any], mailbox: str | None = None) -> requests.Response:
    token = app_token(standins, standins.graph.base_url)
    return requests.post(
        f"{standins.graph.base_url}/v1.0/users/{mailbox or standins.sender.address}/sendMail",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


MAIL = {
    "message": {
        "subject": "New lead",
        "body": {"contentType": "HTML", "content": "<p>lead</p>"},
        "toRecipients": [{"emailAddress": {"address": "sales@contoso.com"}}],
    },
    "saveToSentItems": False,
}


# --- Entra ID ------------------------------------------------------------------------------------


def test_client_credentials_token_is_issued_once_then_served_from_msal_cache(standins: StandIns) -> None:
    app = confidential_app(standins)
    scope = f"{standins.dataverse.base_url}/.default"

    first = app.acquire_token_for_client(scopes=[scope])
    second = app.acquire_token_for_client(scopes=[scope])

    assert first["token_type"] == "Bearer" and first["expires_in"] == 3599
    assert (first["token_source"], second["token_source"]) == ("identity_provider", "cache")
    assert standins.entra.token_request_count(audience=standins.dataverse.base_url) == 1
    assert standins.entra.tokens.is_valid(first["access_token"], standins.dataverse.base_url)
    assert not standins.entra.tokens.is_valid(first["access_token"], standins.graph.base_url)


def test_client_secret_errors_carry_the_real_aadsts_codes(standins: StandIns) -> None:
    scopes = [f"{standins.dataverse.base_url}/.default"]

    wrong = confidential_app(standins, secret="not-the-secret").acquire_token_for_client(scopes=scopes)
    standins.app.secret_expired = True
    expired = confidential_app(standins).acquire_token_for_client(scopes=scopes)
    unknown = msal.ConfidentialClientApplication(
        str(uuid.uuid4()), client_credential="x", authority=standins.entra.authority, instance_discovery=False
    ).acquire_token_for_client(scopes=scopes)

    assert wrong["error"] == "invalid_client" and wrong["error_description"].startswith("AADSTS7000215:")
    assert expired["error"] == "invalid_client" and expired["error_description"].startswith("AADSTS7000222:")
    assert unknown["error"] == "unauthorized_client" and unknown["error_description"].startswith("AADSTS700016:")
    assert standins.entra.token_request_count(succeeded=False) == 3
    assert "not-the-secret" not in json.dumps([entry.to_json() for entry in standins.entra.requests])


def test_unknown_tenant_fails_discovery_like_entra(standins: StandIns) -> None:
    tenant = str(uuid.uuid4())
    answer = requests.get(
        f"{standins.entra.base_url}/{tenant}/v2.0/.well-known/openid-configuration",
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_tenant"
    assert answer.json()["error_description"].startswith(f"AADSTS90002: Tenant '{tenant}' not found.")
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal.ConfidentialClientApplication(
            standins.app.client_id, client_credential="x", authority=f"{standins.entra.base_url}/{tenant}",
            instance_discovery=False,
        )  # fmt: skip


def test_username_password_sign_in_then_silent_from_cache(standins: StandIns) -> None:
    standins.entra.require_user_realm()
    app = msal.PublicClientApplication(
        standins.app.client_id, authority=standins.entra.authority, instance_discovery=False
    )
    scope = f"{standins.dataverse.base_url}/user_impersonation"

    with pytest.warns(DeprecationWarning, match="deprecated"):  # MSAL discourages ROPC
        result = app.acquire_token_by_username_password(standins.user.username, standins.user.password, [scope])
    accounts = app.get_accounts(username=standins.user.username)
    silent = app.acquire_token_silent([scope], account=accounts[0])
    with pytest.warns(DeprecationWarning, match="deprecated"):
        wrong = app.acquire_token_by_username_password(standins.user.username, "wrong", [scope])

    assert standins.entra.tokens.is_valid(result["access_token"], standins.dataverse.base_url)
    assert silent is not None and silent["token_source"] == "cache"
    assert wrong["error"] == "invalid_grant" and wrong["error_description"].startswith("AADSTS50126:")
    assert standins.entra.token_request_count(grant_type="password") == 1


def test_managed_identity_via_identity_endpoint(standins: StandIns, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", standins.settings["IDENTITY_ENDPOINT"])
    monkeypatch.setenv("IDENTITY_HEADER", standins.settings["IDENTITY_HEADER"])
    scope = f"{standins.dataverse.base_url}/.default"

    user_assigned = ManagedIdentityCredential(client_id=standins.managed_identity.client_id).get_token(scope)
    system_assigned = ManagedIdentityCredential().get_token(scope)
    with pytest.raises(ClientAuthenticationError, match="Unable to load the proper Managed Identity"):
        ManagedIdentityCredential(client_id=standins.app.client_id).get_token(scope)
    monkeypatch.setenv("IDENTITY_HEADER", "wrong")
    with pytest.raises(ClientAuthenticationError, match="401"):
        ManagedIdentityCredential().get_token(scope)

    for token in (user_assigned, system_assigned):
        assert standins.entra.tokens.is_valid(token.token, standins.dataverse.base_url)
        assert token.expires_on > time.time() + 3000
    principals = [entry.principal for entry in standins.entra.token_requests if entry.error is None]
    assert principals[0] == f"mi:{standins.managed_identity.client_id}"
    assert all(entry.headers.get("x-identity-header") == "***" for entry in standins.entra.msi.requests)


# --- Dataverse -----------------------------------------------------------------------------------


def test_dataverse_conditional_create_then_412(standins: StandIns) -> None:
    lead_id = str(uuid.uuid4())
    headers = dataverse_headers(standins, **{"If-None-Match": "*"})

    created = requests.patch(lead_url(standins, lead_id), json=LEAD, headers=headers, timeout=5)
    again = requests.patch(lead_url(standins, lead_id), json=LEAD, headers=headers, timeout=5)
    fetched = requests.get(lead_url(standins, lead_id), headers=headers, timeout=5)

    assert created.status_code == 204 and created.content == b""
    assert created.headers["OData-EntityId"] == f"{standins.dataverse.base_url}/api/data/v9.2/leads({lead_id})"
    assert again.status_code == 412
    assert again.json() == {
        "error": {"code": "0x80040237", "message": "A record with matching key values already exists."}
    }
    assert fetched.status_code == 200 and fetched.json()["fullname"] == "Ada Lovelace"
    stored = standins.dataverse.lead(lead_id)
    assert stored is not None
    assert stored["_createdby_value"] == standins.dataverse.user_id(f"app:{standins.app.client_id}")
    assert [standins.dataverse.header_problems(entry) for entry in standins.dataverse.requests] == [[], [], []]


def test_dataverse_if_match_updates_or_404s(standins: StandIns) -> None:
    lead_id = str(uuid.uuid4())
    headers = dataverse_headers(standins, **{"If-Match": "*"})

    missing = requests.patch(lead_url(standins, lead_id), json=LEAD, headers=headers, timeout=5)
    requests.patch(lead_url(standins, lead_id), json=LEAD, headers=dataverse_headers(standins), timeout=5)  # upsert
    updated = requests.patch(lead_url(standins, lead_id), json={"jobtitle": "CTO"}, headers=headers, timeout=5)

    assert missing.status_code == 404 and missing.json()["error"]["code"] == "0x80040217"
    assert updated.status_code == 204
    assert (standins.dataverse.lead(lead_id) or {}).get("jobtitle") == "CTO"


def test_dataverse_notes_are_found_by_their_lead_deleted_with_the_privilege_and_go_with_their_lead(
    standins: StandIns,
) -> None:
    lead_id = str(uuid.uuid4())
    requests.patch(lead_url(standins, lead_id), json=LEAD, headers=dataverse_headers(standins), timeout=5)
    first = standins.dataverse.records.add("annotations", _objectid_value=lead_id, notetext="a")
    second = standins.dataverse.records.add("annotations", _objectid_value=lead_id, notetext="b")
    other = standins.dataverse.records.add("annotations", _objectid_value=str(uuid.uuid4()), notetext="c")
    api = f"{standins.dataverse.base_url}/api/data/v9.2"
    found = requests.get(f"{api}/annotations", params={"$select": "annotationid", "$filter": f"_objectid_value eq "
                         f"{lead_id.upper()}"}, headers=dataverse_headers(standins), timeout=5)  # fmt: skip
    assert found.status_code == 200
    assert sorted(row["annotationid"] for row in found.json()["value"]) == sorted([first, second])

    refused = requests.delete(f"{api}/annotations({first})", headers=dataverse_headers(standins), timeout=5)
    assert refused.status_code == 403 and "missing prvDeleteNote privilege" in refused.json()["error"]["message"]
    standins.dataverse.privileges |= {"prvDeleteNote", "prvDeleteLead"}
    deleted = requests.delete(f"{api}/annotations({first})", headers=dataverse_headers(standins), timeout=5)
    again = requests.delete(f"{api}/annotations({first})", headers=dataverse_headers(standins), timeout=5)
    assert (deleted.status_code, again.status_code, again.json()["error"]["code"]) == (204, 404, "0x80040217")

    assert (
        requests.delete(lead_url(standins, lead_id), headers=dataverse_headers(standins), timeout=5).status_code == 204
    )
    remaining = [row["annotationid"] for row in standins.dataverse.records.query("annotations", {}, annotations=False)]
    assert remaining == [other]  # the lead's notes went with it


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {**LEAD, "companyname": "x" * 101},
            "0x80044331",
            "A validation error occurred. The length of the 'companyname' attribute of the 'lead' entity exceeded "
            "the maximum allowed length of '100'.",
        ),
        (
            {**LEAD, "x": 1},
            "0x80048d19",
            "Error identified in Payload provided by the user for Entity :'leads', For more information on this error "
            "please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : "
            "Microsoft.OData.ODataException: The property 'x' does not exist on type 'Microsoft.Dynamics.CRM.lead'. "
            "Make sure to only use property names that are defined by the type or mark the type as open type.",
        ),
        (
            {**LEAD, "leadsourcecode": 11},
            "0x8004431A",
            "A validation error occurred. The value 11 of 'leadsourcecode' on record of type 'lead' is outside the "
            "valid range. Accepted Values: 1,2,3,4,5,6,7,8,9,10",
        ),
        ({**LEAD, "firstname": 7}, "0x80048d19", None),
    ],
)
def test_dataverse_rejects_invalid_leads_with_400(
    standins: StandIns, body: dict[str, Any], code: str, message: str | None
) -> None:
    answer = requests.patch(lead_url(standins), json=body, headers=dataverse_headers(standins), timeout=5)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    if message:
        assert answer.json()["error"]["message"] == message
    assert standins.dataverse.leads == {}


def test_dataverse_rejects_bad_json(standins: StandIns) -> None:
    headers = dataverse_headers(standins, **{"Content-Type": "application/json"})
    answer = requests.patch(lead_url(standins), data=b"{not json", headers=headers, timeout=5)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "0x80048d19"


def test_dataverse_401_without_a_token_for_it(standins: StandIns) -> None:
    graph_token = app_token(standins, standins.graph.base_url)

    anonymous = requests.get(f"{standins.dataverse.base_url}/api/data/v9.2/WhoAmI", headers=ODATA, timeout=5)
    wrong_audience = requests.get(
        f"{standins.dataverse.base_url}/api/data/v9.2/WhoAmI",
        headers={**ODATA, "Authorization": f"Bearer {graph_token}"},
        timeout=5,
    )
    headers = dataverse_headers(standins)
    standins.entra.revoke_all_tokens()
    revoked = requests.get(f"{standins.dataverse.base_url}/api/data/v9.2/WhoAmI", headers=headers, timeout=5)

    for answer in (anonymous, wrong_audience, revoked):
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith(
            f"Bearer authorization_uri={standins.entra.authority}/oauth2/authorize"
        )
        assert "message" in answer.json()["error"]
    assert [entry.headers.get("authorization") for entry in standins.dataverse.requests] == [None, "Bearer", "Bearer"]


def test_dataverse_429_with_retry_after_then_recovers(standins: StandIns) -> None:
    standins.dataverse.fail_next(429, retry_after=1, method="PATCH")
    headers = dataverse_headers(standins)

    throttled = requests.patch(lead_url(standins), json=LEAD, headers=headers, timeout=5)
    accepted = requests.patch(lead_url(standins), json=LEAD, headers=headers, timeout=5)

    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"]["code"] == "0x80072322"
    assert accepted.status_code == 204
    assert [entry.fault for entry in standins.dataverse.requests] == ["status 429, Retry-After 1", None]


def test_dataverse_delay_outlasts_a_client_timeout(standins: StandIns) -> None:
    standins.dataverse.fail_next(delay=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{standins.dataverse.base_url}/api/data/v9.2/WhoAmI", headers=ODATA, timeout=0.2)


def test_dataverse_whoami_and_privileges(standins: StandIns) -> None:
    headers = dataverse_headers(standins)
    api = f"{standins.dataverse.base_url}/api/data/v9.2"

    who = requests.get(f"{api}/WhoAmI", headers=headers, timeout=5).json()
    privileges_url = f"{api}/systemusers({who['UserId']})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
    before = requests.get(privileges_url, headers=headers, timeout=5).json()
    standins.dataverse.privileges.discard("prvCreateLead")
    after = requests.get(privileges_url, headers=headers, timeout=5).json()
    refused = requests.patch(lead_url(standins), json=LEAD, headers=headers, timeout=5)

    assert set(who) >= {"BusinessUnitId", "UserId", "OrganizationId"}
    assert "prvCreateLead" in {item["PrivilegeName"] for item in before["RolePrivileges"]}
    assert "prvCreateLead" not in {item["PrivilegeName"] for item in after["RolePrivileges"]}
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "0x80040220"
    assert "is missing prvCreateLead privilege" in refused.json()["error"]["message"]


def test_dataverse_without_application_user_answers_403(standins: StandIns) -> None:
    standins.dataverse.application_user_missing = True
    answer = requests.get(
        f"{standins.dataverse.base_url}/api/data/v9.2/WhoAmI", headers=dataverse_headers(standins), timeout=5
    )
    assert answer.status_code == 403
    assert answer.json()["error"] == {"code": "0x80072560", "message": "The user is not a member of the organization."}


def test_dataverse_control_api_drives_faults_and_lists_leads(standins: StandIns) -> None:
    control = standins.dataverse.control_url
    headers = dataverse_headers(standins)

    requests.post(f"{control}/faults", json={"status": 503, "times": 1}, timeout=5).raise_for_status()
    unavailable = requests.patch(lead_url(standins), json=LEAD, headers=headers, timeout=5)
    requests.patch(lead_url(standins), json=LEAD, headers=headers, timeout=5)
    listed = requests.get(f"{control}/leads", timeout=5).json()["leads"]
    logged = requests.get(f"{control}/requests", timeout=5).json()["requests"]
    requests.post(f"{control}/reset", timeout=5).raise_for_status()

    assert unavailable.status_code == 503
    assert [lead["subject"] for lead in listed] == ["Contoso Test"]
    assert [entry["status"] for entry in logged] == [503, 204]
    assert standins.dataverse.leads == {}


# --- Graph ---------------------------------------------------------------------------------------


def test_graph_send_mail_202_and_recorded(standins: StandIns) -> None:
    answer = graph_send(standins, MAIL)

    assert answer.status_code == 202 and answer.content == b""
    [sent] = standins.graph.messages
    assert (sent.sender, sent.subject, sent.content_type, sent.to) == (
        standins.sender.address, "New lead", "HTML", ("sales@contoso.com",)
    )  # fmt: skip
    assert sent.save_to_sent_items is False and sent.principal == f"app:{standins.app.client_id}"


def test_graph_429_with_retry_after(standins: StandIns) -> None:
    standins.graph.fail_next(429, retry_after=2, path="/sendMail$")
    throttled = graph_send(standins, MAIL)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert graph_send(standins, MAIL).status_code == 202


def test_graph_refusals(standins: StandIns) -> None:
    bad_body = {"message": {**MAIL["message"], "body": {"contentType": "Markdown", "content": "x"}}}  # type: ignore[dict-item]

    unknown_sender = graph_send(standins, MAIL, mailbox="nobody@contoso.onmicrosoft.com")
    malformed = graph_send(standins, bad_body)
    no_token = requests.post(f"{standins.graph.base_url}/v1.0/users/x/sendMail", json=MAIL, timeout=5)
    standins.graph.permissions.discard("Mail.Send")
    denied = graph_send(standins, MAIL)

    assert unknown_sender.status_code == 404 and unknown_sender.json()["error"]["code"] == "ErrorInvalidUser"
    assert malformed.status_code == 400
    assert no_token.status_code == 401 and no_token.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "ErrorAccessDenied"
    assert standins.graph.messages == []


def test_graph_get_user(standins: StandIns) -> None:
    headers = {"Authorization": f"Bearer {app_token(standins, standins.graph.base_url)}"}
    found = requests.get(f"{standins.graph.base_url}/v1.0/users/{standins.sender.address}", headers=headers, timeout=5)
    missing = requests.get(f"{standins.graph.base_url}/v1.0/users/nobody@x.com", headers=headers, timeout=5)

    assert found.status_code == 200
    assert found.json()["id"] == standins.sender.id and found.json()["mail"] == standins.sender.address
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"


def test_graph_concurrency_limit_answers_429(standins: StandIns) -> None:
    standins.graph.concurrency_limit = 1
    standins.graph.fail_next(delay=0.5, times=1)  # holds the first request in flight
    token = app_token(standins, standins.graph.base_url)
    url = f"{standins.graph.base_url}/v1.0/users/{standins.sender.address}/sendMail"
    headers = {"Authorization": f"Bearer {token}"}
    slow = threading.Thread(target=requests.post, args=(url,), kwargs={"json": MAIL, "headers": headers, "timeout": 5})
    slow.start()
    assert standins.graph.wait_for(lambda: standins.graph.peak_in_flight == 1)
    second = requests.post(url, json=MAIL, headers=headers, timeout=5)
    slow.join()
    standins.graph.concurrency_limit = 4

    assert second.status_code == 429 and second.json()["error"]["code"] == "ApplicationThrottled"
    assert len(standins.graph.messages) == 1


# --- SMTP ----------------------------------------------------------------------------------------


def mail(to: str = "sales@contoso.com") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "leads@contoso.com", to, "New lead"
    message.set_content("A new lead arrived.")
    return message


def test_smtp_catches_mail_and_fails_on_request(standins: StandIns) -> None:
    standins.smtp.fail_next(451)
    with smtplib.SMTP(standins.smtp.host, standins.smtp.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(mail())
        client.send_message(mail())

    assert refused.value.smtp_code == 451
    [received] = standins.smtp.messages
    assert received.subject == "New lead" and received.rcpt_tos == ("sales@contoso.com",)
    assert received.text.strip() == "A new lead arrived."


def test_smtp_auth_and_starttls() -> None:
    with SmtpStandIn(username="user", password="secret", starttls=True) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.starttls(context=shared_ca().client_context())
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("user", "wrong")
            client.login("user", "secret")
            client.send_message(mail())
        [received] = server.messages

    assert received.auth_user == "user" and received.tls


# --- the combined process ------------------------------------------------------------------------


def ropc(settings: dict[str, str]) -> dict[str, Any]:
    app = msal.PublicClientApplication(
        settings["AZURE_CLIENT_ID"],
        authority=f"{settings['AZURE_AUTHORITY_HOST']}/{settings['AZURE_TENANT_ID']}",
        instance_discovery=False,
    )
    with pytest.warns(DeprecationWarning, match="deprecated"):
        result: dict[str, Any] = app.acquire_token_by_username_password(
            settings["DYNAMICS_USERNAME"], settings["DYNAMICS_PASSWORD"], [f"{settings['DYNAMICS_URL']}/.default"]
        )
    return result


def test_module_process_writes_settings_and_stops_on_sigterm(standins: StandIns, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.standins", "--state-dir", str(tmp_path)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    settings_file = tmp_path / "standins.json"
    try:
        deadline = time.monotonic() + 15
        while not settings_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        settings = json.loads(settings_file.read_text())
        health = requests.get(f"{settings['STANDIN_DATAVERSE_CONTROL']}/health", timeout=5)
        whoami = requests.get(f"{settings['DYNAMICS_URL']}/api/data/v9.2/WhoAmI", headers=ODATA, timeout=5)
        child_sign_in = ropc(settings) if standins.entra.user_realm_error is None else {}
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)

    assert process.returncode == 0, output
    assert health.json()["name"] == "dataverse" and whoami.status_code == 401
    assert set(settings) >= {
        "DYNAMICS_URL", "AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
        "DYNAMICS_USERNAME", "DYNAMICS_PASSWORD", "LOOPBACK_CA_FILE", "GRAPH_URL", "NOTIFY_FROM", "SMTP_HOST",
        "SMTP_PORT", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
    }  # fmt: skip
    assert settings["SMTP_STARTTLS"] == "false" and settings["AZURE_AUTHORITY_HOST"].startswith("https://127.0.0.1:")
    assert settings["AZURE_CLIENT_SECRET"] not in output and settings["DYNAMICS_PASSWORD"] not in output
    assert "stand-ins stopped" in output and not settings_file.exists()
    if standins.entra.user_realm_error is None:
        # Both processes served 127.0.0.1:443 together (SO_REUSEPORT), and it stays served after the child left.
        assert settings["STANDIN_USER_REALM"] == "https://127.0.0.1:443"
        assert "access_token" in child_sign_in and "token password" in output
        assert "access_token" in ropc(standins.settings)
