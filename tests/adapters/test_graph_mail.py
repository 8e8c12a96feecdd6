"""Mail through Microsoft Graph, against the Entra ID and Graph stand-ins over real sockets."""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

from devtools.standins import Ports, StandIns, start_all
from leads.adapters.graph_mail import GraphMailer
from leads.adapters.mailers import new_mailer
from leads.adapters.signin import TokenSource, UsernamePasswordTokens, token_source
from leads.adapters.smtp_mail import SmtpMailer
from leads.adapters.webapi import new_session, retry_rules, send_retry_rules
from leads.core.errors import MailError
from leads.core.messages import DynamicsState, Email, failure_alert, lead_notification
from leads.core.payload import parse_lead
from leads.settings import load_dynamics, load_mail
from leads.steps.ports import Mailer
from tests.leadsamples import marketplace_lead

NOTIFY_TO = ("sales@fabrikam.example", "ceo@fabrikam.example", "leads@fabrikam.example")
LEAD = parse_lead(marketplace_lead())
EMAIL = lead_notification(LEAD, datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC), DynamicsState("held"))


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIns]:
    # No listener on 127.0.0.1:443: only the delegated test below needs one, and starts its own.
    running = start_all(tmp_path_factory.mktemp("standins"), ports=Ports(user_realm=None))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOOPBACK_CA_FILE", running.settings["LOOPBACK_CA_FILE"])  # MSAL trusts the test CA too
        yield running
    running.stop()


@pytest.fixture
def env(standins: StandIns) -> dict[str, str]:
    standins.reset()
    return {**standins.settings, "NOTIFY_TO": ";".join(NOTIFY_TO), "MAIL_TRANSPORT": "graph"}


def fast_session(total: int = 2) -> requests.Session:
    """The production retry rules without the back-off waits, for tests of what happens after retrying."""
    return new_session(retry_rules(total=total, backoff_factor=0))


def graph_mailer(env: dict[str, str], session: requests.Session | None = None, **overrides: str) -> Mailer:
    """A Graph mailer as the app builds one (the sending retry rules), unless a session is given."""
    settings = {**env, **overrides}
    session = session or new_session(send_retry_rules())
    mailer = new_mailer(load_mail(settings), token_source(load_dynamics(settings)), session)
    assert isinstance(mailer, GraphMailer)
    return mailer


def send_mail_requests(standins: StandIns) -> list[int]:
    return [entry.status for entry in standins.graph.requests if entry.path.endswith("/sendMail")]


def graph_tokens(standins: StandIns) -> int:
    return standins.entra.token_request_count(audience=standins.settings["GRAPH_URL"])


class CountingTokens:
    """A real token source that counts how often the mailer asks it to forget its tokens."""

    def __init__(self, inner: TokenSource) -> None:
        self.inner = inner
        self.forgotten = 0

    def token(self, scope: str) -> str:
        return self.inner.token(scope)

    def forget(self) -> None:
        self.forgotten += 1
        self.inner.forget()


# --- sending -------------------------------------------------------------------------------------


def test_send_delivers_one_message_with_text_and_html_to_every_contact(standins: StandIns, env: dict[str, str]) -> None:
    graph_mailer(env).send(EMAIL)

    assert send_mail_requests(standins) == [202]
    [message] = standins.graph.messages
    assert message.mime  # base64 MIME: Graph's JSON message could carry only one of the two bodies
    assert message.sender == env["NOTIFY_FROM"]
    assert message.to == NOTIFY_TO and message.cc == () and message.bcc == ()
    assert message.subject == EMAIL.subject
    assert message.content.strip() == EMAIL.html.strip()
    [request] = [entry for entry in standins.graph.requests if entry.path.endswith("/sendMail")]
    sent = email.message_from_bytes(base64.b64decode(str(request.body)), policy=email.policy.default)
    assert isinstance(sent, EmailMessage)
    plain, html = sent.get_body(("plain",)), sent.get_body(("html",))
    assert plain is not None and plain.get_content().strip() == EMAIL.text.strip()
    assert html is not None and html.get_content().strip() == EMAIL.html.strip()
    assert request.headers["authorization"] == "Bearer"  # the stand-in refuses requests without a bearer token
    assert request.principal == f"app:{env['AZURE_CLIENT_ID']}"
    assert request.path == f"/v1.0/users/{env['NOTIFY_FROM']}/sendMail"


