"""Tenant names and OIDC discovery (``/{tenant}/v2.0/.well-known/openid-configuration``) as Entra ID answers them."""

from __future__ import annotations

import re

from .entra_errors import OAuthError
from .messages import JSON

_TENANT_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_tenant(tenant: str, *, tenant_id: str, tenant_domain: str, error: str) -> None:
    """Raise Entra's error for a ``tenant`` path segment naming neither this tenant nor common/organizations;
    ``error`` is the OAuth error code for a well-formed but unknown tenant."""
    if tenant.lower() in {tenant_id.lower(), tenant_domain.lower(), "organizations", "common"}:
        return
    if not (_TENANT_GUID.fullmatch(tenant) or "." in tenant):
        raise OAuthError(
            400,
            "invalid_request",
            900023,
            f"Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain.",
        )
    raise OAuthError(
        400,
        error,
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
        "the correct cloud. Check with your subscription administrator, this may happen if there are no active "
        "subscriptions for the tenant.",
    )


def openid_configuration(authority_host: str, tenant_id: str, tenant: str) -> dict[str, JSON]:
    """The discovery document for ``tenant`` as requested (a name, an id, common or organizations)."""
    base = f"{authority_host}/{tenant}"
    issuer_tenant = tenant_id if tenant.lower() not in ("common", "organizations") else "{tenantid}"
    return {
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
        "issuer": f"{authority_host}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{authority_host}/oidc/userinfo",
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
    }
