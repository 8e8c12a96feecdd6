"""Entra ID stand-in: OIDC tenant discovery and the v2.0 token endpoint over HTTPS, an App Service-style
managed identity endpoint over plain http, and the ROPC user-realm endpoint on 127.0.0.1:443.

Error bodies copy the real ``{"error", "error_description": "AADSTS…", "error_codes", …}`` shape; MSAL and
azure-identity surface ``error``/``error_description`` to the app.

User-realm discovery: before a password (ROPC) sign-in, MSAL 1.39 calls
``https://<authority hostname>/common/userrealm/<user>?api-version=1.0`` (``Authority.user_realm_discovery``
builds the URL from ``authority.hostname``, so the authority's port is dropped) and fails on a connection
error. We answer it on a real socket at 127.0.0.1:443 (we run as root) rather than injecting an http_client
into the app, so the app's real MSAL code path runs; 127.0.0.1 is the only address the project allows, and a
listener on 127.0.0.2 would be reached only if the authority itself were there.

Several test processes run at once (one pytest per engineer), so the listener binds with SO_REUSEPORT: every
stand-in process on the machine listens on 127.0.0.1:443 together, the kernel hands each connection to one of
them, and the port stays served as long as any of them runs. That works because the answer is the same
everywhere (``Managed`` for any domain; MSAL only treats ``Federated`` specially, and the password is checked
at each stand-in's own token endpoint) and every process's certificate comes from the one machine-wide test CA
(tls.py). If a program without SO_REUSEPORT holds the port, the stand-in still starts and ``user_realm_error``
explains why ROPC sign-ins will fail; ``require_user_realm()`` raises that explanation.

The endpoints live in their own modules: OIDC discovery and tenant names (entra_discovery), the token endpoint
(entra_token, with its checks in entra_grants and its error bodies in entra_errors), the managed identity
endpoint (entra_msi) and user-realm discovery (entra_user_realm); the tenant's records are in entra_records.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Self
from urllib.parse import parse_qs

from .entra_discovery import check_tenant, openid_configuration
from .entra_errors import OAuthError, oauth_response
from .entra_grants import OIDC_SCOPES
from .entra_msi import MSI_API_VERSION, ManagedIdentityEndpoint
from .entra_records import AppRegistration, ManagedIdentity, TokenRequest, User
from .entra_token import TokenEndpoint
from .entra_user_realm import managed_realm, realm_username, shared_user_realm
from .messages import JSON, Request, Response
from .standin import StandIn
from .tls import shared_ca
from .tokens import TokenRegistry, normalise_audience

__all__ = [
    "MSI_API_VERSION", "OIDC_SCOPES", "SECRET_FORM_FIELDS", "AppRegistration", "EntraStandIn", "ManagedIdentity",
    "TokenRequest", "User",
]  # fmt: skip

SECRET_FORM_FIELDS = frozenset({"client_secret", "password", "refresh_token", "client_assertion", "code"})


class EntraStandIn(StandIn):
    name = "entra"

    def __init__(
        self,
        *,
        tenant_id: str | None = None,
        tenant_domain: str = "contoso.onmicrosoft.com",
        tokens: TokenRegistry | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        msi_port: int = 0,
        user_realm_port: int | None = 443,
        token_lifetime: int = 3599,
    ) -> None:
        super().__init__(host=host, port=port, tls=shared_ca().server_context(), tokens=tokens)
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.tenant_domain = tenant_domain
        self.token_lifetime = self._initial_token_lifetime = token_lifetime
        self.identity_header = secrets.token_urlsafe(24)
        self.resources: set[str] = set()  # empty: any resource; else unknown ones fail with AADSTS500011
        self.user_realm_error: str | None = None
        self._apps: dict[str, AppRegistration] = {}
        self._users: dict[str, User] = {}
        self._identities: dict[str, ManagedIdentity] = {}
        self._token_requests: list[TokenRequest] = []
        self._user_realm_port = user_realm_port
        self._token_endpoint = TokenEndpoint(self, self._apps, self._users)
        self._msi = ManagedIdentityEndpoint(self, self._identities, host=host, port=msi_port)

    # --- configuration ---------------------------------------------------------------------------

    def add_app(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        public_client: bool = True,
        secret_expired: bool = False,
        display_name: str = "marketplace-leads",
    ) -> AppRegistration:
        """Register an app; a secret is generated unless given (pass ``client_secret=""`` for none)."""
        app = AppRegistration(
            client_id=client_id or str(uuid.uuid4()),
            client_secret=secrets.token_urlsafe(30) if client_secret is None else (client_secret or None),
            display_name=display_name,
            public_client=public_client,
            secret_expired=secret_expired,
        )
        self._apps[app.client_id] = app
        return app

    def add_user(self, username: str, password: str | None = None, *, mfa_required: bool = False) -> User:
        user = User(username=username, password=password or secrets.token_urlsafe(18), mfa_required=mfa_required)
        self._users[username.lower()] = user
        return user

    def add_managed_identity(self, client_id: str | None = None, *, system_assigned: bool = False) -> ManagedIdentity:
        identity = ManagedIdentity(client_id=client_id or str(uuid.uuid4()), system_assigned=system_assigned)
        self._identities[identity.client_id] = identity
        return identity

    def add_resource(self, url: str) -> None:
        self.resources.add(normalise_audience(url))

    def revoke_all_tokens(self, *, refresh_tokens: bool = False) -> None:
        """Invalidate every issued access token, so the next resource call answers 401."""
        self.tokens.revoke_all(refresh_tokens=refresh_tokens)

    # --- lifecycle and addresses -----------------------------------------------------------------

    def start(self) -> Self:
        super().start()
        try:
            self._msi.start()
        except OSError:
            super().stop()
            raise
        if self._user_realm_port:
            self.user_realm_error = shared_user_realm.join(self, self._user_realm_port)
        return self

    def stop(self) -> None:
        shared_user_realm.leave(self)
        self._msi.stop()
        super().stop()

    @property
    def authority_host(self) -> str:
        """``AZURE_AUTHORITY_HOST``: https://127.0.0.1:PORT."""
        return self.base_url

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def identity_endpoint(self) -> str:
        """``IDENTITY_ENDPOINT`` (App Service style, plain http like the real one)."""
        return f"{self._msi.base_url}/msi/token"

    @property
    def msi(self) -> StandIn:
        """The managed identity endpoint (own request log and faults)."""
        return self._msi

    def require_user_realm(self) -> None:
        """Raise a clear error when ROPC sign-ins cannot work because 127.0.0.1:443 is unavailable."""
        if self.user_realm_error:
            raise RuntimeError(self.user_realm_error)

    # --- token request log -----------------------------------------------------------------------

    @property
    def token_requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._token_requests)

    def token_request_count(
        self, *, audience: str | None = None, grant_type: str | None = None, succeeded: bool | None = True
    ) -> int:
        wanted = normalise_audience(audience) if audience else None
        return sum(
            1
            for entry in self.token_requests
            if (wanted is None or entry.audience == wanted)
            and (grant_type is None or entry.grant_type == grant_type)
            and (succeeded is None or (entry.error is None) == succeeded)
        )

    def record_token_request(self, entry: TokenRequest) -> None:
        with self._changed:
            self._token_requests.append(entry)
            self._changed.notify_all()
        outcome = entry.error or "issued"
        self.emit(f"token {entry.grant_type} for {entry.audience or entry.scope or '-'}: {outcome}")

    def reset_state(self) -> None:
        self._token_requests.clear()
        self.token_lifetime = self._initial_token_lifetime

    # --- HTTP ------------------------------------------------------------------------------------

    def loggable_body(self, request: Request) -> JSON:
        form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: "***" if key in SECRET_FORM_FIELDS else values[0] for key, values in form.items()}

    def control(self, request: Request, action: str) -> Response | None:
        if (request.method, action) == ("GET", "token-requests"):
            return Response.json(200, {"token_requests": [entry.to_json() for entry in self.token_requests]})
        if (request.method, action) == ("POST", "revoke"):
            options = request.json() if request.body else {}
            self.revoke_all_tokens(refresh_tokens=bool(options.get("refresh_tokens")))
            return Response(204)
        return None

    def configure(self, changes: dict[str, JSON]) -> None:
        if "token_lifetime" in changes:
            self.token_lifetime = int(changes.pop("token_lifetime"))
        if "secret_expired" in changes:
            expired = bool(changes.pop("secret_expired"))
            for app in self._apps.values():
                app.secret_expired = expired
        super().configure(changes)

    def config_snapshot(self) -> dict[str, JSON]:
        return {
            **super().config_snapshot(),
            "token_lifetime": self.token_lifetime,
            "secret_expired": any(app.secret_expired for app in self._apps.values()),
            "resources": sorted(self.resources),
        }

    def error_response(self, status: int, message: str | None = None) -> Response:
        error = {400: "invalid_request", 401: "invalid_client", 429: "temporarily_unavailable"}.get(status)
        return oauth_response(
            OAuthError(status, error or "server_error", 0, message or "Stand-in fault."), self.base_url
        )

    def handle(self, request: Request) -> Response:
        segments = request.path.strip("/").split("/")
        if request.method == "GET" and segments[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return self._openid_configuration(segments[0])
        if request.method == "POST" and segments[1:] == ["oauth2", "v2.0", "token"]:
            return self._token_endpoint.answer(request, segments[0])
        if (username := realm_username(request)) is not None:
            return Response.json(200, self.user_realm(username))
        return Response.json(404, {"error": "not_found", "error_description": f"No such endpoint: {request.path}"})

    def user_realm(self, username: str) -> dict[str, JSON]:
        """Entra's answer for this stand-in's own users' domains (``Unknown`` for others)."""
        domain = username.rpartition("@")[2].lower()
        if any(user.username.lower().endswith("@" + domain) for user in self._users.values()):
            return managed_realm(domain)
        return {"ver": "1.0", "account_type": "Unknown", "cloud_instance_name": "microsoftonline.com"}

    def _openid_configuration(self, tenant: str) -> Response:
        try:
            check_tenant(tenant, tenant_id=self.tenant_id, tenant_domain=self.tenant_domain, error="invalid_tenant")
        except OAuthError as error:
            return oauth_response(error, self.base_url)
        return Response.json(200, openid_configuration(self.base_url, self.tenant_id, tenant))

    # --- managed identity (called by ManagedIdentityEndpoint) ------------------------------------

    def managed_identity_token(self, request: Request) -> Response:
        """App Service ``GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=…[&client_id=…]``."""
        return self._msi.token(request)
