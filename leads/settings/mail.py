"""Who is told about each lead, and through which mail transport."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from leads.core.addresses import LOOPBACK_HOSTS, is_email_address, parse_addresses
from leads.core.urls import AddressProblem, parse_web_address
from leads.settings.reader import Reader, require_sign_in, sign_in_mode

DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
MailTransport = Literal["graph", "smtp", "none"]
IMPLICIT_TLS_PORT = 465  # SMTPS: TLS from the first byte, so STARTTLS does not apply


@dataclass(frozen=True)
class MailSettings:
    notify_to: tuple[str, ...]
    notify_from: str
    transport: MailTransport
    graph_url: str
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_password: str = field(repr=False)  # kept out of repr() (and so out of tracebacks and logs)
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
    graph_url = _graph_url(read)
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
    if transport == "smtp" and smtp_host and not mail.smtp_starttls and not _clear_text_is_safe(mail):
        # Without STARTTLS every message (a lead's contact details) and the SMTP password cross the network in
        # clear text, readable and changeable by anyone on the way.
        read.problem(
            "SMTP_STARTTLS",
            f"is false for {smtp_host}: the lead and SMTP_PASSWORD would travel in clear text; set SMTP_STARTTLS="
            f"true (port 587), or SMTP_PORT={IMPLICIT_TLS_PORT} for a server that speaks TLS from the start; "
            "plain SMTP is allowed only to a server on this machine (localhost, 127.0.0.1, ::1)",
        )
    read.done()
    return mail


def _graph_url(read: Reader) -> str:
    """GRAPH_URL as ``https://host[:port]``, rebuilt from the parts the HTTP client reads (leads.core.urls)."""
    fix = "use https://graph.microsoft.com or your national cloud's Graph URL"
    try:
        address = parse_web_address(read.text("GRAPH_URL", DEFAULT_GRAPH_URL), origin_only=True)
    except AddressProblem as exc:
        read.problem("GRAPH_URL", f"{exc}; {fix}")
        return DEFAULT_GRAPH_URL
    if address.scheme != "https" and not address.loopback:
        read.problem("GRAPH_URL", f"uses http://; {fix}")
    return address.origin


def _clear_text_is_safe(mail: MailSettings) -> bool:
    """Plain SMTP never leaves this machine, or the port is SMTPS (TLS from the first byte)."""
    return mail.smtp_host.lower().strip("[]") in LOOPBACK_HOSTS or mail.smtp_port == IMPLICIT_TLS_PORT
