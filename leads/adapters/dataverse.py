"""Dataverse Web API (Dynamics 365): create leads, the read-only calls `check` needs, what `forget --dynamics`
needs to delete or anonymise a lead this app created, and (dataverse_returning.py) what returning customers need.

Transient trouble (429 with Retry-After, 5xx, connection errors, time-outs) is retried inside the
shared session (leads.adapters.webapi); what is still failing after that is DataverseUnavailable, for the queue
to retry later. Any other 4xx (and a redirect, which is not followed) is DataverseRejected: retrying would not
help.

The errors carry Dataverse's code and its message without the values sent (a create's column values, a looked-up
email) and without anything shaped like an address: Dataverse quotes what it was sent ("Syntax error … in
'emailaddress1 eq …'"), and these errors reach LastError and the host's log. They are raised with no cause and no
context: requests' exceptions quote the URL, whose $filter can hold the lead's email.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import requests

from leads.adapters import dataverse_metadata
from leads.adapters.dataverse_returning import DUPLICATE_CODE, ReturningCalls
from leads.adapters.odata import odata_string
from leads.adapters.signin import TokenSource
from leads.adapters.webapi import TIMEOUT, BearerAuth, odata_error, redirected, worth_retrying
from leads.core.addresses import without_addresses
from leads.core.enrichment import ExistingContact
from leads.core.errors import DataverseError, DataverseRejected, DataverseUnavailable
from leads.core.lead_columns import LeadColumns
from leads.core.routing import Lookup
from leads.core.service_text import service_code, without_values
from leads.settings import DynamicsSettings

# How routing finds what a rule names (REFERENCE §8.1); only owner teams (teamtype 0) can own records.
_LOOKUPS = {
    "user": ("systemuserid", "internalemailaddress eq {0} or domainname eq {0}"),
    "team": ("teamid", "name eq {0} and teamtype eq 0"),
    "campaign_name": ("campaignid", "name eq {0}"),
    "campaign_code": ("campaignid", "codename eq {0}"),
}
_PARENT = "_parentcustomerid_value"
_LOOKUP_TABLE = "@Microsoft.Dynamics.CRM.lookuplogicalname"
_QUERY_SAFE = "',()"

ODATA_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
}


class Dataverse(ReturningCalls):
    """Holds the settings, the process's token source and HTTP session."""

    _lead_columns: LeadColumns | None = None  # read once (lead_columns)

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
        if response.status_code in (200, 201, 204):
            return True
        error = self._error(response, sent=_strings(body))
        if response.status_code == 412 and error.code != DUPLICATE_CODE:
            return False
        error.quoted = _quoted_columns(odata_error(response)[1], body)
        raise error

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

    def privileges_held(self, user_id: str, names: Iterable[str]) -> set[str]:
        """Which of ``names`` (prvCreateLead…) the user holds, through its own roles or a team's
        (RetrieveUserSetOfPrivilegesByNames; see adapters/dataverse_metadata.py)."""
        response = self._request("GET", dataverse_metadata.privileges_path(user_id, names))
        if response.status_code != 200:
            raise self._error(response)
        return dataverse_metadata.held(response.json())

    def lead_columns(self) -> LeadColumns:
        """The organisation's lead table: every column's type, IsValidForCreate, MaxLength and options (four
        requests, made once per client)."""
        if self._lead_columns is None:
            answers = []
            for path in (dataverse_metadata.COMMON, *dataverse_metadata.CASTS):
                response = self._request("GET", path)
                if response.status_code != 200:
                    raise self._error(response)
                answers.append(response.json().get("value", []))
            self._lead_columns = dataverse_metadata.lead_columns(answers[0], answers[1:])
        return self._lead_columns

    # --- erasure (`forget --dynamics`) -------------------------------------------------------------------

    def read_lead(self, lead_id: str) -> dict[str, Any] | None:
        """The lead's state (``statecode``: 0 open, 1 qualified, 2 disqualified) and the contact it is linked to;
        None when Dynamics has no such lead."""
        response = self._request("GET", f"leads({lead_id})?$select=leadid,statecode,_parentcontactid_value")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._error(response)
        answer: dict[str, Any] = response.json()
        return answer

    def delete_lead(self, lead_id: str) -> bool:
        """Delete the lead (its notes go with it); False when it was not there."""
        return self._delete(f"leads({lead_id})")

    def update_lead(self, lead_id: str, body: dict[str, Any]) -> bool:
        """Change columns of an existing lead (``If-Match: *``: never creates one); False when it was not there."""
        headers = {"If-Match": "*", "Content-Type": "application/json"}
        response = self._request("PATCH", f"leads({lead_id})", json=body, headers=headers)
        if response.status_code == 404:
            return False
        if response.status_code not in (200, 204):
            raise self._error(response)
        return True

    def note_ids(self, lead_id: str) -> list[str]:
        """The notes attached to the lead (annotations whose objectid is the lead)."""
        query = f"$select=annotationid&$filter={quote(f'_objectid_value eq {lead_id}', safe=_QUERY_SAFE)}"
        response = self._request("GET", f"annotations?{query}")
        if response.status_code != 200:
            raise self._error(response)
        return [str(row["annotationid"]) for row in response.json().get("value", [])]

    def delete_note(self, note_id: str) -> bool:
        return self._delete(f"annotations({note_id})")

    def _delete(self, record: str) -> bool:
        """DELETE the record (``leads(<id>)``); False when it was not there."""
        response = self._request("DELETE", record)
        if response.status_code == 404:
            return False
        if response.status_code != 204:
            raise self._error(response)
        return True

    def find_id(self, lookup: Lookup) -> str | None:
        """The id of the record a routing rule names, or None when there is none."""
        key, condition = _LOOKUPS[lookup.kind]
        rows = self._query(lookup.entity_set, condition.format(odata_string(lookup.value)), key, (lookup.value,))
        return str(rows[0][key]) if rows else None

    def find_contacts(self, email: str) -> list[ExistingContact]:
        """Active contacts with this email address (at most two), each with its parent account if it has one."""
        condition = f"emailaddress1 eq {odata_string(email)} and statecode eq 0"
        rows = self._query("contacts", condition, f"contactid,{_PARENT}", (email,), annotations=True)
        return [ExistingContact(str(row["contactid"]), _parent_account(row)) for row in rows]

    def _query(
        self, entity_set: str, condition: str, select: str, sent: tuple[str, ...], annotations: bool = False
    ) -> list[dict[str, Any]]:
        options = (("$select", select), ("$filter", condition), ("$top", "2"))
        query = "&".join(f"{name}={quote(value, safe=_QUERY_SAFE)}" for name, value in options)
        # The annotation says which table a polymorphic lookup (a contact's parent customer) points to.
        headers = {"Prefer": f'odata.include-annotations="{_LOOKUP_TABLE[1:]}"'} if annotations else {}
        response = self._request("GET", f"{entity_set}?{query}", headers=headers)
        if response.status_code != 200:
            raise self._error(response, sent)
        rows: list[dict[str, Any]] = response.json().get("value", [])
        return rows

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call with a bearer token (a 401 gets one fresh token and one more try: BearerAuth). Sign-in
        failures raise SignInError, which says it was the sign-in."""
        headers = {**ODATA_HEADERS, **kwargs.pop("headers", {})}
        session = kwargs.pop("session", None) or self.session
        try:
            return session.request(
                method, f"{self.settings.api_url}/{path}", headers=headers, auth=self.auth, timeout=self.timeout,
                **kwargs,
            )  # fmt: skip
        except requests.RequestException as exc:
            failure = exc.__class__.__name__
        # Raised outside the except block, so not even as __context__: requests' message holds the URL, whose
        # $filter can quote the lead's email.
        raise DataverseUnavailable(None, failure, "Dataverse did not answer")

    def _error(self, response: requests.Response, sent: Iterable[str] = ()) -> DataverseError:
        code, message = odata_error(response)
        code, message = service_code(code), without_addresses(without_values(message, sent))
        status = response.status_code
        if redirected(response):
            return DataverseRejected(
                status,
                code,
                "Dataverse answered with a redirect, which the app does not follow (a request and its token go only "
                "to DYNAMICS_URL): set DYNAMICS_URL to the environment's own address, e.g. "
                "https://contoso.crm.dynamics.com",
            )
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


def _quoted_columns(message: str, body: dict[str, Any]) -> tuple[str, ...]:
    """The columns of ``body`` whose text values ``message`` quotes (by name: the values are personal data)."""
    text = message.lower()
    return tuple(
        name
        for name, value in body.items()
        if isinstance(value, str) and value.strip() and f"'{value.lower()}'" in text
    )


def _strings(body: dict[str, Any]) -> list[str]:
    """The text values of a create's body (the lead's names, email, phone, company…), to keep out of errors."""
    return [value for value in body.values() if isinstance(value, str)]


def _parent_account(row: dict[str, Any]) -> str:
    """The contact's parent customer when that is an account (it can be another contact)."""
    return str(row.get(_PARENT) or "") if row.get(_PARENT + _LOOKUP_TABLE) == "account" else ""
