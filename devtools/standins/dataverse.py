"""Dataverse Web API stand-in: the ``leads`` entity set (dataverse_leads.py, its columns in dataverse_columns.py),
the lead table's definitions (dataverse_metadata.py), WhoAmI, RetrieveUserPrivileges and
RetrieveUserSetOfPrivilegesByNames (dataverse_privileges.py); contacts, accounts, systemusers, teams and campaigns
to query and to bind a lead to (dataverse_records.py, with the OData query options of dataverse_query.py); notes
(dataverse_notes.py); duplicate detection and RetrieveDuplicates (dataverse_duplicates.py).

Status codes, conditional upserts and error bodies ``{"error": {"code": "0x…", "message": …}}`` follow the
Web API docs (REFERENCE §3). Codes confirmed in public text: 0x80040237 (duplicate key), 0x80040217 (does not
exist), 0x80072322/0x80072326 (service protection), 0x80072560 (no application user: "The user is not a member
of the organization.", seen in Microsoft's dual-write troubleshooting page), 0x80040220 (missing privilege).
Codes for payload errors (0x80048d19, 0x80044331, 0x8004431A, 0x80060888, 0x80060882) are taken from community
reports;
the body of a real 401 is undocumented (often empty), so ours carries an empty code.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from .base import JSON, RecordedRequest, Request, Response, StandIn
from .dataverse_columns import GUID, LEAD_COLUMNS, LEAD_SOURCE_CODES, OPTION_SETS
from .dataverse_duplicates import RETRIEVE_DUPLICATES, DuplicateDetection
from .dataverse_lead_attributes import LEAD_ATTRIBUTES, Attribute
from .dataverse_leads import LeadsEntitySet
from .dataverse_metadata import ATTRIBUTES, attributes
from .dataverse_notes import Notes
from .dataverse_privileges import DEFAULT_PRIVILEGES, Caller, systemuser_id, user_privileges, who_am_i
from .dataverse_query import query_options, wants_annotations
from .dataverse_records import TABLES, Records
from .dataverse_responses import DataverseError, odata_error, odata_json
from .tokens import IssuedToken, TokenProblem, TokenRegistry, normalise_audience

__all__ = [
    "DEFAULT_PRIVILEGES", "LEAD_COLUMNS", "LEAD_SOURCE_CODES", "OPTION_SETS", "REQUIRED_HEADERS", "DataverseStandIn",
]  # fmt: skip

# What Microsoft says every request should carry (REFERENCE §3.1); see header_problems().
REQUIRED_HEADERS = {"accept": "application/json", "odata-maxversion": "4.0", "odata-version": "4.0"}

_API = re.compile(r"^/api/data/(v9\.[0-2])/(.*)$")
_LEAD_KEY = re.compile(rf"leads\({GUID}\)")
_ANY_LEAD_KEY = re.compile(r"leads\((.*)\)")
_NOTE_KEY = re.compile(rf"annotations\({GUID}\)")
_PRIVILEGES_OF = re.compile(rf"systemusers\({GUID}\)/Microsoft\.Dynamics\.CRM\.RetrieveUserPrivileges\(\)")
_PRIVILEGES_BY_NAMES = re.compile(
    rf"systemusers\({GUID}\)/Microsoft\.Dynamics\.CRM\.RetrieveUserSetOfPrivilegesByNames\(PrivilegeNames=(@\w+)\)"
)


class DataverseStandIn(StandIn):
    name = "dataverse"

    def __init__(
        self,
        *,
        tokens: TokenRegistry | None = None,
        authority_host: str = "https://login.microsoftonline.com",
        tenant_id: str = "common",
        host: str = "127.0.0.1",
        port: int = 0,
        concurrency_limit: int | None = 52,
    ) -> None:
        super().__init__(host=host, port=port, tokens=tokens, concurrency_limit=concurrency_limit)
        self.authority_host = authority_host.rstrip("/")
        self.tenant_id = tenant_id
        self.privileges: set[str] = set(DEFAULT_PRIVILEGES)  # through the user's own security roles
        self.team_privileges: set[str] = set()  # inherited from the roles of teams the user is a member of
        self.application_user_missing = False
        self.organization_id = str(uuid.uuid4())
        self.business_unit_id = str(uuid.uuid4())
        self._users: dict[str, str] = {}  # systemuserid → principal
        self._users_lock = threading.Lock()
        self.records = Records()
        self._leads = LeadsEntitySet(self.records, self._lead_changed)
        self.notes = Notes(self.records, self._exists)

    # --- test API --------------------------------------------------------------------------------

    @property
    def audiences(self) -> set[str]:
        """Tokens for ``http://127.0.0.1:PORT`` or ``http://localhost:PORT`` (the app asks for DYNAMICS_URL)."""
        return {normalise_audience(self.base_url), normalise_audience(f"http://localhost:{self.port}")}

    @property
    def leads(self) -> dict[str, dict[str, Any]]:
        """Stored leads by lower-case leadid (copies)."""
        return self._leads.copies()

    def lead(self, lead_id: str) -> dict[str, Any] | None:
        return self._leads.copy(lead_id)

    def seed_lead(self, **columns: Any) -> str:
        """A lead someone else made (``createdon``, ``statecode``… as given); its leadid."""
        return self._leads.seed(self.user_id("someone else"), **columns)

    def annotations(self) -> list[dict[str, Any]]:
        """Every note, as stored."""
        return self.records.query("annotations", {}, False)

    @property
    def duplicate_detection(self) -> DuplicateDetection:
        """The published duplicate detection rules and the status a duplicate gets (dataverse_duplicates.py)."""
        return self._leads.detection

    @property
    def custom_columns(self) -> set[str]:
        """The names of a publisher's own lead columns (new_offerid…)."""
        return set(self._leads.custom_columns)

    @custom_columns.setter
    def custom_columns(self, columns: Iterable[str | dict[str, Any]]) -> None:
        """Names (text columns of 100 characters, Dataverse's default), or ``{"name": "new_tier", "type":
        "Picklist", "options": {"1": "Gold"}}`` / ``{"name": …, "type": "String", "max_length": 20}``."""
        self._leads.custom_columns = {column.name: column for column in map(_custom_column, columns)}

    @property
    def lead_attributes(self) -> dict[str, Attribute]:
        """The lead table's columns as the stand-in describes and checks them."""
        return self._leads.columns

    def user_id(self, principal: str) -> str:
        """The systemuserid Dataverse would map this caller to (stable per principal)."""
        return systemuser_id(principal)

    @staticmethod
    def header_problems(request: RecordedRequest) -> list[str]:
        """Headers Microsoft asks for that this request lacked, e.g. ``["OData-Version: 4.0"]``."""
        expected = dict(REQUIRED_HEADERS)
        if request.body is not None:
            expected["content-type"] = "application/json"
        names = {"accept": "Accept", "odata-maxversion": "OData-MaxVersion", "odata-version": "OData-Version"}
        return [
            f"{names.get(name, 'Content-Type')}: {value}"
            for name, value in expected.items()
            if not request.headers.get(name, "").lower().startswith(value)
        ]

    def reset_state(self) -> None:
        self._leads.clear()
        with self._users_lock:
            self._users.clear()
        self.records.clear()
        self.custom_columns = set()
        self.privileges = set(DEFAULT_PRIVILEGES)
        self.team_privileges = set()
        self.application_user_missing = False
        self._leads.detection.reset()

    # --- control API -----------------------------------------------------------------------------

    def control(self, request: Request, action: str) -> Response | None:
        if (request.method, action) == ("GET", "leads"):
            return Response.json(200, {"leads": list(self.leads.values())})
        if (request.method, action) == ("POST", "seed/leads"):  # a lead made by someone else: {"createdon": …}
            return Response.json(201, {"id": self.seed_lead(**request.json())})
        entity_set = action.split("/")[1] if action.startswith("records/") else ""
        if request.method == "POST" and entity_set in TABLES:  # /_standin/records/teams {"name": "…"}
            return Response.json(201, {"id": self.records.add(entity_set, **request.json())})
        if request.method == "DELETE" and entity_set in TABLES and action.count("/") == 2:
            return Response(204 if self.records.remove(entity_set, action.split("/")[2]) else 404)
        return None

    def configure(self, changes: dict[str, JSON]) -> None:
        if "privileges" in changes:
            self.privileges = set(changes.pop("privileges"))
        if "team_privileges" in changes:
            self.team_privileges = set(changes.pop("team_privileges"))
        if "application_user_missing" in changes:
            self.application_user_missing = bool(changes.pop("application_user_missing"))
        if "custom_columns" in changes:
            self.custom_columns = list(changes.pop("custom_columns"))
        if "duplicate_rules" in changes or "duplicate_status" in changes:
            rules, status = changes.pop("duplicate_rules", None), changes.pop("duplicate_status", None)
            self._leads.detection.configure(rules, int(status) if status is not None else None)
        super().configure(changes)

    def config_snapshot(self) -> dict[str, JSON]:
        return {
            **super().config_snapshot(),
            "privileges": sorted(self.privileges),
            "team_privileges": sorted(self.team_privileges),
            "application_user_missing": self.application_user_missing,
            "custom_columns": sorted(self.custom_columns),
            "duplicate_rules": [
                {"name": rule.name, "columns": list(rule.columns), "exclude_inactive": rule.exclude_inactive}
                for rule in self._leads.detection.rules
            ],
            "duplicate_status": self._leads.detection.status,
        }

    # --- errors ----------------------------------------------------------------------------------

    def error_response(self, status: int, message: str | None = None) -> Response:
        if status == 429:
            message = message or "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
            return odata_error(429, "0x80072322", message)
        if status == 500:
            return odata_error(500, "0x80040216", message or "An unexpected error occurred.")
        return odata_error(status, "", message or f"HTTP {status}")

    def throttled(self) -> Response:
        limit = self.concurrency_limit
        return odata_error(
            429, "0x80072326", f"Number of concurrent requests exceeded the limit of {limit}.", {"Retry-After": "1"}
        )

    def unauthorized(self, problem: TokenProblem) -> Response:
        challenge = (
            f"Bearer authorization_uri={self.authority_host}/{self.tenant_id}/oauth2/authorize, "
            f"resource_id={self.base_url}/"
        )
        message = {
            TokenProblem.MISSING: "No bearer token in the Authorization header.",
            TokenProblem.UNKNOWN: "The bearer token is unknown or was revoked.",
            TokenProblem.EXPIRED: "The bearer token has expired.",
            TokenProblem.AUDIENCE: f"The bearer token was not issued for {self.base_url}.",
        }[problem]
        return odata_error(401, "", message, {"WWW-Authenticate": challenge})

    # --- request handling ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        match = _API.match(request.path)
        if not match:
            segment = request.path.strip("/").split("/")[0]
            return odata_error(404, "0x80060888", f"Resource not found for the segment '{segment}'.")
        version, resource = match.groups()
        token = self.authenticate(request, self.audiences)
        if isinstance(token, Response):
            return token
        if self.application_user_missing:
            return odata_error(403, "0x80072560", "The user is not a member of the organization.")
        try:
            return self._route(request, version, resource, token)
        except DataverseError as error:
            return odata_error(error.status, error.code, error.message)

    def _route(self, request: Request, version: str, resource: str, token: IssuedToken) -> Response:
        held = self.privileges | self.team_privileges  # Dataverse enforces both
        caller = Caller(f"{self.base_url}/api/data/{version}", self.user_id(token.principal), held)
        with self._users_lock:
            self._users[caller.user_id] = token.principal
        method = request.method
        if resource in ("WhoAmI", "WhoAmI()") and method == "GET":
            return who_am_i(caller, self.business_unit_id, self.organization_id)
        if (match := _PRIVILEGES_OF.fullmatch(resource)) and method == "GET":
            return self._user_privileges(caller, match.group(1).lower())
        if (match := _PRIVILEGES_BY_NAMES.fullmatch(resource)) and method == "GET":
            return self._privileges_by_names(request, caller, match.group(1).lower(), match.group(2))
        if (match := ATTRIBUTES.fullmatch(resource)) and method == "GET":
            return attributes(request, caller.api, match.group(1), match.group(2), self.lead_attributes.values())
        if match := _LEAD_KEY.fullmatch(resource):
            answer = self._leads.by_key(request, caller, match.group(1).lower())
            if answer is not None:
                return answer
        elif match := _ANY_LEAD_KEY.fullmatch(resource):
            raise DataverseError(
                400, "0x80060888", f"Bad Request - Error in query syntax: '{match.group(1)}' is not a key."
            )
        elif resource == "leads" and method == "POST":
            return self._leads.create(request, caller)
        elif resource == "leads" and method == "GET":
            return self._leads.list(request, caller)
        elif resource in TABLES and method == "GET":
            return self._query_records(request, caller, resource)
        elif (match := _NOTE_KEY.fullmatch(resource)) and method in ("GET", "PATCH", "DELETE"):
            return self.notes.by_key(request, caller, match.group(1).lower())
        elif resource == "annotations" and method == "POST":
            return self.notes.create(request, caller)
        elif resource == RETRIEVE_DUPLICATES and method == "GET":
            return self._leads.retrieve_duplicates(request, caller)
        else:
            segment = resource.split("/")[0].split("(")[0]
            if segment not in ("leads", "WhoAmI", "EntityDefinitions", "RetrieveDuplicates", *TABLES):
                raise DataverseError(404, "0x80060888", f"Resource not found for the segment '{segment}'.")
        raise DataverseError(405, "", f"The HTTP method '{method}' is not supported for '{resource}' by the stand-in.")

    def _user_privileges(self, caller: Caller, user_id: str) -> Response:
        with self._users_lock:
            known = user_id in self._users
        if not known:
            raise DataverseError(404, "0x80040217", f"systemuser With Id = {user_id} Does Not Exist")
        return user_privileges(caller.api, self.privileges, self.business_unit_id)  # the user's own roles only

    def _privileges_by_names(self, request: Request, caller: Caller, user_id: str, alias: str) -> Response:
        """The privileges asked for (a JSON array in the parameter alias) that the user holds, directly or
        through a team."""
        self._user_privileges(caller, user_id)  # 404 for a user the stand-in has not seen
        try:
            names = json.loads(request.param(alias) or "")
        except ValueError:
            names = None
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise DataverseError(400, "0x80060888", f"The parameter alias '{alias}' is not a collection of strings.")
        held = (self.privileges | self.team_privileges) & set(names)
        return user_privileges(caller.api, held, self.business_unit_id, "RetrieveUserSetOfPrivilegesByNamesResponse")

    def _query_records(self, request: Request, caller: Caller, entity_set: str) -> Response:
        _key, logical_name, privilege = TABLES[entity_set]
        caller.require(privilege, logical_name)
        params = query_options(request, entity_set, ("$select", "$top", "$filter"))
        rows = self.records.query(entity_set, params, wants_annotations(request))
        return odata_json(200, {"@odata.context": f"{caller.api}/$metadata#{entity_set}", "value": rows})

    def _exists(self, entity_set: str, record_id: str) -> bool:
        return (
            self._leads.copy(record_id) is not None
            if entity_set == "leads"
            else self.records.exists(entity_set, record_id)
        )

    def _lead_changed(self, event: str) -> None:
        self.notify()
        self.emit(event)


def _custom_column(column: str | dict[str, Any]) -> Attribute:
    if isinstance(column, str):
        return Attribute(column, "String", 100, custom=True)
    kind = str(column.get("type", "String"))
    options = {int(value): str(label) for value, label in dict(column.get("options", {})).items()}
    length = column.get("max_length", 100 if kind == "String" else 2000 if kind == "Memo" else None)
    if column["name"] in LEAD_ATTRIBUTES:
        raise ValueError(f"{column['name']} is a standard column of the lead table")
    return Attribute(str(column["name"]), kind, length, options, custom=True)
