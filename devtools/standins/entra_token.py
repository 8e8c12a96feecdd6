"""The v2.0 token endpoint, ``POST /{tenant}/oauth2/v2.0/token``: the client credentials, password (ROPC) and
refresh token grants, and the token answers MSAL reads."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Mapping
from urllib.parse import parse_qs

from .entra_discovery import check_tenant
from .entra_errors import NO_CACHE, OAuthError, oauth_response
from .entra_grants import OIDC_SCOPES, authenticate_client, check_password, scope_audience
from .entra_records import AppRegistration, Tenant, TokenRequest, User
from .messages import JSON, Request, Response
from .tokens import IssuedToken

GRANTS = ("client_credentials", "password", "refresh_token")


def issue_token(entra: Tenant, audience: str, principal: str, client_id: str, kind: str) -> IssuedToken:
    """An access token from ``entra``'s registry, valid for its current ``token_lifetime``."""
    return entra.tokens.issue(
        audience=audience, principal=principal, client_id=client_id, kind=kind, lifetime=entra.token_lifetime
    )


class TokenEndpoint:
    def __init__(self, entra: Tenant, apps: Mapping[str, AppRegistration], users: Mapping[str, User]) -> None:
        self._entra = entra
        self._apps = apps
        self._users = users

    def answer(self, request: Request, tenant: str) -> Response:
        """Issue a token or answer Entra's error; either way the attempt goes to the token request log."""
        entra = self._entra
        form = {key: values[0] for key, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
        client_id, secret = _client_credentials(request, form)
        grant = form.get("grant_type", "")
        scope = form.get("scope", "")
        audience: str | None = None
        try:
            app, user = self._client_and_user(tenant, grant, client_id, secret, form)
            audience = scope_audience(scope, grant, entra.resources, entra.tenant_domain)
            token, payload = self._grant(form, grant, scope, audience, app, user)
        except OAuthError as error:
            entra.record_token_request(
                TokenRequest(time.time(), grant, client_id, scope, audience, None, f"AADSTS{error.code}")
            )
            return oauth_response(error, entra.base_url)
        request.principal = token.principal
        entra.record_token_request(TokenRequest(time.time(), grant, client_id, scope, audience, token.principal, None))
        return Response.json(200, payload, NO_CACHE)

    def _client_and_user(
        self, tenant: str, grant: str, client_id: str, secret: str | None, form: dict[str, str]
    ) -> tuple[AppRegistration, User | None]:
        """The app signing in, and for the refresh token grant the user the refresh token was issued to."""
        entra = self._entra
        check_tenant(tenant, tenant_id=entra.tenant_id, tenant_domain=entra.tenant_domain, error="invalid_request")
        if grant not in GRANTS:
            raise OAuthError(
                400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'."
            )
        app = authenticate_client(self._apps, entra.tenant_domain, client_id, secret, grant)
        if grant != "refresh_token":
            return app, None
        refresh = entra.tokens.redeem_refresh(form.get("refresh_token", ""))
        user = self._users.get(refresh.username.lower()) if refresh else None
        if refresh is None or user is None or refresh.client_id != app.client_id:
            raise OAuthError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
        return app, user

    def _grant(
        self, form: dict[str, str], grant: str, scope: str, audience: str, app: AppRegistration, user: User | None
    ) -> tuple[IssuedToken, dict[str, JSON]]:
        """The token and the answer's body: an app token, or a user token with refresh and id tokens."""
        if grant == "client_credentials":
            token = issue_token(self._entra, audience, f"app:{app.client_id}", app.client_id, "app")
            return token, self._token_payload(token)
        if grant == "password":
            user = check_password(self._users, form.get("username", ""), form.get("password", ""), audience, app)
        assert user is not None
        token = issue_token(self._entra, audience, f"user:{user.username}", app.client_id, "user")
        return token, self._user_token_payload(token, scope, app, user)

    def _token_payload(self, token: IssuedToken) -> dict[str, JSON]:
        lifetime = self._entra.token_lifetime
        return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token.value}

    def _user_token_payload(self, token: IssuedToken, scope: str, app: AppRegistration, user: User) -> dict[str, JSON]:
        # MSAL builds its cached account from client_info (uid.utid) and the id_token's claims; it decodes the
        # id_token without checking the signature, so a random one is enough.
        entra = self._entra
        now = int(time.time())
        claims = {
            "aud": app.client_id,
            "iss": f"{entra.base_url}/{entra.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + entra.token_lifetime,
            "name": user.display_name,
            "oid": user.object_id,
            "preferred_username": user.username,
            "sub": user.object_id,
            "tid": entra.tenant_id,
            "ver": "2.0",
        }
        signature = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        granted = " ".join(item for item in scope.split() if item not in OIDC_SCOPES)
        return {
            **self._token_payload(token),
            "scope": granted,
            "refresh_token": entra.tokens.issue_refresh(app.client_id, user.username),
            "id_token": f"{_b64url({'typ': 'JWT', 'alg': 'RS256', 'kid': 'standin'})}.{_b64url(claims)}.{signature}",
            "client_info": _b64url({"uid": user.object_id, "utid": entra.tenant_id}),
        }


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    """Client id and secret, from the form (client_secret_post) or the Authorization header (client_secret_basic)."""
    client_id, secret = form.get("client_id", ""), form.get("client_secret")
    scheme, _, credentials = request.header("authorization").partition(" ")
    if scheme.lower() == "basic":
        client_id, _, secret = base64.b64decode(credentials).decode().partition(":")
    return client_id, secret


def _b64url(data: JSON) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
