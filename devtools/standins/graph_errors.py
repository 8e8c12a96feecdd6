"""How the Graph stand-in answers an error: ``{"error": {"code", "message", "innerError"}}`` with a fresh
``request-id`` (REFERENCE §4 and the Graph error docs), raised anywhere as ``GraphError``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from .messages import Response


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad_body(message: str) -> GraphError:
    """A body Graph could not read as the operation's parameters."""
    return GraphError(400, "RequestBodyRead", message)


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    request_id = str(uuid.uuid4())
    inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id}
    body = {"error": {"code": code, "message": message, "innerError": inner}}
    return Response.json(status, body, {"request-id": request_id, **(headers or {})})
