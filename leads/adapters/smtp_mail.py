"""Notification mail through an SMTP server (``MAIL_TRANSPORT=smtp``), with the standard library.

One connection per message: notifications are rare, and a fresh connection never trips over a server that
dropped an idle one. SMTP reply codes decide what is worth retrying: 4xx means "try again later" (the queue
delivers the lead again), 5xx means a setting is wrong.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl

from leads.core import deadline
from leads.core.errors import MailError, MailRefused, MailUnavailable
from leads.core.messages import Email, mime_message
from leads.core.service_text import service_words
from leads.core.wording import header_text, shorten
from leads.settings import MailSettings
from leads.settings.mail import IMPLICIT_TLS_PORT

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30


class SmtpMailer:
    """Sends each notification as one message (plain text and HTML) from NOTIFY_FROM to every NOTIFY_TO address."""

    def __init__(self, mail: MailSettings, ssl_context: ssl.SSLContext | None = None) -> None:
        self.mail = mail
        # The system's trusted CAs unless told otherwise (tests pass one trusting their own CA).
        self.ssl_context = ssl_context or ssl.create_default_context()

    @property
    def server(self) -> str:
        return f"SMTP_HOST={self.mail.smtp_host}:{self.mail.smtp_port}"

    def send(self, email: Email) -> None:
        recipients = email.to or self.mail.notify_to
        message = mime_message(email, self.mail.notify_from, recipients)
        failure = None
        try:
            smtp = self._connect()
            try:
                refused = smtp.send_message(message, from_addr=self.mail.notify_from, to_addrs=list(recipients))
            finally:
                _close(smtp)
        except (smtplib.SMTPException, OSError) as exc:
            failure = _mail_error(exc, f"could not send the notification through {self.server}")
        if failure is not None:
            # Raised outside the except block, so not even as __context__: smtplib's exceptions carry the server's
            # words, which can quote addresses or the message.
            raise failure
        if refused:
            # The others have the message: raising would send it to them again. Only the count is logged.
            log.warning("the SMTP server refused %d of the NOTIFY_TO recipients; check those addresses", len(refused))
        log.info("notification accepted by the SMTP server for %d recipient(s)", len(recipients) - len(refused))

    def check(self) -> str:
        failure = None
        try:
            smtp = self._connect()
            try:
                code, _ = smtp.noop()
                if code != 250:
                    raise smtplib.SMTPResponseException(code, b"NOOP refused")
            finally:
                _close(smtp)
        except (smtplib.SMTPException, OSError) as exc:
            failure = _mail_error(exc, f"could not check the mail connection to {self.server}")
        if failure is not None:
            raise failure
        steps = ["connected"]
        if self.mail.smtp_port == IMPLICIT_TLS_PORT:
            steps.append("TLS")
        elif self.mail.smtp_starttls:
            steps.append("STARTTLS")
        if self.mail.smtp_username:
            steps.append("signed in with SMTP_USERNAME")
        return f"SMTP server {self.server}: {', '.join(steps)}, NOOP answered (no mail sent)"

    # --- connection ------------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        """A connection that is greeted, upgraded to TLS and signed in as the settings say."""
        host, port = self.mail.smtp_host, self.mail.smtp_port
        smtp: smtplib.SMTP
        if port == IMPLICIT_TLS_PORT:
            smtp = smtplib.SMTP_SSL(host, port, timeout=deadline.capped(TIMEOUT_SECONDS), context=self.ssl_context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=deadline.capped(TIMEOUT_SECONDS))
        try:
            smtp.ehlo()
            if self.mail.smtp_starttls and port != IMPLICIT_TLS_PORT:
                smtp.starttls(context=self.ssl_context)
                smtp.ehlo()
            if self.mail.smtp_username:
                smtp.login(self.mail.smtp_username, self.mail.smtp_password)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _mail_error(exc: Exception, failed: str) -> MailError:
    """What smtplib or the network raised → MailError: transient or not, with advice naming the setting."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            return MailUnavailable(f"{failed}: the server deferred every recipient (SMTP {codes[0]})")
        return MailRefused(
            f"{failed}: the server refused every NOTIFY_TO recipient (SMTP {', '.join(map(str, sorted(set(codes))))})"
            "; check the addresses in NOTIFY_TO, and that SMTP_USERNAME may send to them",
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailRefused(
            f"{failed}: the server does not offer {_unsupported(exc)}; check SMTP_HOST and SMTP_PORT "
            "(587 usually offers STARTTLS and AUTH), or set SMTP_STARTTLS / SMTP_USERNAME to match the server",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code, reply = exc.smtp_code, _reply(exc.smtp_error)
        said = f"SMTP {code}{f' {reply}' if reply else ''}"
        if 400 <= code < 500:
            return MailUnavailable(f"{failed}: the server asked to try again later ({said})")
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            advice = "SMTP_USERNAME or SMTP_PASSWORD is wrong, or the account may not use SMTP AUTH"
        elif isinstance(exc, smtplib.SMTPSenderRefused):
            advice = "the server refused NOTIFY_FROM as the sender: SMTP_USERNAME must be allowed to send as it"
        elif isinstance(exc, smtplib.SMTPDataError):
            advice = "the server refused the message; check NOTIFY_FROM and NOTIFY_TO with its administrator"
        elif isinstance(exc, smtplib.SMTPConnectError):
            advice = "the server refused the connection: check SMTP_HOST and SMTP_PORT"
        elif code == 530:  # "Must issue a STARTTLS command first" or "Authentication required"
            advice = "the server wants TLS and sign-in first: set SMTP_STARTTLS=true, SMTP_USERNAME, SMTP_PASSWORD"
        else:
            advice = "check SMTP_HOST, SMTP_PORT, SMTP_USERNAME and NOTIFY_FROM"
        transient = code < 400  # an unexpected 2xx/3xx in the wrong place: a glitch more than a setting
        return (MailUnavailable if transient else MailRefused)(f"{failed} ({said}): {advice}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailUnavailable(f"{failed}: the server closed the connection")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailRefused(
            f"{failed}: the server's TLS certificate is not trusted ({exc.verify_message}); SMTP_HOST must be the "
            "name on the certificate",
        )
    if isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_NONAME:
        return MailRefused(f"{failed}: no such host; check SMTP_HOST")
    if isinstance(exc, TimeoutError):
        return MailUnavailable(f"{failed}: timed out")
    # Connection refused or reset, TLS failures, DNS trouble: the network, not (yet) a setting.
    return MailUnavailable(
        f"{failed}: {type(exc).__name__}; check SMTP_HOST and SMTP_PORT if it persists",
    )


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT politely; a server that already hung up is no error, the message went before."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _reply(raw: bytes | str) -> str:
    """The server's words without addresses, phone numbers or quoted text (servers quote what they were sent)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return shorten(header_text(service_words(text)), 200)


def _unsupported(exc: smtplib.SMTPNotSupportedError) -> str:
    text = str(exc)
    if "STARTTLS" in text:
        return "STARTTLS"
    if "AUTH" in text:
        return "AUTH (sign-in)"
    return f"a needed extension ({header_text(text)[:80]})"
