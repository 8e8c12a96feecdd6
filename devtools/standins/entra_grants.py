"""The token endpoint's checks, each raising the error Entra ID answers: the client's credentials, the scope's
resource, and the user's password (ROPC)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Set

from .entra_errors import OAuthError
from .entra_records import AppRegistration, User
from .tokens import audience_of_scope

OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


def authenticate_client(
    apps: Mapping[str, AppRegistration], tenant_domain: str, client_id: str, secret: str | None, grant: str
) -> AppRegistration:
    """The app signing in; a public client may use the password and refresh token grants without a secret."""
    app = apps.get(client_id)
    if app is None:
        raise OAuthError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant_domain}'. "
            "This can happen if the application has not been installed by the administrator of the tenant or "
            "consented to by any user in the tenant. You may have sent your authentication request to the wrong "
            "tenant.",
        )
    public_sign_in = grant != "client_credentials" and app.public_client and secret is None
    if public_sign_in:
        return app
    if secret is None:
        raise OAuthError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    _check_secret(app, secret)
    return app


def _check_secret(app: AppRegistration, secret: str) -> None:
    if app.client_secret is None or not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
        raise OAuthError(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            f"value, not the client secret ID, for a secret added to app '{app.client_id}'.",
        )
    if app.secret_expired:
        raise OAuthError(
            401,
            "invalid_client",
            7000222,
            f"The provided client secret keys for app '{app.client_id}' are expired. Visit the Azure portal to "
            "create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate "
            "credentials for added security: https://aka.ms/certCreds.",
        )


def scope_audience(scope: str, grant: str, resources: Set[str], tenant_domain: str) -> str:
    """The one resource ``scope`` asks for; ``resources`` empty accepts any."""
    resource_scopes = [item for item in scope.split() if item not in OIDC_SCOPES]
    audiences = {audience_of_scope(item) for item in resource_scopes}
    if not resource_scopes or None in audiences:
        raise OAuthError(
            400,
            "invalid_scope",
            70011,
            f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. "
            "(The stand-in only knows resource-qualified scopes such as https://host/.default.)",
        )
    if len(audiences) > 1:
        raise OAuthError(
            400,
            "invalid_scope",
            28000,
            "Provided value for the input parameter scope is not valid because it contains more than one "
            f"resource. Scope {scope} is not valid.",
        )
    if grant == "client_credentials" and not all(item.endswith("/.default") for item in resource_scopes):
        raise OAuthError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value "
            "with /.default suffixed to the resource identifier (application ID URI).",
        )
    audience = audiences.pop()
    assert audience is not None
    if resources and audience not in resources:
        raise OAuthError(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {audience} was not found in the tenant named {tenant_domain}. "
            "This can happen if the application has not been installed by the administrator of the tenant or "
            "consented to by any user in the tenant. You might have sent your authentication request to the "
            "wrong tenant.",
        )
    return audience


def check_password(
    users: Mapping[str, User], username: str, password: str, audience: str, app: AppRegistration
) -> User:
    """The user a password (ROPC) sign-in names, if the password is right and nothing needs an interaction."""
    user = users.get(username.lower())
    if user is None or not hmac.compare_digest(password.encode(), user.password.encode()):
        raise OAuthError(
            400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password."
        )
    if user.mfa_required:
        raise OAuthError(
            400,
            "invalid_grant",
            50076,
            "Due to a configuration change made by your administrator, or because you moved to a new location, "
            f"you must use multi-factor authentication to access '{audience}'.",
        )
    if user.password_expired:
        raise OAuthError(400, "invalid_grant", 50055, "The password is expired.")
    if not app.user_consent:
        raise OAuthError(
            400,
            "invalid_grant",
            65001,
            f"The user or administrator has not consented to use the application with ID '{app.client_id}' "
            f"named '{app.display_name}'. Send an interactive authorization request for this user and resource.",
        )
    return user
