"""Entra ID's OAuth error answers: ``{"error", "error_description": "AADSTS…", "error_codes", …}``, the shape
MSAL and azure-identity read ``error``/``error_description`` from."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from .messages import Response

# Token endpoint answers, successful or not, must not be cached.
NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


class OAuthError(Exception):
    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.code, self.message = status, error, code, message


def oauth_response(error: OAuthError, base_url: str) -> Response:
    """``error`` as the real service answers it (``base_url``: the authority host, for ``error_uri``)."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    prefix = f"AADSTS{error.code}: " if error.code else ""
    body = {
        "error": error.error,
        "error_description": f"{prefix}{error.message} Trace ID: {trace} Correlation ID: {correlation} "
        f"Timestamp: {stamp}",
        "error_codes": [error.code] if error.code else [],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"{base_url}/error?code={error.code}",
    }
    return Response.json(error.status, body, NO_CACHE)
