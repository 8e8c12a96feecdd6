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
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Self
from urllib.parse import parse_qs

from .base import JSON, Request, Response, StandIn
from .tls import shared_ca
from .tokens import IssuedToken, TokenRegistry, audience_of_scope, normalise_audience

OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
SECRET_FORM_FIELDS = frozenset({"client_secret", "password", "refresh_token", "client_assertion", "code"})
MSI_API_VERSION = "2019-08-01"
_TENANT_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


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


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.code, self.message = status, error, code, message


def _b64url(data: JSON) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


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
        self._msi = _ManagedIdentityEndpoint(self, host=host, port=msi_port)

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
            self.user_realm_error = _user_realm.join(self, self._user_realm_port)
        return self

    def stop(self) -> None:
        _user_realm.leave(self)
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
        return self._oauth_response(_OAuthError(status, error or "server_error", 0, message or "Stand-in fault."))

    def handle(self, request: Request) -> Response:
        segments = request.path.strip("/").split("/")
        if request.method == "GET" and segments[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return self._openid_configuration(segments[0])
        if request.method == "POST" and segments[1:] == ["oauth2", "v2.0", "token"]:
            return self._token(request, segments[0])
        if request.method == "GET" and segments[:2] == ["common", "userrealm"] and len(segments) == 3:
            return Response.json(200, self.user_realm(segments[2]))
        return Response.json(404, {"error": "not_found", "error_description": f"No such endpoint: {request.path}"})

    def user_realm(self, username: str) -> dict[str, JSON]:
        """Entra's answer for this stand-in's own users' domains (``Unknown`` for others)."""
        domain = username.rpartition("@")[2].lower()
        if any(user.username.lower().endswith("@" + domain) for user in self._users.values()):
            return _managed_realm(domain)
        return {"ver": "1.0", "account_type": "Unknown", "cloud_instance_name": "microsoftonline.com"}

    def _known_tenant(self, tenant: str) -> bool:
        return tenant.lower() in {self.tenant_id.lower(), self.tenant_domain.lower(), "organizations", "common"}

    def _openid_configuration(self, tenant: str) -> Response:
        try:
            self._check_tenant(tenant, "invalid_tenant")
        except _OAuthError as error:
            return self._oauth_response(error)
        base = f"{self.base_url}/{tenant}"
        issuer_tenant = self.tenant_id if tenant.lower() not in ("common", "organizations") else "{tenantid}"
        return Response.json(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{self.base_url}/{issuer_tenant}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "preferred_username", "name", "tid"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
            },
        )

    def _check_tenant(self, tenant: str, error: str) -> None:
        if self._known_tenant(tenant):
            return
        if not (_TENANT_GUID.fullmatch(tenant) or "." in tenant):
            raise _OAuthError(
                400,
                "invalid_request",
                900023,
                f"Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain.",
            )
        raise _OAuthError(
            400,
            error,
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
            "the correct cloud. Check with your subscription administrator, this may happen if there are no active "
            "subscriptions for the tenant.",
        )

    def _token(self, request: Request, tenant: str) -> Response:
        form = {key: values[0] for key, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        scheme, _, credentials = request.header("authorization").partition(" ")
        if scheme.lower() == "basic":  # client_secret_basic
            client_id, _, secret = base64.b64decode(credentials).decode().partition(":")
        grant = form.get("grant_type", "")
        scope = form.get("scope", "")
        audience: str | None = None
        user: User | None = None
        try:
            self._check_tenant(tenant, "invalid_request")
            if grant not in ("client_credentials", "password", "refresh_token"):
                raise _OAuthError(
                    400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'."
                )
            app = self._authenticate_client(client_id, secret, grant)
            if grant == "refresh_token":
                refresh = self.tokens.redeem_refresh(form.get("refresh_token", ""))
                user = self._users.get(refresh.username.lower()) if refresh else None
                if refresh is None or user is None or refresh.client_id != app.client_id:
                    raise _OAuthError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
            audience = self._audience(scope, grant, tenant)
            if grant == "client_credentials":
                token = self._issue(audience, f"app:{app.client_id}", app.client_id, "app")
                payload = self._token_payload(token)
            else:
                if grant == "password":
                    user = self._check_password(form.get("username", ""), form.get("password", ""), audience, app)
                assert user is not None
                token = self._issue(audience, f"user:{user.username}", app.client_id, "user")
                payload = self._user_token_payload(token, scope, app, user, tenant)
        except _OAuthError as error:
            self.record_token_request(
                TokenRequest(time.time(), grant, client_id, scope, audience, None, f"AADSTS{error.code}")
            )
            return self._oauth_response(error)
        request.principal = token.principal
        self.record_token_request(TokenRequest(time.time(), grant, client_id, scope, audience, token.principal, None))
        return Response.json(200, payload, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    def _authenticate_client(self, client_id: str, secret: str | None, grant: str) -> AppRegistration:
        app = self._apps.get(client_id)
        if app is None:
            raise _OAuthError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{self.tenant_domain}'. "
                "This can happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You may have sent your authentication request to the wrong "
                "tenant.",
            )
        public_sign_in = grant != "client_credentials" and app.public_client and secret is None
        if public_sign_in:
            return app
        if secret is None:
            raise _OAuthError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        if app.client_secret is None or not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
            raise _OAuthError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{app.client_id}'.",
            )
        if app.secret_expired:
            raise _OAuthError(
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{app.client_id}' are expired. Visit the Azure portal to "
                "create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate "
                "credentials for added security: https://aka.ms/certCreds.",
            )
        return app

    def _audience(self, scope: str, grant: str, tenant: str) -> str:
        resource_scopes = [item for item in scope.split() if item not in OIDC_SCOPES]
        audiences = {audience_of_scope(item) for item in resource_scopes}
        if not resource_scopes or None in audiences:
            raise _OAuthError(
                400,
                "invalid_scope",
                70011,
                f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. "
                "(The stand-in only knows resource-qualified scopes such as https://host/.default.)",
            )
        if len(audiences) > 1:
            raise _OAuthError(
                400,
                "invalid_scope",
                28000,
                "Provided value for the input parameter scope is not valid because it contains more than one "
                f"resource. Scope {scope} is not valid.",
            )
        if grant == "client_credentials" and not all(item.endswith("/.default") for item in resource_scopes):
            raise _OAuthError(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value "
                "with /.default suffixed to the resource identifier (application ID URI).",
            )
        audience = audiences.pop()
        assert audience is not None
        if self.resources and audience not in self.resources:
            raise _OAuthError(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {audience} was not found in the tenant named {self.tenant_domain}. "
                "This can happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You might have sent your authentication request to the "
                "wrong tenant.",
            )
        return audience

    def _check_password(self, username: str, password: str, audience: str, app: AppRegistration) -> User:
        user = self._users.get(username.lower())
        if user is None or not hmac.compare_digest(password.encode(), user.password.encode()):
            raise _OAuthError(
                400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password."
            )
        if user.mfa_required:
            raise _OAuthError(
                400,
                "invalid_grant",
                50076,
                "Due to a configuration change made by your administrator, or because you moved to a new location, "
                f"you must use multi-factor authentication to access '{audience}'.",
            )
        if user.password_expired:
            raise _OAuthError(400, "invalid_grant", 50055, "The password is expired.")
        if not app.user_consent:
            raise _OAuthError(
                400,
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the application with ID '{app.client_id}' "
                f"named '{app.display_name}'. Send an interactive authorization request for this user and resource.",
            )
        return user

    def _issue(self, audience: str, principal: str, client_id: str, kind: str) -> IssuedToken:
        return self.tokens.issue(
            audience=audience, principal=principal, client_id=client_id, kind=kind, lifetime=self.token_lifetime
        )

    def _token_payload(self, token: IssuedToken) -> dict[str, JSON]:
        return {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token.value,
        }

    def _user_token_payload(
        self, token: IssuedToken, scope: str, app: AppRegistration, user: User, tenant: str
    ) -> dict[str, JSON]:
        # MSAL builds its cached account from client_info (uid.utid) and the id_token's claims; it decodes the
        # id_token without checking the signature, so a random one is enough.
        now = int(time.time())
        claims = {
            "aud": app.client_id,
            "iss": f"{self.base_url}/{self.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "name": user.display_name,
            "oid": user.object_id,
            "preferred_username": user.username,
            "sub": user.object_id,
            "tid": self.tenant_id,
            "ver": "2.0",
        }
        signature = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        granted = " ".join(item for item in scope.split() if item not in OIDC_SCOPES)
        return {
            **self._token_payload(token),
            "scope": granted,
            "refresh_token": self.tokens.issue_refresh(app.client_id, user.username),
            "id_token": f"{_b64url({'typ': 'JWT', 'alg': 'RS256', 'kid': 'standin'})}.{_b64url(claims)}.{signature}",
            "client_info": _b64url({"uid": user.object_id, "utid": self.tenant_id}),
        }

    def _oauth_response(self, error: _OAuthError) -> Response:
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
            "error_uri": f"{self.base_url}/error?code={error.code}",
        }
        return Response.json(error.status, body, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    # --- managed identity (called by _ManagedIdentityEndpoint) -----------------------------------

    def managed_identity_token(self, request: Request) -> Response:
        """App Service ``GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=…[&client_id=…]``.

        Real error bodies are ``{"statusCode", "message", "correlationId"}``; MSAL turns them into
        ``invalid_scope`` with that status and message. The wrong-header status (401) and its message are not
        documented; community reports show 401 for a bad X-IDENTITY-HEADER, so we use that.
        """
        resource = request.param("resource") or ""
        client_id = request.param("client_id") or request.param("object_id") or request.param("mi_res_id") or ""

        def fail(status: int, message: str) -> Response:
            self.record_token_request(
                TokenRequest(time.time(), "managed_identity", client_id, resource, None, None, f"HTTP {status}")
            )
            body = {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
            return Response.json(status, body)

        header = request.header("x-identity-header")
        if not header or not hmac.compare_digest(header.encode(), self.identity_header.encode()):
            return fail(401, "The X-IDENTITY-HEADER header is missing or invalid.")
        if request.param("api-version") != MSI_API_VERSION:
            return fail(400, f"The api-version '{request.param('api-version')}' could not be found.")
        if not resource:
            return fail(400, "Required query parameter 'resource' is missing.")
        identity = self._find_identity(request)
        if identity is None:
            return fail(400, "Unable to load the proper Managed Identity.")
        audience = normalise_audience(resource.removesuffix("/.default"))
        if self.resources and audience not in self.resources:
            return fail(500, "An unexpected error occured while fetching the AAD Token.")
        token = self._issue(audience, f"mi:{identity.client_id}", identity.client_id, "managed_identity")
        request.principal = token.principal
        self.record_token_request(
            TokenRequest(time.time(), "managed_identity", identity.client_id, resource, audience, token.principal, None)
        )
        body = {
            "access_token": token.value,
            "expires_on": str(int(token.expires_at)),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        }
        return Response.json(200, body)

    def _find_identity(self, request: Request) -> ManagedIdentity | None:
        if client_id := request.param("client_id"):
            return self._identities.get(client_id)
        if object_id := request.param("object_id"):
            return next((i for i in self._identities.values() if i.object_id == object_id), None)
        if request.param("mi_res_id"):
            return None  # resource ids are not modelled
        return next((i for i in self._identities.values() if i.system_assigned), None)


class _ManagedIdentityEndpoint(StandIn):
    name = "entra-msi"

    def __init__(self, entra: EntraStandIn, *, host: str, port: int) -> None:
        super().__init__(host=host, port=port, tokens=entra.tokens)
        self._entra = entra

    def handle(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/msi/token":
            return self._entra.managed_identity_token(request)
        return Response.json(404, {"statusCode": 404, "message": f"No such endpoint: {request.path}"})


class _UserRealmListener(StandIn):
    """``GET /common/userrealm/<user>`` on 127.0.0.1:443, shared with every other stand-in process."""

    name = "entra-user-realm"

    def __init__(self, port: int) -> None:
        super().__init__(port=port, tls=shared_ca().server_context(), reuse_port=True)

    def handle(self, request: Request) -> Response:
        segments = request.path.strip("/").split("/")
        if request.method != "GET" or segments[:2] != ["common", "userrealm"] or len(segments) != 3:
            return Response.json(404, {"error": "not_found", "error_description": request.path})
        return Response.json(200, _managed_realm(segments[2].rpartition("@")[2].lower()))


def _managed_realm(domain: str) -> dict[str, JSON]:
    return {
        "ver": "1.0",
        "account_type": "Managed",
        "domain_name": domain,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline",
    }


class _SharedUserRealm:
    """Reference-counted owner of the one 127.0.0.1:443 listener."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listener: _UserRealmListener | None = None
        self._members: list[EntraStandIn] = []

    def join(self, entra: EntraStandIn, port: int) -> str | None:
        """Serve ``entra``'s users; returns why that is impossible, or None."""
        with self._lock:
            if self._listener is None:
                try:
                    self._listener = _UserRealmListener(port).start()
                except OSError as exc:
                    return (
                        "ROPC user-realm discovery is unavailable: MSAL's acquire_token_by_username_password first "
                        f"calls https://127.0.0.1/common/userrealm/<user> on port 443 (it drops the authority's "
                        f"port), and this process could not listen on 127.0.0.1:{port} ({exc}). Stand-in processes "
                        "share that port (SO_REUSEPORT); stop the other program holding it, or run as root. "
                        "Username/password sign-ins fail with a connection error until then."
                    )
            elif self._listener.port != port:
                return f"the user-realm listener already runs on port {self._listener.port}, not {port}"
            self._members.append(entra)
            return None

    def leave(self, entra: EntraStandIn) -> None:
        with self._lock:
            if entra not in self._members:
                return
            self._members.remove(entra)
            if not self._members and self._listener is not None:
                self._listener.stop()
                self._listener = None


_user_realm = _SharedUserRealm()
