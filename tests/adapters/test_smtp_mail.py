"""Mail through SMTP, against the aiosmtpd mail catcher over real sockets."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from devtools.standins import Ports, SmtpStandIn, StandIns, shared_ca, start_all
from leads.adapters.smtp_mail import SmtpMailer
from leads.core.errors import MailError
from leads.core.messages import DynamicsState, lead_notification
from leads.core.payload import parse_lead
from leads.settings import MailSettings, load_mail
from tests.leadsamples import marketplace_lead

# start_all(smtp_auth=True) accepts AUTH without TLS, as a local catcher may; aiosmtpd warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

NOTIFY_TO = ("sales@fabrikam.example", "ceo@fabrikam.example", "leads@fabrikam.example")
INJECTION = "CTO\r\nBcc: x@example.com"
LEAD = parse_lead(marketplace_lead())
EMAIL = lead_notification(LEAD, datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC), DynamicsState("held"))


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIns]:
    running = start_all(tmp_path_factory.mktemp("standins"), ports=Ports(user_realm=None), smtp_auth=True)
    yield running
    running.stop()


@pytest.fixture
def env(standins: StandIns) -> dict[str, str]:
    standins.smtp.reset()
    return {**standins.settings, "NOTIFY_TO": ";".join(NOTIFY_TO), "MAIL_TRANSPORT": "smtp"}


@pytest.fixture(scope="module")
def tls_server() -> Iterator[SmtpStandIn]:
    """A submission server as on port 587: STARTTLS with the test CA, AUTH only after it."""
    with SmtpStandIn(username="tls-user", password="tls-password", starttls=True) as server:
        yield server


def tls_settings(server: SmtpStandIn, **overrides: str) -> MailSettings:
    return load_mail(
        {
            "NOTIFY_TO": ";".join(NOTIFY_TO),
            "NOTIFY_FROM": "leads@contoso.example",
            "MAIL_TRANSPORT": "smtp",
            "SMTP_HOST": server.host,
            "SMTP_PORT": str(server.port),
            "SMTP_USERNAME": "tls-user",
            "SMTP_PASSWORD": "tls-password",
            **overrides,
        }
    )


def mailer(env: dict[str, str], **overrides: str) -> SmtpMailer:
    return SmtpMailer(load_mail({**env, **overrides}))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- sending -------------------------------------------------------------------------------------


def test_send_delivers_both_parts_to_every_contact(standins: StandIns, env: dict[str, str]) -> None:
    mailer(env).send(EMAIL)

    [mail] = standins.smtp.messages
    assert mail.mail_from == env["NOTIFY_FROM"]
    assert mail.rcpt_tos == NOTIFY_TO
    assert mail.auth_user == env["SMTP_USERNAME"]  # signed in with SMTP AUTH
    message = mail.message
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == EMAIL.subject
    assert message["From"] == env["NOTIFY_FROM"]
    assert [address.addr_spec for address in message["To"].addresses] == list(NOTIFY_TO)
    assert message["Message-ID"].endswith("@contoso.onmicrosoft.com>")
    assert abs((parsedate_to_datetime(message["Date"]) - datetime.now(UTC)).total_seconds()) < 60
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and rich is not None
    # On the wire lines end in CRLF, and set_content() ends the text with one.
    assert plain.get_content().replace("\r\n", "\n") == EMAIL.text + "\n"
    assert rich.get_content().replace("\r\n", "\n") == EMAIL.html


def test_injected_headers_do_not_reach_the_message(standins: StandIns, env: dict[str, str]) -> None:
    lead = parse_lead(
        marketplace_lead(
            UserDetails={"Title": INJECTION, "Company": INJECTION, "Email": "x@example.com\r\nBcc: y@example.com"},
            OfferTitle=INJECTION,
        )
    )
    mailer(env).send(lead_notification(lead, datetime.now(UTC), DynamicsState("held")))

    [mail] = standins.smtp.messages
    assert mail.rcpt_tos == NOTIFY_TO
    assert mail.message["Bcc"] is None
    assert b"\nBcc:" not in mail.raw and b"\r\nBcc:" not in mail.raw
    subject = mail.message["Subject"]
    assert "\r" not in subject and "\n" not in subject


def test_starttls_then_auth(tls_server: SmtpStandIn) -> None:
    tls_server.reset()
    SmtpMailer(tls_settings(tls_server), ssl_context=shared_ca().client_context()).send(EMAIL)

    [mail] = tls_server.messages
    assert mail.tls and mail.auth_user == "tls-user"
    assert mail.rcpt_tos == NOTIFY_TO


def test_untrusted_certificate_is_permanent(tls_server: SmtpStandIn) -> None:
    with pytest.raises(MailError) as raised:
        SmtpMailer(tls_settings(tls_server)).send(EMAIL)  # the system CAs do not know the test CA
    assert not raised.value.transient
    assert "certificate" in str(raised.value)


def test_starttls_missing_at_the_server_is_permanent(env: dict[str, str]) -> None:
    with pytest.raises(MailError) as raised:
        mailer(env, SMTP_STARTTLS="true").send(EMAIL)
    assert not raised.value.transient
    assert "STARTTLS" in str(raised.value) and "SMTP_STARTTLS" in str(raised.value)


# --- refusals ------------------------------------------------------------------------------------


def test_wrong_password_is_permanent_and_names_the_settings(standins: StandIns, env: dict[str, str]) -> None:
    with pytest.raises(MailError) as raised:
        mailer(env, SMTP_PASSWORD="not-the-password").send(EMAIL)
    error = raised.value
    assert not error.transient
    assert "SMTP 535" in str(error)
    assert "SMTP_USERNAME" in str(error) and "SMTP_PASSWORD" in str(error)
    assert "not-the-password" not in str(error)
    assert standins.smtp.messages == []


def test_missing_credentials_are_permanent(env: dict[str, str]) -> None:
    settings = {key: value for key, value in env.items() if not key.startswith("SMTP_USERNAME")}
    with pytest.raises(MailError) as raised:
        mailer(settings).send(EMAIL)
    assert not raised.value.transient
    assert "SMTP 530" in str(raised.value) and "SMTP_USERNAME" in str(raised.value)


@pytest.mark.parametrize("stage", ["MAIL", "DATA"])
def test_4xx_is_transient(standins: StandIns, env: dict[str, str], stage: str) -> None:
    standins.smtp.fail_next(451, stage=stage)
    with pytest.raises(MailError) as raised:
        mailer(env).send(EMAIL)
    assert raised.value.transient
    assert "SMTP 451" in str(raised.value)
    assert standins.smtp.messages == []


def test_every_recipient_deferred_is_transient(standins: StandIns, env: dict[str, str]) -> None:
    standins.smtp.fail_next(450, stage="RCPT", times=len(NOTIFY_TO))
    with pytest.raises(MailError) as raised:
        mailer(env).send(EMAIL)
    assert raised.value.transient


@pytest.mark.parametrize(
    ("stage", "setting"),
    [("MAIL", "NOTIFY_FROM"), ("RCPT", "NOTIFY_TO"), ("DATA", "NOTIFY_TO")],
)
def test_5xx_is_permanent(standins: StandIns, env: dict[str, str], stage: str, setting: str) -> None:
    # A real server's reply can quote an address; the error must not.
    standins.smtp.fail_next(550, "5.1.1 <sales@fabrikam.example>: rejected", stage=stage, times=len(NOTIFY_TO))
    with pytest.raises(MailError) as raised:
        mailer(env).send(EMAIL)
    error = raised.value
    assert not error.transient
    assert "550" in str(error) and setting in str(error)
    assert "sales@fabrikam.example" not in str(error)
    assert standins.smtp.messages == []


def test_one_refused_recipient_does_not_stop_the_others(
    standins: StandIns, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    standins.smtp.fail_next(550, stage="RCPT")
    mailer(env).send(EMAIL)  # raising would make the queue send it again to those who have it

    [mail] = standins.smtp.messages
    assert mail.rcpt_tos == NOTIFY_TO[1:]
    assert "refused 1 of the NOTIFY_TO recipients" in caplog.text
    assert NOTIFY_TO[0] not in caplog.text


def test_unreachable_server_is_transient(env: dict[str, str]) -> None:
    with pytest.raises(MailError) as raised:
        mailer(env, SMTP_PORT=str(closed_port())).send(EMAIL)
    assert raised.value.transient
    assert "SMTP_HOST" in str(raised.value)


# --- check ---------------------------------------------------------------------------------------


def test_check_signs_in_without_sending(standins: StandIns, env: dict[str, str]) -> None:
    result = mailer(env).check()
    assert "signed in with SMTP_USERNAME" in result and "NOOP" in result
    assert standins.smtp.messages == []


def test_check_with_starttls(tls_server: SmtpStandIn) -> None:
    result = SmtpMailer(tls_settings(tls_server), ssl_context=shared_ca().client_context()).check()
    assert "STARTTLS" in result


def test_check_reports_bad_settings(env: dict[str, str]) -> None:
    with pytest.raises(MailError) as raised:
        mailer(env, SMTP_PASSWORD="not-the-password").check()
    assert "SMTP_PASSWORD" in str(raised.value)
    with pytest.raises(MailError) as raised:
        mailer(env, SMTP_PORT=str(closed_port())).check()
    assert raised.value.transient


# --- personal data -------------------------------------------------------------------------------


def test_no_personal_data_in_logs_or_errors(
    standins: StandIns, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mailer(env).send(EMAIL)
    errors: list[MailError] = []
    for code, stage in ((451, "DATA"), (550, "RCPT"), (553, "MAIL")):
        standins.smtp.fail_next(code, f"5.1.1 <{LEAD.contact.email}> refused", stage=stage, times=len(NOTIFY_TO))
        with pytest.raises(MailError) as raised:
            mailer(env).send(EMAIL)
        errors.append(raised.value)

    seen = caplog.text + "\n".join(map(str, errors))
    assert "notification accepted by the SMTP server" in caplog.text
    for personal in (LEAD.contact.email, LEAD.contact.phone, LEAD.contact.last_name, *NOTIFY_TO):
        assert personal not in seen
