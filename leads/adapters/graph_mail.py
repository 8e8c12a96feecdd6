"""Notification mail through Microsoft Graph ``sendMail`` (shared/REFERENCE.md §4).

The Entra ID app that writes to Dynamics also sends the mail, so there is one sign-in to set up:
- app-only tokens (DYNAMICS_AUTH ``client_secret`` or ``managed_identity``) ask for ``{GRAPH_URL}/.default``
  and need the Microsoft Graph *application* permission Mail.Send with admin consent;
- a user's token (``username_password``) asks for ``{GRAPH_URL}/Mail.Send`` (delegated) and can send only as
  that user, or as a mailbox the user has Send As rights on.

Retries of 429 and 5xx (honouring Retry-After) happen inside the requests session; what is still failing
afterwards becomes a transient MailError, and the queue delivers the lead again later.

Errors carry Graph's code, request-id and its message without addresses, phone numbers or quoted text (Graph
quotes what it was sent), and no cause or context from requests, whose messages hold the URL (NOTIFY_FROM).
"""

from __future__ import annotations

import base64
import logging
import uuid
from urllib.parse import quote

import requests

from leads.adapters.signin import TokenSource
from leads.adapters.webapi import TIMEOUT, BearerAuth, odata_error, redirected, worth_retrying
from leads.core.errors import MailError, MailRefused, MailUnavailable, SignInError
from leads.core.messages import Email, mime_message
from leads.core.service_text import service_code, service_words
from leads.core.wording import header_text
from leads.settings import MailSettings

log = logging.getLogger(__name__)

_MAX_DETAIL_CHARS = 300


