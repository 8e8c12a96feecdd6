"""The body of Graph's ``sendMail``, as the Graph stand-in reads it: a JSON ``{"message", "saveToSentItems"}``
or, with ``Content-Type: text/plain``, a base64 MIME message; either becomes a ``SentMail``. The messages for
malformed bodies are approximations of what Graph says."""

from __future__ import annotations

import base64
import binascii
import email
import email.message
import email.policy
import email.utils
import re
import time
from dataclasses import dataclass
from typing import Any

from .graph_errors import GraphError, bad_body
from .messages import JSON, Request

MESSAGE_PROPERTIES = frozenset({
    "subject", "body", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "from", "sender", "importance",
    "attachments", "internetMessageHeaders", "isDeliveryReceiptRequested", "isReadReceiptRequested", "categories",
    "flag",
})  # fmt: skip


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


def parse_mail(request: Request, sender: str, principal: str | None) -> SentMail:
    """The mail a sendMail request asks to send from the ``sender`` address; GraphError as Graph answers."""
    if request.header("content-type").lower().startswith("text/plain"):
        return _parse_mime(request, sender, principal)
    return _parse_json(request, sender, principal)


def _parse_json(request: Request, sender: str, principal: str | None) -> SentMail:
    payload = _payload(request)
    message = payload.get("message")
    if not isinstance(message, dict) or not message:
        raise GraphError(400, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty.")
    for name in message:
        if name not in MESSAGE_PROPERTIES:
            raise bad_body(
                f"The property '{name}' does not exist on type 'microsoft.graph.message'. Make sure to "
                "only use property names that are defined by the type or mark the type as open type."
            )
    subject = message.get("subject", "")
    if not isinstance(subject, str):
        raise bad_body("Cannot convert a primitive value to the expected type 'Edm.String' for 'subject'.")
    content_type, content = _body(message.get("body"))
    to, cc, bcc = (_recipients(message, name) for name in ("toRecipients", "ccRecipients", "bccRecipients"))
    if not (to or cc or bcc):
        raise _no_recipients()
    save = payload.get("saveToSentItems", True)
    if not isinstance(save, bool):
        raise bad_body("Cannot convert the literal to the expected type 'Edm.Boolean' for 'saveToSentItems'.")
    return SentMail(time.time(), sender, subject, content_type, content, to, cc, bcc, save, principal)


def _payload(request: Request) -> dict[str, Any]:
    if not request.body:
        raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
    try:
        payload = request.json()
    except ValueError:
        raise GraphError(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
            "valid JSON format.",
        ) from None
    if not isinstance(payload, dict):
        raise bad_body("The request payload must be a JSON object.")
    for name in payload:
        if name not in ("message", "saveToSentItems"):
            raise bad_body(f"The parameter '{name}' in the request payload is not a valid parameter for the "
                           "operation 'sendMail'.")  # fmt: skip
    return payload


def _body(body: JSON) -> tuple[str | None, str]:
    if body is None:
        return None, ""
    if not isinstance(body, dict):
        raise bad_body("The property 'body' must be an itemBody object.")
    content_type = body.get("contentType", "Text")
    if not isinstance(content_type, str) or content_type.lower() not in ("html", "text"):
        raise bad_body(f"Cannot convert the literal '{content_type}' to the expected type 'microsoft.graph.bodyType'.")
    content = body.get("content", "")
    if not isinstance(content, str):
        raise bad_body("Cannot convert a primitive value to the expected type 'Edm.String' for 'content'.")
    return content_type, content


def _recipients(message: dict[str, JSON], name: str) -> tuple[str, ...]:
    recipients = message.get(name) or []
    if not isinstance(recipients, list):
        raise bad_body(f"The property '{name}' must be a collection of recipient objects.")
    addresses = []
    for recipient in recipients:
        address = recipient.get("emailAddress", {}).get("address") if isinstance(recipient, dict) else None
        if not isinstance(address, str):
            raise bad_body(f'Each entry of \'{name}\' must be {{"emailAddress": {{"address": "..."}}}}.')
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
            raise GraphError(
                400,
                "ErrorInvalidRecipients",
                f"At least one recipient isn't valid., Recipient '{address}' isn't resolved. All recipients must "
                "be resolved before a message can be submitted.",
            )
        addresses.append(address)
    return tuple(addresses)


def _parse_mime(request: Request, sender: str, principal: str | None) -> SentMail:
    try:
        raw = base64.b64decode(request.body, validate=True)
    except (binascii.Error, ValueError):
        raise GraphError(
            400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."
        ) from None
    parsed = email.message_from_bytes(raw, policy=email.policy.default)

    def addresses(header: str) -> tuple[str, ...]:
        return tuple(address for _name, address in email.utils.getaddresses(parsed.get_all(header, [])))

    to, cc, bcc = addresses("To"), addresses("Cc"), addresses("Bcc")
    if not (to or cc or bcc):
        raise _no_recipients()
    part = parsed.get_body(("html", "plain")) if isinstance(parsed, email.message.EmailMessage) else None
    content = part.get_content() if part is not None else ""
    subject = str(parsed.get("Subject", ""))
    return SentMail(time.time(), sender, subject, None, content, to, cc, bcc, True, principal, mime=True)


def _no_recipients() -> GraphError:
    return GraphError(400, "ErrorInvalidRecipients", "At least one recipient is required, but none were found.")
