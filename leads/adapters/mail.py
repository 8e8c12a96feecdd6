"""Sending the notification emails: what every transport has in common, and choosing one.

Transports never put a message's body or recipients in an exception or a log line: both hold the lead's
personal data (the body) or the publisher's addresses (the recipients). Errors name the setting to fix.
"""

from __future__ import annotations

import re
from typing import Protocol

import requests

from leads.adapters.signin import TokenSource
from leads.core.messages import Email
from leads.settings import MailSettings

# Something shaped like an email address, in text a mail server or Graph sent back.
_ADDRESS = re.compile(r"[^\s'\"<>(),;:\[\]]+@[^\s'\"<>(),;:\[\]]+")


class MailError(RuntimeError):
    """A notification could not be sent; the message says why and which setting to fix.

    ``transient`` errors (throttling, outages, time-outs) are worth retrying later: the queue delivers the
    lead again. The others need a person to change a setting first.
    """

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class Mailer(Protocol):
    def send(self, email: Email) -> None:
        """Send one message from NOTIFY_FROM with every NOTIFY_TO address as a recipient; MailError if not."""

    def check(self) -> str:
        """Check, without sending anything, that mail can be sent; a one-line description of what was
        checked, or MailError with advice naming the setting to fix."""


def without_addresses(text: str) -> str:
    """Server replies quote addresses ("550 5.1.1 <a@b>: user unknown"); keep them out of errors and logs."""
    return _ADDRESS.sub("<address>", text)


def new_mailer(mail: MailSettings, tokens: TokenSource | None, session: requests.Session) -> Mailer | None:
    """The transport MAIL_TRANSPORT names, or None when notifications are off (no NOTIFY_TO, or ``none``).

    ``tokens`` signs in to Graph (the same Entra ID app as Dynamics); ``None`` only suits SMTP.
    """
    if not mail.enabled:
        return None
    if mail.transport == "smtp":
        from leads.adapters.smtp_mail import SmtpMailer

        return SmtpMailer(mail)
    from leads.adapters.graph_mail import GraphMailer
    from leads.adapters.signin import UsernamePasswordTokens

    if tokens is None:
        raise MailError(
            "MAIL_TRANSPORT=graph needs an Entra ID sign-in (DYNAMICS_AUTH with AZURE_TENANT_ID, AZURE_CLIENT_ID "
            "and AZURE_CLIENT_SECRET, or a managed identity); set them, or use MAIL_TRANSPORT=smtp",
            transient=False,
        )
    # A user's token (DYNAMICS_AUTH=username_password) carries delegated permissions, asked for by name.
    return GraphMailer(mail, tokens, session, delegated=isinstance(tokens, UsernamePasswordTokens))
