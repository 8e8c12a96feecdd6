"""The App Service managed identity endpoint (``IDENTITY_ENDPOINT``), plain http like the real one, with its own
request log and faults; tokens come from the Entra ID stand-in's registry and go to its token request log."""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Mapping

from .entra_records import ManagedIdentity, Tenant, TokenRequest
from .entra_token import issue_token
from .messages import Request, Response
from .standin import StandIn
from .tokens import normalise_audience

MSI_API_VERSION = "2019-08-01"


class ManagedIdentityEndpoint(StandIn):
    name = "entra-msi"

    def __init__(self, entra: Tenant, identities: Mapping[str, ManagedIdentity], *, host: str, port: int) -> None:
        super().__init__(host=host, port=port, tokens=entra.tokens)
        self._entra = entra
        self._identities = identities

    def handle(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/msi/token":
            return self._entra.managed_identity_token(request)
        return Response.json(404, {"statusCode": 404, "message": f"No such endpoint: {request.path}"})

    def token(self, request: Request) -> Response:
        """App Service ``GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=…[&client_id=…]``.

        Real error bodies are ``{"statusCode", "message", "correlationId"}``; MSAL turns them into
        ``invalid_scope`` with that status and message. The wrong-header status (401) and its message are not
        documented; community reports show 401 for a bad X-IDENTITY-HEADER, so we use that.
        """
        resource = request.param("resource") or ""
        audience = normalise_audience(resource.removesuffix("/.default"))
        identity = self._find_identity(request)
        refusal = self._refusal(request, resource, audience, identity)
        if refusal is not None:
            status, message = refusal
            client_id = request.param("client_id") or request.param("object_id") or request.param("mi_res_id") or ""
            self._entra.record_token_request(
                TokenRequest(time.time(), "managed_identity", client_id, resource, None, None, f"HTTP {status}")
            )
            body = {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
            return Response.json(status, body)
        assert identity is not None
        token = issue_token(self._entra, audience, f"mi:{identity.client_id}", identity.client_id, "managed_identity")
        request.principal = token.principal
        self._entra.record_token_request(
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

    def _refusal(
        self, request: Request, resource: str, audience: str, identity: ManagedIdentity | None
    ) -> tuple[int, str] | None:
        """Status and message of the error the real endpoint answers, or None when it issues a token."""
        header = request.header("x-identity-header")
        if not header or not hmac.compare_digest(header.encode(), self._entra.identity_header.encode()):
            return 401, "The X-IDENTITY-HEADER header is missing or invalid."
        if request.param("api-version") != MSI_API_VERSION:
            return 400, f"The api-version '{request.param('api-version')}' could not be found."
        if not resource:
            return 400, "Required query parameter 'resource' is missing."
        if identity is None:
            return 400, "Unable to load the proper Managed Identity."
        if self._entra.resources and audience not in self._entra.resources:
            return 500, "An unexpected error occured while fetching the AAD Token."
        return None

    def _find_identity(self, request: Request) -> ManagedIdentity | None:
        if client_id := request.param("client_id"):
            return self._identities.get(client_id)
        if object_id := request.param("object_id"):
            return next((i for i in self._identities.values() if i.object_id == object_id), None)
        if request.param("mi_res_id"):
            return None  # resource ids are not modelled
        return next((i for i in self._identities.values() if i.system_assigned), None)