def test_one_token_serves_many_sends(standins: StandIns, env: dict[str, str]) -> None:
    mailer = graph_mailer(env)
    for _ in range(4):
        mailer.send(EMAIL)

    assert len(standins.graph.messages) == 4
    assert graph_tokens(standins) == 1
    [token_request] = standins.entra.token_requests
    assert token_request.grant_type == "client_credentials"
    assert token_request.scope == f"{env['GRAPH_URL']}/.default"


def test_throttling_waits_for_retry_after_then_sends(standins: StandIns, env: dict[str, str]) -> None:
    mailer = graph_mailer(env)
    standins.graph.fail_next(429, retry_after=1, path="sendMail")

    started = time.monotonic()
    mailer.send(EMAIL)

    assert time.monotonic() - started >= 1
    assert send_mail_requests(standins) == [429, 202]
    assert len(standins.graph.messages) == 1


def test_server_error_is_retried_then_sends(standins: StandIns, env: dict[str, str]) -> None:
    standins.graph.fail_next(503, path="sendMail")
    graph_mailer(env).send(EMAIL)
    assert send_mail_requests(standins) == [503, 202]
    assert len(standins.graph.messages) == 1


def test_persistent_server_error_is_transient(standins: StandIns, env: dict[str, str]) -> None:
    standins.graph.fail_next(503, times=10, path="sendMail")
    with pytest.raises(MailError) as raised:
        graph_mailer(env, fast_session(total=2)).send(EMAIL)
    assert raised.value.transient
    assert "HTTP 503" in str(raised.value)
    assert send_mail_requests(standins) == [503, 503, 503]
    assert standins.graph.messages == []


def test_a_500_is_not_resent_at_once(standins: StandIns, env: dict[str, str]) -> None:
    # Graph may have sent the mail before failing: resending at once could deliver it twice. The queue retries later.
    standins.graph.fail_next(500, path="sendMail")
    with pytest.raises(MailError) as raised:
        graph_mailer(env).send(EMAIL)
    assert raised.value.transient
    assert send_mail_requests(standins) == [500]


def test_throttling_longer_than_the_app_waits_is_transient(standins: StandIns, env: dict[str, str]) -> None:
    standins.graph.fail_next(429, retry_after=3600, path="sendMail")
    started = time.monotonic()
    with pytest.raises(MailError) as raised:
        graph_mailer(env).send(EMAIL)
    assert raised.value.transient
    assert time.monotonic() - started < 10


# --- refusals ------------------------------------------------------------------------------------


def test_missing_mail_send_permission_says_so(standins: StandIns, env: dict[str, str]) -> None:
    standins.graph.permissions.discard("Mail.Send")
    with pytest.raises(MailError) as raised:
        graph_mailer(env).send(EMAIL)
    error = raised.value
    assert not error.transient
    assert "HTTP 403" in str(error)
    assert "application permission Mail.Send" in str(error)
    assert "admin consent" in str(error)
    assert "RBAC for Applications" in str(error)
    assert "ErrorAccessDenied" in str(error)


def test_unknown_mailbox_names_notify_from(standins: StandIns, env: dict[str, str]) -> None:
    with pytest.raises(MailError) as raised:
        graph_mailer(env, NOTIFY_FROM="nobody@contoso.onmicrosoft.com").send(EMAIL)
    error = raised.value
    assert not error.transient
    assert "NOTIFY_FROM" in str(error) and "HTTP 404" in str(error)
    assert "nobody@" not in str(error)  # Graph's message quotes the address; ours does not


def test_revoked_token_is_forgotten_and_replaced_once(standins: StandIns, env: dict[str, str]) -> None:
    settings = {**env}
    tokens = CountingTokens(token_source(load_dynamics(settings)))
    mailer = GraphMailer(load_mail(settings), tokens, new_session())
    mailer.send(EMAIL)
    standins.entra.revoke_all_tokens()  # the cached token is now refused with 401

    mailer.send(EMAIL)

    assert tokens.forgotten == 1
    assert send_mail_requests(standins) == [202, 401, 202]
    assert graph_tokens(standins) == 2
    assert len(standins.graph.messages) == 2


