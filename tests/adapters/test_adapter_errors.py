"""No error an adapter raises carries a lead's email, phone or name, nor a webhook's signature: not in its message,
its args or attributes, its cause or context (the whole chain), nor the traceback the host would log.

The services are made to quote what they were sent, as real ones do (Dataverse's "Syntax error … in
'emailaddress1 eq …'", Graph's "The requested user '…'", an SMTP server's "550 <…>"), and the networks fail where
requests' messages hold a URL with the lead's email in a $filter or the webhook's sig=.
"""

from __future__ import annotations

import socket
import traceback
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from devtools.standins import StandIns
from leads.adapters.dataverse import Dataverse
from leads.adapters.graph_mail import GraphMailer
from leads.adapters.signin import token_source
from leads.adapters.smtp_mail import SmtpMailer
from leads.adapters.teams import TeamsWebhook, teams_session
from leads.adapters.webapi import new_session, retry_rules, send_retry_rules
from leads.core.errors import LeadsError
from leads.core.messages import DynamicsState, lead_notification
from leads.core.payload import parse_lead
from leads.core.teams_card import lead_card
from leads.settings import load_dynamics, load_mail
from tests.leadsamples import marketplace_lead

LEAD = parse_lead(marketplace_lead())
EMAIL, PHONE = LEAD.contact.email, LEAD.contact.phone
NAME = f"{LEAD.contact.first_name} {LEAD.contact.last_name}"
PERSONAL = (EMAIL, PHONE, NAME, LEAD.contact.last_name)
WHEN = datetime(2026, 11, 30, tzinfo=UTC)
QUOTING = f"The value '{NAME}' <{EMAIL}> (telephone {PHONE}) was refused: \"{LEAD.contact.last_name}\""
BODY = {
    "firstname": LEAD.contact.first_name,
    "lastname": LEAD.contact.last_name,
    "emailaddress1": EMAIL,
    "telephone1": PHONE,
    "leadsourcecode": 8,
}


def everything_said(error: BaseException) -> str:
    """Message, args, attributes and the traceback text of the error and of every exception chained to it."""
    said: list[str] = []
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        said += [str(current), repr(current), *map(repr, current.args), *map(repr, vars(current).values())]
        pending += [current.__cause__, current.__context__]
    said.append("".join(traceback.format_exception(error)))
    return "\n".join(said)


