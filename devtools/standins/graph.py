"""Microsoft Graph stand-in: ``POST /v1.0/users/{id}/sendMail`` and ``GET /v1.0/users/{id}``.

Error codes follow Graph's ``{"error": {"code", "message", "innerError"}}`` shape (REFERENCE §4 and the Graph
error docs): InvalidAuthenticationToken (401), ErrorAccessDenied (403, no Mail.Send), ErrorInvalidUser (404,
unknown sender), Request_ResourceNotFound (404, GET user), TooManyRequests / ApplicationThrottled (429). The
messages for malformed bodies are approximations of what Graph says.

Not modelled: Exchange's per-mailbox 30 messages/minute and recipient quotas (script them with fail_next), the
Outlook 10,000 requests/10 minutes budget, attachments beyond accepting the property.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.message
import email.policy
import email.utils
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .base import JSON, Request, Response, StandIn
from .tokens import IssuedToken, TokenProblem, TokenRegistry, normalise_audience

DEFAULT_PERMISSIONS = frozenset({"Mail.Send", "User.Read.All"})
MESSAGE_PROPERTIES = frozenset({
    "subject", "body", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "from", "sender", "importance",
    "attachments", "internetMessageHeaders", "isDeliveryReceiptRequested", "isReadReceiptRequested", "categories",
    "flag",
})  # fmt: skip
_USERS = re.compile(r"^/(?:v1\.0|beta)/users/([^/]+)(?:/([^/]+))?$", re.IGNORECASE)
_ME = re.compile(r"^/(?:v1\.0|beta)/me(?:/.*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Mailbox:
    address: str  # mail and userPrincipalName
    display_name: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "mail": self.address,
            "userPrincipalName": self.address,
            "displayName": self.display_name,
        }


@dataclass(frozen=True)
class SentMail:
    time: float
    sender: str  # the mailbox address the mail was sent from
    subject: str  # "" when the message had none
    content_type: str | None  # "HTML" or "Text" as sent (case preserved); None for MIME
    content: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    save_to_sent_items: bool
    principal: str | None
    mime: bool = False

    def to_json(self) -> dict[str, JSON]:
        return {
            "time": self.time, "sender": self.sender, "subject": self.subject, "content_type": self.content_type,
            "content": self.content, "to": list(self.to), "cc": list(self.cc), "bcc": list(self.bcc),
            "save_to_sent_items": self.save_to_sent_items, "principal": self.principal, "mime": self.mime,
        }  # fmt: skip


class _GraphError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad_body(message: str) -> _GraphError:
    return _GraphError(400, "RequestBodyRead", message)


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

    @staticmethod
    def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        request_id = str(uuid.uuid4())
        inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id}
        body = {"error": {"code": code, "message": message, "innerError": inner}}
        return Response.json(status, body, {"request-id": request_id, **(headers or {})})

    def error_response(self, status: int, message: str | None = None) -> Response:
        code, default = {
            429: ("TooManyRequests", "Please retry again later."),
            500: ("generalException", "General exception while processing."),
            503: ("serviceNotAvailable", "Service Unavailable"),
            504: ("UnknownError", "Gateway Timeout"),
        }.get(status, ("UnknownError", f"HTTP {status}"))
        return self._error(status, code, message or default)

    def throttled(self) -> Response:
        return self._error(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
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
        return self._error(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": challenge})

    # --- request handling ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        token = self.authenticate(request, self.audiences)
        if isinstance(token, Response):
            return token
        try:
            return self._route(request, token)
        except _GraphError as error:
            return self._error(error.status, error.code, error.message)

    def _route(self, request: Request, token: IssuedToken) -> Response:
        if _ME.match(request.path) and token.kind != "user":
            raise _GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        match = _USERS.match(request.path)
        if not match:
            segment = request.path.strip("/").split("/")[-1]
            raise _GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
        user, action = match.groups()
        if action is None and request.method == "GET":
            return self._get_user(user, request)
        if action is not None and action.lower() == "sendmail" and request.method == "POST":
            return self._send_mail(user, request, token)
        raise _GraphError(405, "Request_BadRequest", f"{request.method} is not supported here by the stand-in.")

    def _mailbox(self, key: str) -> Mailbox | None:
        key = key.lower()
        return next((m for m in self._mailboxes if key in (m.id.lower(), m.address.lower())), None)

    def _get_user(self, key: str, request: Request) -> Response:
        if not self.permissions & {"User.Read.All", "User.ReadBasic.All", "Directory.Read.All"}:
            raise _GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        mailbox = self._mailbox(key)
        if mailbox is None:
            raise _GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
            )
        body: dict[str, Any] = mailbox.to_json()
        if select := request.param("$select"):
            wanted = {name.strip() for name in select.split(",")}
            body = {name: value for name, value in body.items() if name in wanted}
        return Response.json(200, {"@odata.context": f"{self.base_url}/v1.0/$metadata#users/$entity", **body})

    def _send_mail(self, key: str, request: Request, token: IssuedToken) -> Response:
        if "Mail.Send" not in self.permissions:
            raise _GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        mailbox = self._mailbox(key)
        if mailbox is None:
            raise _GraphError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
        if token.kind == "user":
            username = token.principal.removeprefix("user:").lower()
            if username != mailbox.address.lower() and (username, mailbox.address.lower()) not in self.send_as:
                raise _GraphError(
                    403,
                    "ErrorSendAsDenied",
                    "The user account which was used to submit this request does not have the right to send mail on "
                    "behalf of the specified sending account., Cannot submit message.",
                )
        if request.header("content-type").lower().startswith("text/plain"):
            mail = self._parse_mime(request, mailbox, token)
        else:
            mail = self._parse_json(request, mailbox, token)
        with self._store_lock:
            self._messages.append(mail)
            count = len(self._messages)
        self.notify()
        recipients = len(mail.to + mail.cc + mail.bcc)
        self.emit(f"sendMail #{count} accepted from mailbox {mailbox.id} ({recipients} recipients)")
        return Response(202, headers={"request-id": str(uuid.uuid4())})

    def _parse_json(self, request: Request, mailbox: Mailbox, token: IssuedToken) -> SentMail:
        if not request.body:
            raise _GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        try:
            payload = request.json()
        except ValueError:
            raise _GraphError(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
                "valid JSON format.",
            ) from None
        if not isinstance(payload, dict):
            raise _bad_body("The request payload must be a JSON object.")
        for name in payload:
            if name not in ("message", "saveToSentItems"):
                raise _bad_body(f"The parameter '{name}' in the request payload is not a valid parameter for the "
                                "operation 'sendMail'.")  # fmt: skip
        message = payload.get("message")
        if not isinstance(message, dict) or not message:
            raise _GraphError(400, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty.")
        for name in message:
            if name not in MESSAGE_PROPERTIES:
                raise _bad_body(
                    f"The property '{name}' does not exist on type 'microsoft.graph.message'. Make sure to "
                    "only use property names that are defined by the type or mark the type as open type."
                )
        subject = message.get("subject", "")
        if not isinstance(subject, str):
            raise _bad_body("Cannot convert a primitive value to the expected type 'Edm.String' for 'subject'.")
        content_type, content = self._body(message.get("body"))
        to, cc, bcc = (self._recipients(message, name) for name in ("toRecipients", "ccRecipients", "bccRecipients"))
        if not (to or cc or bcc):
            raise _GraphError(400, "ErrorInvalidRecipients", "At least one recipient is required, but none were found.")
        save = payload.get("saveToSentItems", True)
        if not isinstance(save, bool):
            raise _bad_body("Cannot convert the literal to the expected type 'Edm.Boolean' for 'saveToSentItems'.")
        return SentMail(
            time.time(), mailbox.address, subject, content_type, content, to, cc, bcc, save, token.principal
        )

    @staticmethod
    def _body(body: JSON) -> tuple[str | None, str]:
        if body is None:
            return None, ""
        if not isinstance(body, dict):
            raise _bad_body("The property 'body' must be an itemBody object.")
        content_type = body.get("contentType", "Text")
        if not isinstance(content_type, str) or content_type.lower() not in ("html", "text"):
            raise _bad_body(
                f"Cannot convert the literal '{content_type}' to the expected type 'microsoft.graph.bodyType'."
            )
        content = body.get("content", "")
        if not isinstance(content, str):
            raise _bad_body("Cannot convert a primitive value to the expected type 'Edm.String' for 'content'.")
        return content_type, content

    @staticmethod
    def _recipients(message: dict[str, JSON], name: str) -> tuple[str, ...]:
        recipients = message.get(name) or []
        if not isinstance(recipients, list):
            raise _bad_body(f"The property '{name}' must be a collection of recipient objects.")
        addresses = []
        for recipient in recipients:
            address = recipient.get("emailAddress", {}).get("address") if isinstance(recipient, dict) else None
            if not isinstance(address, str):
                raise _bad_body(f'Each entry of \'{name}\' must be {{"emailAddress": {{"address": "..."}}}}.')
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
                raise _GraphError(
                    400,
                    "ErrorInvalidRecipients",
                    f"At least one recipient isn't valid., Recipient '{address}' isn't resolved. All recipients must "
                    "be resolved before a message can be submitted.",
                )
            addresses.append(address)
        return tuple(addresses)

    @staticmethod
    def _parse_mime(request: Request, mailbox: Mailbox, token: IssuedToken) -> SentMail:
        try:
            raw = base64.b64decode(request.body, validate=True)
        except (binascii.Error, ValueError):
            raise _GraphError(
                400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."
            ) from None
        parsed = email.message_from_bytes(raw, policy=email.policy.default)

        def addresses(header: str) -> tuple[str, ...]:
            return tuple(address for _name, address in email.utils.getaddresses(parsed.get_all(header, [])))

        to, cc, bcc = addresses("To"), addresses("Cc"), addresses("Bcc")
        if not (to or cc or bcc):
            raise _GraphError(400, "ErrorInvalidRecipients", "At least one recipient is required, but none were found.")
        part = parsed.get_body(("html", "plain")) if isinstance(parsed, email.message.EmailMessage) else None
        content = part.get_content() if part is not None else ""
        subject = str(parsed.get("Subject", ""))
        return SentMail(
            time.time(), mailbox.address, subject, None, content, to, cc, bcc, True, token.principal, mime=True
        )
