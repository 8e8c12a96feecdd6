"""What the Entra ID stand-in's tenant holds (app registrations, users, managed identities) and its token log."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Protocol

from .messages import JSON, Request, Response
from .tokens import TokenRegistry


@dataclass
class AppRegistration:
    client_id: str
    client_secret: str | None = field(default=None, repr=False)  # None: public client only
    display_name: str = "marketplace-leads"
    public_client: bool = True  # "Allow public client flows": ROPC without a secret
    secret_expired: bool = False
    user_consent: bool = True  # admin consent for delegated permissions (ROPC cannot prompt for it)


@dataclass
class User:
    username: str
    password: str = field(repr=False)
    display_name: str = "Leads Integration"
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    mfa_required: bool = False
    password_expired: bool = False


@dataclass
class ManagedIdentity:
    client_id: str
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    system_assigned: bool = False


@dataclass(frozen=True)
class TokenRequest:
    time: float
    grant_type: str  # client_credentials, password, refresh_token or managed_identity
    client_id: str
    scope: str  # as requested; the resource for managed identity
    audience: str | None
    principal: str | None
    error: str | None  # e.g. "AADSTS7000215"; None when a token was issued

    def to_json(self) -> dict[str, JSON]:
        return asdict(self)


class Tenant(Protocol):
    """What the token, managed identity and user-realm endpoints need of the Entra ID stand-in (entra.py): they are
    its parts, and take it through this rather than importing it (which would make an import circle)."""

    tenant_id: str
    tenant_domain: str
    token_lifetime: int
    identity_header: str
    resources: set[str]
    tokens: TokenRegistry

    @property
    def base_url(self) -> str: ...

    def record_token_request(self, entry: TokenRequest) -> None: ...

    def managed_identity_token(self, request: Request) -> Response: ...