def assert_carries_none_of(error: BaseException, *secrets: str) -> None:
    said = everything_said(error)
    for secret in {form for value in (*PERSONAL, *secrets) for form in (value, quote(value), quote(value, safe=""))}:
        assert secret not in said, f"{secret!r} in {type(error).__name__}: {said[:2000]}"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def env(standins: StandIns, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("LOOPBACK_CA_FILE", standins.settings["LOOPBACK_CA_FILE"])  # the app trusts the test CA
    return {**standins.settings, "NOTIFY_TO": "sales@fabrikam.example", "MAIL_TRANSPORT": "graph"}


def dataverse(env: dict[str, str]) -> Dataverse:
    settings = load_dynamics(env)
    session = new_session(retry_rules(total=1, backoff_factor=0))
    return Dataverse(settings, token_source(settings), session, timeout=(2, 0.3))


# --- Dataverse -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 500])
def test_dataverse_quoting_the_lead_in_its_error(standins: StandIns, env: dict[str, str], status: int) -> None:
    standins.dataverse.fail_next(status, body={"error": {"code": "0x80044331", "message": QUOTING}}, times=2)
    with pytest.raises(LeadsError) as raised:
        dataverse(env).create_lead("00000000-0000-4000-8000-000000000002", BODY)
    assert "0x80044331" in str(raised.value) and "was refused" in str(raised.value)  # the rest of the words stay
    assert_carries_none_of(raised.value)


def test_dataverse_quoting_the_filter_of_a_contact_lookup(standins: StandIns, env: dict[str, str]) -> None:
    syntax_error = f"Syntax error at position 17 in 'emailaddress1 eq '{EMAIL}' and statecode eq 0'."
    standins.dataverse.fail_next(400, body={"error": {"code": "0x80060888", "message": syntax_error}})
    with pytest.raises(LeadsError) as raised:
        dataverse(env).find_contacts(EMAIL)
    assert "Syntax error" in str(raised.value)
    assert_carries_none_of(raised.value)


def test_dataverse_not_answering_a_contact_lookup(standins: StandIns, env: dict[str, str]) -> None:
    # After its retries urllib3 raises MaxRetryError, whose text (in requests' ConnectionError) is the URL, whose
    # $filter holds the email.
    standins.dataverse.fail_next(delay=1, times=2, path="contacts")
    with pytest.raises(LeadsError) as raised:
        dataverse(env).find_contacts(EMAIL)
    assert raised.value.__context__ is None and raised.value.__cause__ is None
    assert_carries_none_of(raised.value)


# --- Graph -----------------------------------------------------------------------------------------


def graph(env: dict[str, str]) -> GraphMailer:
    session = new_session(send_retry_rules())
    return GraphMailer(load_mail(env), token_source(load_dynamics(env)), session, timeout=(2, 0.3))


def test_graph_quoting_the_message_in_its_error(standins: StandIns, env: dict[str, str]) -> None:
    standins.graph.fail_next(400, body={"error": {"code": "ErrorInvalidRecipients", "message": QUOTING}})
    with pytest.raises(LeadsError) as raised:
        graph(env).send(lead_notification(LEAD, WHEN, DynamicsState("held")))
    assert "ErrorInvalidRecipients" in str(raised.value)
    assert_carries_none_of(raised.value)


def test_graph_not_answering(standins: StandIns, env: dict[str, str]) -> None:
    # requests' ConnectionError (urllib3's MaxRetryError) quotes the URL, which holds NOTIFY_FROM.
    standins.graph.fail_next(delay=1, path="sendMail")
    with pytest.raises(LeadsError) as raised:
        graph(env).send(lead_notification(LEAD, WHEN, DynamicsState("held")))
    assert_carries_none_of(raised.value, env["NOTIFY_FROM"])


# --- SMTP --------------------------------------------------------------------------------------------


def test_smtp_quoting_the_message_in_its_reply(standins: StandIns, env: dict[str, str]) -> None:
    standins.smtp.fail_next(550, f"5.7.1 {QUOTING}", stage="DATA")
    mailer = SmtpMailer(load_mail({**env, "MAIL_TRANSPORT": "smtp"}))
    with pytest.raises(LeadsError) as raised:
        mailer.send(lead_notification(LEAD, WHEN, DynamicsState("held")))
    assert "SMTP 550 5.7.1" in str(raised.value)
    assert_carries_none_of(raised.value)


# --- Teams ---------------------------------------------------------------------------------------------


def test_teams_quoting_the_card_in_its_error(standins: StandIns) -> None:
    url = standins.workflows.add_workflow()
    standins.workflows.fail_next(400, body={"error": {"code": "InvalidTemplate", "message": QUOTING}})
    with pytest.raises(LeadsError) as raised:
        TeamsWebhook(url, teams_session()).post(lead_card(LEAD, WHEN, DynamicsState("held")))
    assert "InvalidTemplate" in str(raised.value)
    assert_carries_none_of(raised.value, url.split("sig=")[1])


def test_teams_unreachable(standins: StandIns) -> None:
    url = standins.workflows.add_workflow().replace(str(standins.workflows.port), str(closed_port()))
    with pytest.raises(LeadsError) as raised:
        TeamsWebhook(url, teams_session(), timeout=(2, 2)).post(lead_card(LEAD, WHEN, DynamicsState("held")))
    assert_carries_none_of(raised.value, url.split("sig=")[1])
