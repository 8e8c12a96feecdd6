"""The Graph stand-in's users: their mailboxes, ``GET /users/{id | userPrincipalName}`` and the Exchange
Send As right a delegated caller needs to send from a mailbox other than its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .graph_errors import GraphError
from .messages import Request, Response
from .tokens import IssuedToken

_READ_USERS = frozenset({"User.Read.All", "User.ReadBasic.All", "Directory.Read.All"})


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


def find_mailbox(mailboxes: Iterable[Mailbox], key: str) -> Mailbox | None:
    """The mailbox whose id or address is ``key`` (ignoring case)."""
    key = key.lower()
    return next((m for m in mailboxes if key in (m.id.lower(), m.address.lower())), None)


def get_user(
    mailboxes: Iterable[Mailbox], key: str, request: Request, permissions: set[str], base_url: str
) -> Response:
    """``GET /users/{key}``, honouring ``$select``."""
    if not permissions & _READ_USERS:
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    mailbox = find_mailbox(mailboxes, key)
    if mailbox is None:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
        )
    body: dict[str, Any] = mailbox.to_json()
    if select := request.param("$select"):
        wanted = {name.strip() for name in select.split(",")}
        body = {name: value for name, value in body.items() if name in wanted}
    return Response.json(200, {"@odata.context": f"{base_url}/v1.0/$metadata#users/$entity", **body})


def check_send_as(token: IssuedToken, mailbox: Mailbox, send_as: set[tuple[str, str]]) -> None:
    """A user's (delegated) token sends from its own mailbox, or from one it holds Send As on."""
    if token.kind != "user":
        return
    username = token.principal.removeprefix("user:").lower()
    if username != mailbox.address.lower() and (username, mailbox.address.lower()) not in send_as:
        raise GraphError(
            403,
            "ErrorSendAsDenied",
            "The user account which was used to submit this request does not have the right to send mail on "
            "behalf of the specified sending account., Cannot submit message.",
        )
