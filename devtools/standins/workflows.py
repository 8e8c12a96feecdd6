"""Teams Workflows stand-in: the "When a Teams webhook request is received" trigger of a Power Automate flow.

``POST /powerautomate/automations/direct/workflows/{id}/triggers/manual/paths/invoke?api-version=1&sp=…&sv=1.0
&sig=…`` (the URL Teams gives; REFERENCE §8.3). As Workflows does, the trigger answers ``202 Accepted`` with an
empty body as soon as the run is queued, and posting the card to the channel happens later, inside the flow: a
card Teams cannot render does not change the HTTP answer, the run just fails. So the stand-in answers 202 and
validates the card as Teams would render it, keeping accepted cards in ``cards`` and refused ones in
``rejected`` (with the reasons) for the tests to look at.

Errors follow the Logic Apps shape ``{"error": {"code", "message"}}``: an unknown or deleted workflow answers
404 WorkflowNotFound, a wrong signature 401 DirectApiInvalidAuthorizationSignature, a body that is not JSON 400
InvalidRequestContent, throttling 429 with Retry-After (script it with fail_next).
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .base import JSON, Request, Response, StandIn

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5")  # what Teams renders
ELEMENTS = {
    "TextBlock",
    "FactSet",
    "Container",
    "ColumnSet",
    "Column",
    "Image",
    "ImageSet",
    "ActionSet",
    "RichTextBlock",
    "Table",
}
ACTIONS = {"Action.OpenUrl", "Action.ShowCard", "Action.ToggleVisibility"}  # Action.Submit: not in Workflows
MAX_MESSAGE_BYTES = 28 * 1024  # Teams' limit for a message
_PATH = re.compile(r"^/powerautomate/automations/direct/workflows/([0-9a-f]+)/triggers/manual/paths/invoke/?$")


@dataclass(frozen=True)
class PostedCard:
    workflow: str
    message: JSON
    problems: tuple[str, ...]  # empty: Teams would render it


class WorkflowsStandIn(StandIn):
    name = "workflows"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self._workflows: dict[str, str] = {}  # id → signature
        self._deleted: dict[str, str] = {}  # back on reset(), which restores the stand-in's configuration
        self._posted: list[PostedCard] = []
        self._posted_lock = threading.Lock()

    # --- test API --------------------------------------------------------------------------------

    def add_workflow(self) -> str:
        """A new flow; returns its webhook URL (with its signature: a secret)."""
        workflow, signature = secrets.token_hex(16), secrets.token_urlsafe(32)
        self._workflows[workflow] = signature
        return (
            f"{self.base_url}/powerautomate/automations/direct/workflows/{workflow}/triggers/manual/paths/invoke"
            f"?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={signature}"
        )

    def delete_workflow(self, url: str) -> None:
        """What a user deleting the flow in Power Automate does: its URL answers 404 from now on."""
        match = _PATH.match(urlsplit(url).path)
        if match and match.group(1) in self._workflows:
            self._deleted[match.group(1)] = self._workflows.pop(match.group(1))

    @property
    def cards(self) -> list[JSON]:
        """Messages whose card Teams would render, in the order they came."""
        with self._posted_lock:
            return [posted.message for posted in self._posted if not posted.problems]

    @property
    def rejected(self) -> list[PostedCard]:
        with self._posted_lock:
            return [posted for posted in self._posted if posted.problems]

    def control(self, request: Request, action: str) -> Response | None:
        """``GET /_standin/cards``: what reached the channel, and what Teams would not have rendered (make run)."""
        if action != "cards":
            return None
        with self._posted_lock:
            posted = [
                {"workflow": p.workflow, "problems": list(p.problems), "message": p.message} for p in self._posted
            ]
        return Response.json(200, posted)

    def reset_state(self) -> None:
        with self._posted_lock:
            self._posted.clear()
        self._workflows |= self._deleted
        self._deleted.clear()

    # --- the service -------------------------------------------------------------------------------

    def error_response(self, status: int, message: str | None = None) -> Response:
        code = {
            404: "WorkflowNotFound",
            401: "DirectApiInvalidAuthorizationSignature",
            400: "InvalidRequestContent",
            429: "WorkflowRequestsThrottled",
        }.get(status, "ServiceUnavailable" if status >= 500 else str(status))
        return Response.json(status, {"error": {"code": code, "message": message or f"The request failed ({code})."}})

    def loggable_body(self, request: Request) -> JSON:
        return None  # the card holds a lead's contact details

    def handle(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        if request.method != "POST" or not match:
            return self.error_response(404, f"The request URI '{request.path}' does not match any known API routes.")
        workflow = match.group(1)
        signature = self._workflows.get(workflow)
        if signature is None:
            return self.error_response(404, f"The workflow '{workflow}' could not be found.")
        if not secrets.compare_digest(request.param("sig") or "", signature):
            return self.error_response(401, "The provided authorization signature is invalid.")
        try:
            message = request.json()
        except (ValueError, UnicodeDecodeError):
            return self.error_response(400, "The request content is not valid JSON.")
        problems = (
            tuple(card_problems(message))
            if len(request.body) <= MAX_MESSAGE_BYTES
            else (f"message is {len(request.body)} bytes; Teams takes at most {MAX_MESSAGE_BYTES}",)
        )
        with self._posted_lock:
            self._posted.append(PostedCard(workflow, message, problems))
        self.notify()
        return Response(202, b"", {"x-ms-workflow-run-id": secrets.token_hex(12)})


def card_problems(message: Any) -> list[str]:
    """Why Teams would not render this Workflows message's card; [] when it would."""
    if not isinstance(message, dict) or message.get("type") != "message":
        return ['the message must be an object with "type": "message"']
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return ["the message has no attachments"]
    problems: list[str] = []
    for attachment in attachments:
        if not isinstance(attachment, dict) or attachment.get("contentType") != CARD_CONTENT_TYPE:
            problems.append(f"an attachment's contentType must be {CARD_CONTENT_TYPE}")
            continue
        problems += _card_problems(attachment.get("content"))
    return problems


