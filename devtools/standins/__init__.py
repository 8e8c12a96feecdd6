"""Local stand-ins for Entra ID, Dataverse, Microsoft Graph, an SMTP server and a Teams Workflows webhook,
reached over real loopback sockets.

``start_all(state_dir)`` starts them all in this process (sharing one token registry) and returns the settings
the app should use; ``python -m devtools.standins`` does the same as a separate process.

The app trusts the HTTPS Entra stand-in through ``LOOPBACK_CA_FILE`` (leads/adapters/trust.py): its CA is trusted
in addition to the configured bundle (a machine-wide ``REQUESTS_CA_BUNDLE`` stays in force) and only for loopback
addresses. Other clients (MSAL in the stand-ins' own tests) can set ``REQUESTS_CA_BUNDLE`` to the same file: requests
lets that variable override a session's ``verify=``. Dataverse, Graph and the managed identity endpoint are plain
http on loopback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from .base import Fault, RecordedRequest, StandIn
from .dataverse import DataverseStandIn
from .entra import AppRegistration, EntraStandIn, ManagedIdentity, TokenRequest, User
from .graph import GraphStandIn, Mailbox, SentMail
from .smtp import ReceivedMail, SmtpStandIn
from .tls import TestCA, shared_ca
from .tokens import TokenRegistry
from .workflows import WorkflowsStandIn

__all__ = [
    "DataverseStandIn",
    "EntraStandIn",
    "Fault",
    "GraphStandIn",
    "Ports",
    "ReceivedMail",
    "RecordedRequest",
    "SentMail",
    "SmtpStandIn",
    "StandIn",
    "StandIns",
    "TestCA",
    "TokenRegistry",
    "TokenRequest",
    "WorkflowsStandIn",
    "shared_ca",
    "start_all",
]

TENANT_DOMAIN = "contoso.onmicrosoft.com"
SENDER_ADDRESS = f"leads@{TENANT_DOMAIN}"
USERNAME = f"dynamics-sync@{TENANT_DOMAIN}"


@dataclass(frozen=True)
class Ports:
    """Listening ports; 0 picks a free one. ``user_realm`` None or 0 skips the 127.0.0.1:443 listener."""

    entra: int = 0
    msi: int = 0
    dataverse: int = 0
    graph: int = 0
    smtp: int = 0
    smtp_control: int = 0
    workflows: int = 0
    user_realm: int | None = 443


@dataclass
class StandIns:
    entra: EntraStandIn
    dataverse: DataverseStandIn
    graph: GraphStandIn
    smtp: SmtpStandIn
    settings: dict[str, str]  # what the app should read from its environment (also in standins.json)
    state_dir: Path
    app: AppRegistration
    user: User
    managed_identity: ManagedIdentity  # user-assigned; a system-assigned one exists too
    sender: Mailbox
    workflows: WorkflowsStandIn
    teams_webhook_url: str  # the sales channel's webhook (its signature makes it a secret, even a test one)

    @property
    def settings_file(self) -> Path:
        return self.state_dir / "standins.json"

    def reset(self) -> None:
        """Between tests: forget requests, records, messages and faults; restore configuration. Tokens stay."""
        for standin in (self.entra, self.entra.msi, self.dataverse, self.graph, self.smtp, self.workflows):
            standin.reset()
        self.app.secret_expired = False

    def stop(self) -> None:
        self.workflows.stop()
        self.smtp.stop()
        self.graph.stop()
        self.dataverse.stop()
        self.entra.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_all(
    state_dir: str | Path,
    *,
    ports: Ports = Ports(),
    smtp_auth: bool = False,
    listener: Callable[[str], None] | None = None,
) -> StandIns:
    """Start every stand-in with one app registration, one Office 365 user, managed identities and the sender
    mailbox; write ``<state_dir>/ca.pem`` and ``<state_dir>/standins.json`` (mode 0600: it holds test secrets).

    ``listener`` receives one-line events (ids only). Check ``entra.user_realm_error`` before ROPC sign-ins.
    """
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    tokens = TokenRegistry()
    entra = EntraStandIn(
        tenant_domain=TENANT_DOMAIN,
        tokens=tokens,
        port=ports.entra,
        msi_port=ports.msi,
        user_realm_port=ports.user_realm or None,
    )
    app = entra.add_app(display_name="marketplace-leads")
    user = entra.add_user(USERNAME)
    entra.add_managed_identity(system_assigned=True)
    managed_identity = entra.add_managed_identity()
    smtp_credentials = ("leads-smtp", os.urandom(12).hex()) if smtp_auth else None
    dataverse, graph, smtp = _start_services(entra, ports, smtp_credentials)
    sender = _introduce(entra, dataverse, graph, user)
    workflows = WorkflowsStandIn(port=ports.workflows).start()
    if listener is not None:
        for standin in (entra, dataverse, graph, smtp, workflows):
            standin.add_listener(listener)

    ca_file = shared_ca().write_ca_pem(state / "ca.pem")
    standins = StandIns(
        entra, dataverse, graph, smtp, {}, state, app, user, managed_identity, sender, workflows,
        workflows.add_workflow(),
    )  # fmt: skip
    standins.settings.update(_settings(standins, ca_file, ports, smtp_credentials))
    _write_settings(standins.settings_file, standins.settings)
    return standins


def _start_services(
    entra: EntraStandIn, ports: Ports, smtp_credentials: tuple[str, str] | None
) -> tuple[DataverseStandIn, GraphStandIn, SmtpStandIn]:
    """Start Entra ID, then the services trusting its tokens; on a failure, stop what already runs."""
    smtp_username, smtp_password = smtp_credentials or (None, None)
    started: list[StandIn | SmtpStandIn] = []
    try:
        started.append(entra.start())
        dataverse = DataverseStandIn(
            tokens=entra.tokens, authority_host=entra.authority_host, tenant_id=entra.tenant_id, port=ports.dataverse
        )
        started.append(dataverse.start())
        graph = GraphStandIn(tokens=entra.tokens, authority_host=entra.authority_host, port=ports.graph)
        started.append(graph.start())
        smtp = SmtpStandIn(
            port=ports.smtp, control_port=ports.smtp_control, username=smtp_username, password=smtp_password
        )
        started.append(smtp.start())
    except BaseException:
        for standin in reversed(started):
            standin.stop()
        raise
    return dataverse, graph, smtp


def _introduce(entra: EntraStandIn, dataverse: DataverseStandIn, graph: GraphStandIn, user: User) -> Mailbox:
    """Make Entra ID know the resources, and Graph the mailboxes; returns the sender mailbox."""
    for audience in dataverse.audiences | graph.audiences:
        entra.add_resource(audience)
    sender = graph.add_mailbox(SENDER_ADDRESS, "Marketplace leads")
    # The Office 365 user has a mailbox of its own and Send As on the sender, so ROPC mode can send too.
    graph.add_mailbox(user.username, user.display_name)
    graph.grant_send_as(user.username, sender.address)
    return sender


def _settings(
    standins: StandIns, ca_file: Path, ports: Ports, smtp_credentials: tuple[str, str] | None
) -> dict[str, str]:
    """What the app should read from its environment, plus the stand-ins' own addresses for tests and harnesses."""
    entra, dataverse, graph, smtp = standins.entra, standins.dataverse, standins.graph, standins.smtp
    user_realm = f"https://127.0.0.1:{ports.user_realm}" if ports.user_realm else "disabled"
    if entra.user_realm_error:
        user_realm = "unavailable"
    assert standins.app.client_secret is not None and smtp.control is not None
    smtp_login = (
        {"SMTP_USERNAME": smtp_credentials[0], "SMTP_PASSWORD": smtp_credentials[1]} if smtp_credentials else {}
    )
    return {
        "DYNAMICS_URL": dataverse.base_url,
        "AZURE_AUTHORITY_HOST": entra.authority_host,
        "AZURE_TENANT_ID": entra.tenant_id,
        "AZURE_CLIENT_ID": standins.app.client_id,
        "AZURE_CLIENT_SECRET": standins.app.client_secret,
        "DYNAMICS_USERNAME": standins.user.username,
        "DYNAMICS_PASSWORD": standins.user.password,
        "LOOPBACK_CA_FILE": str(ca_file),
        "GRAPH_URL": graph.base_url,
        "NOTIFY_FROM": standins.sender.address,
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
        **smtp_login,
        "IDENTITY_ENDPOINT": entra.identity_endpoint,
        "IDENTITY_HEADER": entra.identity_header,
        # Not app settings: for tests and harnesses.
        "STANDIN_MANAGED_IDENTITY_CLIENT_ID": standins.managed_identity.client_id,
        "STANDIN_ENTRA_CONTROL": entra.control_url,
        "STANDIN_DATAVERSE_CONTROL": dataverse.control_url,
        "STANDIN_GRAPH_CONTROL": graph.control_url,
        "STANDIN_SMTP_CONTROL": smtp.control.control_url,
        "STANDIN_USER_REALM": user_realm,
        # The app posts to Teams only when a test (or make run) sets TEAMS_WEBHOOK_URL to this.
        "STANDIN_TEAMS_WEBHOOK_URL": standins.teams_webhook_url,
        "STANDIN_WORKFLOWS_CONTROL": standins.workflows.control_url,
    }


def _write_settings(path: Path, settings: dict[str, str]) -> None:
    """Write ``settings`` (mode 0600: they hold test secrets) to a temporary name and rename it, so a harness
    polling for the file never reads half of it."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(settings, handle, indent=2)
    partial.replace(path)
