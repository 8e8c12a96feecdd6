"""Choosing the mail transport MAIL_TRANSPORT names (Graph or SMTP), or none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leads.core.errors import MailRefused
from leads.settings import MailSettings

if TYPE_CHECKING:
    import requests

    from leads.adapters.graph_mail import GraphMailer
    from leads.adapters.signin import TokenSource
    from leads.adapters.smtp_mail import SmtpMailer


def new_mailer(
    mail: MailSettings, tokens: TokenSource | None, session: requests.Session
) -> GraphMailer | SmtpMailer | None:
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
        raise MailRefused(
            "MAIL_TRANSPORT=graph needs an Entra ID sign-in (DYNAMICS_AUTH with AZURE_TENANT_ID, AZURE_CLIENT_ID "
            "and AZURE_CLIENT_SECRET, or a managed identity); set them, or use MAIL_TRANSPORT=smtp"
        )
    # A user's token (DYNAMICS_AUTH=username_password) carries delegated permissions, asked for by name.
    return GraphMailer(mail, tokens, session, delegated=isinstance(tokens, UsernamePasswordTokens))
