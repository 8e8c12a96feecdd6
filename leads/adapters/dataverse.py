"""Dataverse Web API (Dynamics 365): create leads, and the read-only calls `check` needs.

Transient trouble (429 with Retry-After, 5xx, connection errors, time-outs) is retried inside the
shared session (leads.adapters.webapi); what is still failing after that is DataverseUnavailable, for the queue
to retry later. Any other 4xx is DataverseRejected: retrying would not help.
"""

from __future__ import annotations

from typing import Any

import requests

from leads.adapters.signin import TokenSource
from leads.adapters.webapi import TIMEOUT, BearerAuth, odata_error, worth_retrying
from leads.core.errors import DataverseError, DataverseRejected, DataverseUnavailable
from leads.settings import DynamicsSettings

ODATA_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
}


class Dataverse:
    """Holds the settings, the process's token source and HTTP session."""

    def __init__(
        self,
        settings: DynamicsSettings,
        tokens: TokenSource,
        session: requests.Session,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.session = session
        self.timeout = timeout  # (connect, read) seconds
        self.scope = (
            f"{settings.url}/.default"
            if settings.auth != "username_password"
            else (f"{settings.url}/user_impersonation")
        )
        self.auth = BearerAuth(tokens, self.scope)

    def create_lead(self, lead_id: str, body: dict[str, Any]) -> bool:
        """Create the lead with this leadid unless it exists: True if created now, False if it was there.

        PATCH to the key with ``If-None-Match: *`` creates and never updates (412 when it exists)."""
        response = self._request(
            "PATCH", f"leads({lead_id})", json=body, headers={"If-None-Match": "*", "Content-Type": "application/json"}
        )
        if response.status_code == 412:
            return False
        if response.status_code in (200, 201, 204):
            return True
        raise self._error(response)

    def who_am_i(self) -> dict[str, Any]:
        response = self._request("GET", "WhoAmI")
        if response.status_code != 200:
            raise self._error(response)
        answer: dict[str, Any] = response.json()
        return answer

    def privileges(self, user_id: str) -> set[str]:
        """Names of the privileges the user holds (e.g. prvCreateLead)."""
        response = self._request("GET", f"systemusers({user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()")
        if response.status_code != 200:
            raise self._error(response)
        return {item.get("PrivilegeName", "") for item in response.json().get("RolePrivileges", [])}

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call with a bearer token (a 401 gets one fresh token and one more try: BearerAuth). Sign-in
        failures raise SignInError, which says it was the sign-in."""
        headers = {**ODATA_HEADERS, **kwargs.pop("headers", {})}
        try:
            return self.session.request(
                method, f"{self.settings.api_url}/{path}", headers=headers, auth=self.auth, timeout=self.timeout,
                **kwargs,
            )  # fmt: skip
        except requests.RequestException as exc:
            raise DataverseUnavailable(None, exc.__class__.__name__, "Dataverse did not answer") from exc

    def _error(self, response: requests.Response) -> DataverseError:
        code, message = odata_error(response)
        status = response.status_code
        if worth_retrying(status):
            return DataverseUnavailable(status, code, message)
        if status == 401:
            message = (
                f"{message} — Dataverse refused a fresh token: check that DYNAMICS_URL is the environment the "
                "app registration (or managed identity) has an application user in"
            )
        elif status == 403:
            message = (
                f"{message} — the application user in Dynamics lacks a privilege: give it a security role "
                "that can create leads (including the leadsourcecode column)"
            )
        return DataverseRejected(status, code, message)
