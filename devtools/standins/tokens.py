"""Access tokens issued by the Entra ID stand-in and checked by the resource stand-ins.

Tokens are random opaque strings (apps must not parse access tokens), remembered with their audience, so a
resource can answer 401 for a token minted for another resource, exactly as Dataverse and Graph do.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urlsplit


def normalise_audience(value: str) -> str:
    """``HTTP://127.0.0.1:80/`` → ``http://127.0.0.1:80``: scheme and host are case-insensitive, slashes vary."""
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme and parts.netloc:
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"
    return value


def audience_of_scope(scope: str) -> str | None:
    """``https://host:1/.default`` or ``https://host:1/user_impersonation`` → ``https://host:1``."""
    if "://" not in scope:
        return None
    resource, _, _permission = scope.rpartition("/")
    return normalise_audience(resource)


class TokenProblem(Enum):
    MISSING = "missing"
    UNKNOWN = "unknown"  # never issued, or revoked
    EXPIRED = "expired"
    AUDIENCE = "audience"


@dataclass(frozen=True)
class IssuedToken:
    value: str = field(repr=False)
    audience: str
    principal: str  # "app:<client id>", "user:<user name>" or "mi:<client id>"; never a secret
    client_id: str
    kind: str  # "app", "user" or "managed_identity"
    expires_at: float

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass(frozen=True)
class RefreshGrant:
    client_id: str
    username: str


class TokenRegistry:
    """Thread-safe record of issued access and refresh tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._access: dict[str, IssuedToken] = {}
        self._refresh: dict[str, RefreshGrant] = {}

    def issue(self, *, audience: str, principal: str, client_id: str, kind: str, lifetime: float) -> IssuedToken:
        token = IssuedToken(
            value=secrets.token_urlsafe(32),
            audience=normalise_audience(audience),
            principal=principal,
            client_id=client_id,
            kind=kind,
            expires_at=time.time() + lifetime,
        )
        with self._lock:
            self._access[token.value] = token
        return token

    def issue_refresh(self, client_id: str, username: str) -> str:
        value = secrets.token_urlsafe(48)
        with self._lock:
            self._refresh[value] = RefreshGrant(client_id, username)
        return value

    def redeem_refresh(self, value: str) -> RefreshGrant | None:
        with self._lock:
            return self._refresh.get(value)

    def check(self, value: str | None, audiences: set[str]) -> tuple[IssuedToken | None, TokenProblem | None]:
        """The token if it is valid for one of ``audiences`` (normalised), else what is wrong with it."""
        if not value:
            return None, TokenProblem.MISSING
        with self._lock:
            token = self._access.get(value)
        if token is None:
            return None, TokenProblem.UNKNOWN
        if token.expired:
            return token, TokenProblem.EXPIRED
        if token.audience not in audiences:
            return token, TokenProblem.AUDIENCE
        return token, None

    def is_valid(self, value: str, audience: str) -> bool:
        return self.check(value, {normalise_audience(audience)})[1] is None

    def revoke_all(self, *, refresh_tokens: bool = False) -> None:
        """Forget every access token (the next resource call answers 401); optionally refresh tokens too."""
        with self._lock:
            self._access.clear()
            if refresh_tokens:
                self._refresh.clear()