def _card_problems(card: Any) -> list[str]:
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return ['the attachment\'s content must be an object with "type": "AdaptiveCard"']
    problems = (
        []
        if card.get("version") in CARD_VERSIONS
        else [f"card version {card.get('version')!r} is not one of {', '.join(CARD_VERSIONS)}"]
    )
    body = card.get("body")
    if not isinstance(body, list) or not body:
        problems.append("the card has no body")
    for element in body if isinstance(body, list) else []:
        problems += _element_problems(element)
    for action in card.get("actions") or []:
        problems += _action_problems(action)
    return problems


def _element_problems(element: Any) -> list[str]:
    kind = element.get("type") if isinstance(element, dict) else None
    if kind not in ELEMENTS:
        return [f"element type {kind!r} is not one Teams renders"]
    if kind == "TextBlock" and not isinstance(element.get("text"), str):
        return ["a TextBlock needs a text string"]
    if kind == "FactSet":
        facts = element.get("facts")
        if not isinstance(facts, list) or not all(
            isinstance(fact, dict) and isinstance(fact.get("title"), str) and isinstance(fact.get("value"), str)
            for fact in facts
        ):
            return ["a FactSet needs facts with a title and a value string each"]
    problems: list[str] = []
    for child in element.get("items") or element.get("columns") or []:
        problems += _element_problems(child)
    return problems


def _action_problems(action: Any) -> list[str]:
    kind = action.get("type") if isinstance(action, dict) else None
    if kind not in ACTIONS:
        return [f"action type {kind!r} is not supported in Workflows cards"]
    url = action.get("url")
    if kind == "Action.OpenUrl" and not (isinstance(url, str) and re.match(r"^https?://[^\s/]+", url)):
        return ["an Action.OpenUrl needs an http(s) url"]
    return []
