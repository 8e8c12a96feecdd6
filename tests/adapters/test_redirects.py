"""No request follows a redirect, and no token goes to another host: real requests sessions against the stand-ins
(which answer 307 when told) and a second server, on another host name, that records what reaches it and answers
401 — the answer that made BearerAuth's hook send a fresh token after requests had followed a redirect."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from devtools.standins import StandIn, StandIns
from leads.adapters.dataverse import Dataverse
from leads.adapters.graph_mail import GraphMailer
from leads.adapters.signin import token_source
from leads.adapters.teams import TeamsWebhook, teams_session
from leads.adapters.webapi import BearerAuth, new_session, send_retry_rules
from leads.core.errors import DataverseRejected, MailRefused, TeamsRefused
from leads.core.messages import DynamicsState, lead_notification
from leads.core.payload import parse_lead
from leads.core.teams_card import lead_card
from leads.settings import load_dynamics, load_mail
from tests.leadsamples import marketplace_lead

LEAD = parse_lead(marketplace_lead())
WHEN = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture
def env(standins: StandIns, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("LOOPBACK_CA_FILE", standins.settings["LOOPBACK_CA_FILE"])  # the app trusts the test CA
    return {**standins.settings, "NOTIFY_TO": "sales@fabrikam.example", "MAIL_TRANSPORT": "graph"}


@pytest.fixture
def elsewhere() -> Iterator[StandIn]:
    """Another host ("localhost", where the services are on 127.0.0.1) that answers every request 401."""
    with StandIn(host="localhost") as other:
        other.fail_next(401, times=100)
        yield other


def redirect_to(standin: StandIn, target: StandIn, path: str) -> None:
    """The next request whose path matches ``path`` is answered 307 (method and body kept) to the other host."""
    standin.fail_next(307, headers={"Location": f"{target.base_url}/moved"}, path=path)


def reached(other: StandIn) -> list[dict[str, str]]:
    return [request.headers for request in other.requests]


def test_dataverse_follows_no_redirect(standins: StandIns, env: dict[str, str], elsewhere: StandIn) -> None:
    settings = load_dynamics(env)
    dataverse = Dataverse(settings, token_source(settings), new_session())
    redirect_to(standins.dataverse, elsewhere, "/api/data/v9.2/leads")
    with pytest.raises(DataverseRejected, match="redirect") as raised:
        dataverse.create_lead("00000000-0000-4000-8000-000000000001", {"lastname": "Lovelace"})
    assert "DYNAMICS_URL" in str(raised.value) and raised.value.status == 307
    assert reached(elsewhere) == []  # before: the PATCH went there, and after its 401 a fresh token with it


def test_graph_follows_no_redirect(standins: StandIns, env: dict[str, str], elsewhere: StandIn) -> None:
    mailer = GraphMailer(load_mail(env), token_source(load_dynamics(env)), new_session(send_retry_rules()))
    redirect_to(standins.graph, elsewhere, "sendMail")
    with pytest.raises(MailRefused, match="redirect") as raised:
        mailer.send(lead_notification(LEAD, WHEN, DynamicsState("held")))
    assert "GRAPH_URL" in str(raised.value)
    assert reached(elsewhere) == [] and standins.graph.messages == []


def test_teams_follows_no_redirect(standins: StandIns, elsewhere: StandIn) -> None:
    url = standins.workflows.add_workflow()
    redirect_to(standins.workflows, elsewhere, "/invoke")
    with pytest.raises(TeamsRefused, match="elsewhere"):
        TeamsWebhook(url, teams_session()).post(lead_card(LEAD, WHEN, DynamicsState("held")))
    assert reached(elsewhere) == []  # before: the card (the lead's details) was posted there
    assert standins.workflows.cards == []


def test_the_token_never_goes_to_another_host_even_in_a_session_that_follows_redirects(
    standins: StandIns, env: dict[str, str], elsewhere: StandIn
) -> None:
    settings = load_dynamics(env)
    tokens = token_source(settings)
    redirect_to(standins.dataverse, elsewhere, "/api/data/v9.2/WhoAmI")
    following = requests.Session()  # requests' own session: follows redirects, strips Authorization across hosts
    response = following.get(
        f"{settings.api_url}/WhoAmI", auth=BearerAuth(tokens, f"{settings.url}/.default"), timeout=5
    )
    assert response.status_code == 401 and [r.status_code for r in response.history] == [307]
    assert reached(elsewhere) == [{"accept": "*/*", "user-agent": requests.utils.default_user_agent()}]
    # Before: BearerAuth's 401 hook, carried over to the redirected request, sent it again with a fresh token.
    assert standins.entra.token_request_count(audience=settings.url) == 1