def test_persistent_401_is_permanent_after_one_retry(standins: StandIns, env: dict[str, str]) -> None:
    tokens = CountingTokens(token_source(load_dynamics(env)))
    mailer = GraphMailer(load_mail(env), tokens, new_session())
    standins.graph.fail_next(401, times=5, path="sendMail")

    with pytest.raises(MailError) as raised:
        mailer.send(EMAIL)

    assert not raised.value.transient
    assert "GRAPH_URL" in str(raised.value) and "AZURE_AUTHORITY_HOST" in str(raised.value)
    assert tokens.forgotten == 1
    assert send_mail_requests(standins) == [401, 401]


def test_sign_in_failure_is_permanent_with_its_advice(standins: StandIns, env: dict[str, str]) -> None:
    with pytest.raises(MailError) as raised:
        graph_mailer(env, AZURE_CLIENT_SECRET="not-the-secret").send(EMAIL)
    assert not raised.value.transient
    assert "AZURE_CLIENT_SECRET" in str(raised.value)
    assert "not-the-secret" not in str(raised.value)
    assert send_mail_requests(standins) == []


def closed_port() -> int:
    with socket.socket() as probe:  # bound, never listening, then closed: nothing answers there
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_graph_is_transient(standins: StandIns, env: dict[str, str]) -> None:
    graph_url = f"http://127.0.0.1:{closed_port()}"
    standins.entra.add_resource(graph_url)  # Entra ID knows it; only the connection fails
    with pytest.raises(MailError) as raised:
        graph_mailer(env, fast_session(total=1), GRAPH_URL=graph_url).send(EMAIL)
    assert raised.value.transient
    assert "GRAPH_URL" in str(raised.value) and "could not connect" in str(raised.value)
    assert env["NOTIFY_FROM"] not in str(raised.value)


def test_graph_url_of_another_cloud_is_named(env: dict[str, str]) -> None:
    with pytest.raises(MailError) as raised:
        graph_mailer(env, GRAPH_URL=f"http://127.0.0.1:{closed_port()}").send(EMAIL)
    assert not raised.value.transient
    assert "GRAPH_URL" in str(raised.value) and "AADSTS500011" in str(raised.value)
    assert "DYNAMICS_URL" not in str(raised.value)


def test_timeout_is_transient(standins: StandIns, env: dict[str, str]) -> None:
    settings = {**env}
    session = new_session(send_retry_rules())  # what the app sends with: no resend after a time-out
    mailer = GraphMailer(load_mail(settings), token_source(load_dynamics(settings)), session, timeout=(2, 0.3))
    mailer.check()  # signed in and connected before the clock matters
    standins.graph.fail_next(delay=1, path="sendMail")

    with pytest.raises(MailError) as raised:
        mailer.send(EMAIL)

    assert raised.value.transient
    # The stand-in still accepts the message after its delay, as Graph might: the queue's retry may duplicate it.
    assert standins.graph.wait_for(lambda: len(standins.graph.messages) == 1)
    # ...and logs the request once it has answered: wait for that too, so it cannot spill into the next test.
    assert standins.graph.wait_for(lambda: send_mail_requests(standins) == [202])
    time.sleep(0.5)  # a resend would have arrived by now
    assert len(standins.graph.messages) == 1


# --- check ---------------------------------------------------------------------------------------


def test_check_finds_the_mailbox_without_sending(standins: StandIns, env: dict[str, str]) -> None:
    result = graph_mailer(env).check()
    assert "signed in" in result and "NOTIFY_FROM mailbox exists" in result
    assert standins.graph.messages == []
    assert [entry.status for entry in standins.graph.requests] == [200]


def test_check_reports_a_missing_mailbox(env: dict[str, str]) -> None:
    with pytest.raises(MailError) as raised:
        graph_mailer(env, NOTIFY_FROM="nobody@contoso.onmicrosoft.com").check()
    assert not raised.value.transient
    assert "NOTIFY_FROM" in str(raised.value) and "404" in str(raised.value)


