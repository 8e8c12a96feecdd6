"""The request log every stand-in keeps, with tokens and secrets left out."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from .messages import JSON, Request

# Request headers kept in the log. Authorization is reduced to its scheme and X-IDENTITY-HEADER to "***", so
# neither tokens nor secrets ever reach the log.
LOGGED_HEADERS = (
    "accept",
    "authorization",
    "client-request-id",
    "content-type",
    "if-match",
    "if-none-match",
    "mscrm.suppressduplicatedetection",
    "odata-maxversion",
    "odata-version",
    "prefer",
    "user-agent",
    "x-identity-header",
    "x-ms-client-request-id",
)


@dataclass(frozen=True)
class RecordedRequest:
    time: float
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # LOGGED_HEADERS only, secrets reduced
    body: JSON  # parsed JSON when possible, else text; secrets removed by the stand-in
    status: int
    principal: str | None
    fault: str | None  # the scripted fault that shaped the answer, if any

    def to_json(self) -> dict[str, JSON]:
        return asdict(self)


def recorded(request: Request, body: JSON, status: int, fault: str | None) -> RecordedRequest:
    """The log entry for ``request``, answered with ``status``; ``body`` is the stand-in's loggable body."""
    headers = {name: request.headers[name] for name in LOGGED_HEADERS if name in request.headers}
    if "authorization" in headers:
        headers["authorization"] = headers["authorization"].split(" ", 1)[0]
    if "x-identity-header" in headers:
        headers["x-identity-header"] = "***"
    return RecordedRequest(
        time=time.time(),
        method=request.method,
        path=request.path,
        query=request.query,
        headers=headers,
        body=body,
        status=status,
        principal=request.principal,
        fault=fault,
    )
