"""Who is told about each lead, and through which mail transport."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from leads.core.addresses import LOOPBACK_HOSTS, is_email_address, parse_addresses
from leads.settings.reader import Reader, require_sign_in, sign_in_mode

DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
MailTransport = Literal["graph", "smtp", "none"]


@dataclass(frozen=True)
class MailSettings:
    notify_to: tuple[str, ...]
    notify_from: str
    transport: MailTransport
    graph_url: str
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_password: str
    smtp_starttls: bool

    @property
    def enabled(self) -> bool:
        return bool(self.notify_to) and self.transport != "none"


def load_mail(env: Mapping[str, str] | None = None) -> MailSettings:
    read = Reader(env)
    notify_to, invalid = parse_addresses(read.text("NOTIFY_TO"))
    if invalid:
        read.problem(
            "NOTIFY_TO",
            f"has entries that are not email addresses: {', '.join(map(repr, invalid))}; "
            "list addresses separated by semicolons, e.g. sales@contoso.com;ceo@contoso.com",
        )
    transport = read.choice("MAIL_TRANSPORT", "graph", ("graph", "smtp", "none"))
    notify_from = read.text("NOTIFY_FROM")
    if notify_to and transport != "none":
        if not notify_from:
            read.problem("NOTIFY_FROM", "is not set; set it to the mailbox the lead notifications are sent from")
        elif not is_email_address(notify_from):
            read.problem("NOTIFY_FROM", f"is {notify_from!r}; set it to one email address")
    graph_url = read.text("GRAPH_URL", DEFAULT_GRAPH_URL).rstrip("/")
    graph_parts = urlsplit(graph_url)
    if (
        graph_parts.scheme not in ("https", "http")
        or not graph_parts.hostname
        or (graph_parts.scheme == "http" and graph_parts.hostname not in LOOPBACK_HOSTS)
    ):
        read.problem(
            "GRAPH_URL", f"is {graph_url!r}; use https://graph.microsoft.com or your national cloud's Graph URL"
        )
    if transport == "graph" and notify_to and not read.flag("DYNAMICS_ENABLED", True):
        # With Dynamics on, its own settings check the sign-in; Graph mail signs in the same way.
        auth = sign_in_mode(read)
        require_sign_in(read, auth, " (used for MAIL_TRANSPORT=graph)")
    smtp_host = read.text("SMTP_HOST")
    if transport == "smtp" and notify_to and not smtp_host:
        read.problem("SMTP_HOST", "is not set; MAIL_TRANSPORT=smtp needs the SMTP server's host name")
    mail = MailSettings(
        notify_to=tuple(notify_to),
        notify_from=notify_from,
        transport=transport,  # type: ignore[arg-type]  # checked by choice()
        graph_url=graph_url,
        smtp_host=smtp_host,
        smtp_port=read.integer("SMTP_PORT", 587, 1, 65535),
        smtp_username=read.text("SMTP_USERNAME"),
        smtp_password=read.text("SMTP_PASSWORD"),
        smtp_starttls=read.flag("SMTP_STARTTLS", True),
    )
    read.done()
    return mail
