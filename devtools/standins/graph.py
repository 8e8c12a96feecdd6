"""Microsoft Graph stand-in: ``POST /v1.0/users/{id}/sendMail`` (its body: graph_sendmail.py) and
``GET /v1.0/users/{id}`` (mailboxes and Send As: graph_users.py).

Error codes follow Graph's ``{"error": {"code", "message", "innerError"}}`` shape (REFERENCE §4 and the Graph
error docs; graph_errors.py): InvalidAuthenticationToken (401), ErrorAccessDenied (403, no Mail.Send),
ErrorInvalidUser (404, unknown sender), Request_ResourceNotFound (404, GET user), TooManyRequests /
ApplicationThrottled (429). The messages for malformed bodies are approximations of what Graph says.

Not modelled: Exchange's per-mailbox 30 messages/minute and recipient quotas (script them with fail_next), the
Outlook 10,000 requests/10 minutes budget, attachments beyond accepting the property.
"""

from __future__ import annotations

import re
import threading
import uuid

from .base import JSON, Request, Response, StandIn
from .graph_errors import GraphError, graph_error
from .graph_sendmail import MESSAGE_PROPERTIES, SentMail, parse_mail
from .graph_users import Mailbox, check_send_as, find_mailbox, get_user
from .tokens import IssuedToken, TokenProblem, TokenRegistry, normalise_audience

__all__ = ["DEFAULT_PERMISSIONS", "MESSAGE_PROPERTIES", "GraphStandIn", "Mailbox", "SentMail"]

DEFAULT_PERMISSIONS = frozenset({"Mail.Send", "User.Read.All"})
_USERS = re.compile(r"^/(?:v1\.0|beta)/users/([^/]+)(?:/([^/]+))?$", re.IGNORECASE)
_ME = re.compile(r"^/(?:v1\.0|beta)/me(?:/.*)?$", re.IGNORECASE)


class GraphStandIn(StandIn):
    name = "graph"

    def __init__(
        self,
        *,
        tokens: TokenRegistry | None = None,
        authority_host: str = "https://login.microsoftonline.com",
        host: str = "127.0.0.1",
        port: int = 0,
        concurrency_limit: int | None = 4,  # Outlook allows 4 concurrent requests per app and mailbox
    ) -> None:
        super().__init__(host=host, port=port, tokens=tokens, concurrency_limit=concurrency_limit)
        self.authority_host = authority_host.rstrip("/")
        self.permissions: set[str] = set(DEFAULT_PERMISSIONS)  # application permissions granted to every caller
        self._mailboxes: list[Mailbox] = []
        self.send_as: set[tuple[str, str]] = set()  # (user name, mailbox address) pairs with Send As rights
        self._messages: list[SentMail] = []
        self._store_lock = threading.Lock()

    # --- test API --------------------------------------------------------------------------------

    @property
    def audiences(self) -> set[str]:
        return {normalise_audience(self.base_url), normalise_audience(f"http://localhost:{self.port}")}

    def add_mailbox(self, address: str, display_name: str | None = None) -> Mailbox:
        mailbox = Mailbox(address=address, display_name=display_name or address.partition("@")[0])
        self._mailboxes.append(mailbox)
        return mailbox

    def grant_send_as(self, username: str, mailbox_address: str) -> None:
        """Let a user's (delegated) token send from another mailbox, as Exchange's Send As right does."""
        self.send_as.add((username.lower(), mailbox_address.lower()))

    @property
    def messages(self) -> list[SentMail]:
        with self._store_lock:
            return list(self._messages)

    def reset_state(self) -> None:
        with self._store_lock:
            self._messages.clear()
        self.permissions = set(DEFAULT_PERMISSIONS)

    def control(self, request: Request, action: str) -> Response | None:
        if (request.method, action) == ("GET", "messages"):
            return Response.json(200, {"messages": [message.to_json() for message in self.messages]})
        return None

    def configure(self, changes: dict[str, JSON]) -> None:
        if "permissions" in changes:
            self.permissions = set(changes.pop("permissions"))
        super().configure(changes)

    def config_snapshot(self) -> dict[str, JSON]:
        return {**super().config_snapshot(), "permissions": sorted(self.permissions)}

    # --- errors ----------------------------------------------------------------------------------

    def error_response(self, status: int, message: str | None = None) -> Response:
        code, default = {
            429: ("TooManyRequests", "Please retry again later."),
            500: ("generalException", "General exception while processing."),
            503: ("serviceNotAvailable", "Service Unavailable"),
            504: ("UnknownError", "Gateway Timeout"),
        }.get(status, ("UnknownError", f"HTTP {status}"))
        return graph_error(status, code, message or default)

    def throttled(self) -> Response:
        return graph_error(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                           {"Retry-After": "1"})  # fmt: skip

    def unauthorized(self, problem: TokenProblem) -> Response:
        challenge = (
            f'Bearer realm="", authorization_uri="{self.authority_host}/common/oauth2/authorize", '
            'client_id="00000003-0000-0000-c000-000000000000"'
        )
        message = {
            TokenProblem.MISSING: "Access token is empty.",
            TokenProblem.UNKNOWN: "Access token validation failure.",
            TokenProblem.EXPIRED: "Lifetime validation failed, the token is expired.",
            TokenProblem.AUDIENCE: "Access token validation failure. Invalid audience.",
        }[problem]
        return graph_error(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": challenge})

    # --- request handling ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        token = self.authenticate(request, self.audiences)
        if isinstance(token, Response):
            return token
        try:
            return self._route(request, token)
        except GraphError as error:
            return graph_error(error.status, error.code, error.message)

    def _route(self, request: Request, token: IssuedToken) -> Response:
        if _ME.match(request.path) and token.kind != "user":
            raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        match = _USERS.match(request.path)
        if not match:
            segment = request.path.strip("/").split("/")[-1]
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
        user, action = match.groups()
        if action is None and request.method == "GET":
            return get_user(self._mailboxes, user, request, self.permissions, self.base_url)
        if action is not None and action.lower() == "sendmail" and request.method == "POST":
            return self._send_mail(user, request, token)
        raise GraphError(405, "Request_BadRequest", f"{request.method} is not supported here by the stand-in.")

    def _send_mail(self, key: str, request: Request, token: IssuedToken) -> Response:
        if "Mail.Send" not in self.permissions:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        mailbox = find_mailbox(self._mailboxes, key)
        if mailbox is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
        check_send_as(token, mailbox, self.send_as)
        mail = parse_mail(request, mailbox.address, token.principal)
        with self._store_lock:
            self._messages.append(mail)
            count = len(self._messages)
        self.notify()
        recipients = len(mail.to + mail.cc + mail.bcc)
        self.emit(f"sendMail #{count} accepted from mailbox {mailbox.id} ({recipients} recipients)")
        return Response(202, headers={"request-id": str(uuid.uuid4())})
