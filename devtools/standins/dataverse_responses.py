"""How the Dataverse stand-in answers: JSON with the OData headers, and the error body
``{"error": {"code": "0x…", "message": …}}`` (REFERENCE §3), raised anywhere as ``DataverseError``."""

from __future__ import annotations

from .messages import JSON, Response


class DataverseError(Exception):
    """An error answer: ``status``, Dataverse's hexadecimal ``code`` ("" where the real body is undocumented)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def odata_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json(
        status, {"error": {"code": code, "message": message}}, {"OData-Version": "4.0", **(headers or {})}
    )


def odata_json(status: int, payload: JSON) -> Response:
    """A successful answer; an entity's ``@odata.etag`` is also its ETag header."""
    headers = {"OData-Version": "4.0", "Content-Type": "application/json; odata.metadata=minimal"}
    if isinstance(payload, dict) and "@odata.etag" in payload:
        headers["ETag"] = str(payload["@odata.etag"])
    return Response.json(status, payload, headers)