def test_check_without_user_read_all_still_passes(standins: StandIns, env: dict[str, str]) -> None:
    # Mail.Send alone cannot read users; that must not fail the check of a setup that can send.
    standins.graph.permissions.discard("User.Read.All")
    result = graph_mailer(env).check()
    assert "User.Read.All" in result


def test_check_reports_a_sign_in_failure(env: dict[str, str]) -> None:
    with pytest.raises(MailError) as raised:
        graph_mailer(env, AZURE_CLIENT_SECRET="not-the-secret").check()
    assert "AZURE_CLIENT_SECRET" in str(raised.value)


# --- choosing and configuring the transport ------------------------------------------------------


def test_new_mailer_follows_the_settings(env: dict[str, str]) -> None:
    dynamics = load_dynamics(env)
    session = new_session()
    assert new_mailer(load_mail({**env, "NOTIFY_TO": ""}), token_source(dynamics), session) is None
    assert new_mailer(load_mail({**env, "MAIL_TRANSPORT": "none"}), token_source(dynamics), session) is None
    assert isinstance(new_mailer(load_mail({**env, "MAIL_TRANSPORT": "smtp"}), None, session), SmtpMailer)

    app_only = new_mailer(load_mail(env), token_source(dynamics), session)
    assert isinstance(app_only, GraphMailer)
    assert app_only.scope == f"{env['GRAPH_URL']}/.default"
    delegated_source = token_source(load_dynamics({**env, "DYNAMICS_AUTH": "username_password"}))
    assert isinstance(delegated_source, UsernamePasswordTokens)
    delegated = new_mailer(load_mail(env), delegated_source, session)
    assert isinstance(delegated, GraphMailer)
    assert delegated.scope == f"{env['GRAPH_URL']}/Mail.Send"

    with pytest.raises(MailError) as raised:
        new_mailer(load_mail(env), None, session)
    assert not raised.value.transient


def test_delegated_user_token_sends(standins: StandIns, env: dict[str, str], tmp_path: Path) -> None:
    # A password sign-in needs MSAL's user-realm lookup on 127.0.0.1:443, so this test has its own stand-ins.
    with start_all(tmp_path / "delegated") as own:
        if own.entra.user_realm_error:
            pytest.skip(own.entra.user_realm_error)
        settings = {**own.settings, "NOTIFY_TO": ";".join(NOTIFY_TO), "DYNAMICS_AUTH": "username_password"}
        mailer = new_mailer(load_mail(settings), token_source(load_dynamics(settings)), new_session())
        assert mailer is not None
        mailer.send(EMAIL)
        mailer.send(EMAIL)

        assert len(own.graph.messages) == 2
        assert {message.principal for message in own.graph.messages} == {f"user:{settings['DYNAMICS_USERNAME']}"}
        [token_request] = own.entra.token_requests
        assert token_request.grant_type == "password"
        assert token_request.scope.split()[0] == f"{settings['GRAPH_URL']}/Mail.Send"


# --- personal data -------------------------------------------------------------------------------


def test_no_personal_data_in_logs_or_errors(
    standins: StandIns, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mailer = graph_mailer(env)
    standins.graph.fail_next(429, retry_after=0, path="sendMail")
    mailer.send(EMAIL)
    errors: list[MailError] = []
    for status in (400, 403, 404, 500):
        standins.graph.fail_next(status, times=10, path="sendMail")
        try:
            graph_mailer(env, fast_session(total=0)).send(EMAIL)
        except MailError as error:
            errors.append(error)
        standins.graph.reset()
    alert: Email = failure_alert(LEAD.lead_id, LEAD.offer_title, False, str(errors[0]), None)
    graph_mailer(env).send(alert)

    assert len(errors) == 4
    seen = caplog.text + "\n".join(map(str, errors))
    assert "notification accepted by Microsoft Graph" in caplog.text
    for personal in (LEAD.contact.email, LEAD.contact.phone, LEAD.contact.last_name, *NOTIFY_TO):
        assert personal not in seen