class GraphMailer:
    """Sends each notification as one Graph message from NOTIFY_FROM to every NOTIFY_TO address."""

    def __init__(
        self,
        mail: MailSettings,
        tokens: TokenSource,
        session: requests.Session,
        delegated: bool = False,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.mail = mail
        self.tokens = tokens
        self.session = session
        self.delegated = delegated
        self.timeout = timeout  # (connect, read) seconds
        # The scope names the resource by GRAPH_URL: national clouds' tokens are not interchangeable.
        self.scope = f"{mail.graph_url}/Mail.Send" if delegated else f"{mail.graph_url}/.default"
        self.user_url = f"{mail.graph_url}/v1.0/users/{quote(mail.notify_from, safe='@')}"
        self.auth = BearerAuth(tokens, self.scope)

    def send(self, email: Email) -> None:
        # As MIME (base64, text/plain), so that the contacts get the plain text and the HTML part, as with SMTP:
        # Graph's JSON message takes one body only. The price: Exchange keeps a copy in the sender's Sent Items.
        recipients = email.to or self.mail.notify_to
        message = mime_message(email, self.mail.notify_from, recipients)
        mime = base64.b64encode(message.as_bytes())
        response = self._call("POST", f"{self.user_url}/sendMail", mime)
        if response.status_code // 100 == 2:  # 202 Accepted: queued for delivery by Exchange Online
            log.info("notification accepted by Microsoft Graph for %d recipient(s)", len(recipients))
            return
        raise self._error(response, "send the notification")

    def check(self) -> str:
        response = self._call("GET", f"{self.user_url}?$select=id")
        if response.status_code == 200:
            return f"Microsoft Graph at {self.mail.graph_url}: signed in, and the NOTIFY_FROM mailbox exists"
        if response.status_code == 403:
            # Looking a user up needs User.Read.All, which sending does not: with Mail.Send alone Graph answers
            # 403 here, so this is no reason to fail. Only sending proves Mail.Send itself.
            return (
                f"Microsoft Graph at {self.mail.graph_url}: signed in; the NOTIFY_FROM mailbox could not be looked "
                "up (that needs User.Read.All, which sending does not), so only a real message proves Mail.Send"
            )
        raise self._error(response, "look up the NOTIFY_FROM mailbox")

    # --- requests ------------------------------------------------------------------------------

    def _call(self, method: str, url: str, mime: bytes | None = None) -> requests.Response:
        """One Graph request with a bearer token (after a 401, one more with a fresh token: BearerAuth)."""
        headers = {
            # Graph echoes this in request-id/client-request-id, which Microsoft support asks for.
            "client-request-id": str(uuid.uuid4()),
            "Accept": "application/json",
        }
        if mime is not None:
            headers["Content-Type"] = "text/plain"  # how Graph recognises a base64 MIME message
        try:
            return self.session.request(
                method, url, data=mime, headers=headers, auth=self.auth, timeout=self.timeout
            )  # fmt: skip
        except SignInError as exc:
            raise self._sign_in_error(exc) from exc
        except requests.RequestException as exc:
            problem = _network_problem(exc)
        # Raised outside the except block, so not even as __context__: requests' text holds the URL, and so the
        # NOTIFY_FROM address; only the kind of failure is passed on.
        raise MailUnavailable(f"could not reach Microsoft Graph at GRAPH_URL={self.mail.graph_url} ({problem})")

    def _sign_in_error(self, exc: SignInError) -> MailError:
        if exc.transient:
            return MailUnavailable(f"could not sign in to Entra ID for Microsoft Graph: {exc}")
        advice = str(exc)
        if "AADSTS500011" in advice:
            # signin's advice for this code is about Dynamics; for mail, the unknown resource is Graph's.
            advice = (
                f"Entra ID knows no resource at GRAPH_URL={self.mail.graph_url} in this tenant: set GRAPH_URL to "
                "the Microsoft Graph endpoint of the cloud AZURE_AUTHORITY_HOST signs in to (AADSTS500011)"
            )
        return MailRefused(f"could not sign in to send mail through Microsoft Graph: {advice}")

    # --- errors --------------------------------------------------------------------------------

    def _error(self, response: requests.Response, doing: str) -> MailError:
        status = response.status_code
        said = _graph_said(response)
        if redirected(response):
            return MailRefused(
                f"Microsoft Graph answered with a redirect (HTTP {status}{said}), which the app does not follow (a "
                "message and its token go only to GRAPH_URL): set GRAPH_URL to the Microsoft Graph endpoint, e.g. "
                "https://graph.microsoft.com",
            )
        if worth_retrying(status):
            return MailUnavailable(
                f"Microsoft Graph could not {doing} (HTTP {status}{said}), still after retries",
            )
        if status == 401:
            return MailRefused(
                f"Microsoft Graph refused the access token (HTTP 401{said}) even after signing in again: check that "
                "GRAPH_URL is the Graph endpoint of the same cloud as AZURE_AUTHORITY_HOST (tokens of one national "
                "cloud are not accepted by another)",
            )
        if status == 403:
            if self.delegated:
                advice = (
                    "the app registration needs the delegated Microsoft Graph permission Mail.Send with admin "
                    "consent, and DYNAMICS_USERNAME can only send as its own mailbox (or one it has Send As "
                    "rights on): set NOTIFY_FROM to that mailbox, or use DYNAMICS_AUTH=client_secret"
                )
            else:
                advice = (
                    "the app (AZURE_CLIENT_ID) may not send as NOTIFY_FROM: either assign it Exchange Online's "
                    "'Application Mail.Send' role scoped to that mailbox (RBAC for Applications, see docs/deploy.md), "
                    "or grant the Microsoft Graph application permission Mail.Send with admin consent (every mailbox)"
                )
            return MailRefused(f"Microsoft Graph refused to {doing} (HTTP 403{said}): {advice}")
        if status == 404:
            return MailRefused(
                f"Microsoft Graph found no mailbox for NOTIFY_FROM (HTTP 404{said}): set NOTIFY_FROM to a user or "
                "shared mailbox with Exchange Online in the tenant AZURE_TENANT_ID",
            )
        if status == 400:
            return MailRefused(
                f"Microsoft Graph refused the message (HTTP 400{said}): check that NOTIFY_TO lists valid addresses "
                "and NOTIFY_FROM is a mailbox address",
            )
        return MailRefused(f"Microsoft Graph could not {doing} (HTTP {status}{said})")


def _graph_said(response: requests.Response) -> str:
    """``, ErrorAccessDenied: Access is denied…, request-id …`` from Graph's error body, without what it quoted."""
    code, message = odata_error(response) if response.content else ("", "")
    # Graph's messages can quote the sender, a recipient ("The requested user 'a@b' is invalid") or the message.
    detail = ": ".join(part for part in (service_code(code), service_words(message)) if part)
    detail = header_text(detail)[:_MAX_DETAIL_CHARS]
    request_id = header_text(response.headers.get("request-id", ""))[:64]
    return "".join(f", {part}" for part in (detail, f"request-id {request_id}" if request_id else "") if part)


def _network_problem(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.RetryError):
        return "kept answering 429 or 5xx, or asked to wait longer than the app waits"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS certificate not trusted"
    if isinstance(exc, requests.ConnectionError):
        return "could not connect"
    return type(exc).__name__
