"""Dataverse Web API stand-in: the ``leads`` entity set, WhoAmI and RetrieveUserPrivileges; contacts, accounts,
systemusers, teams and campaigns to query and to bind a lead to (dataverse_records.py).

Status codes, conditional upserts and error bodies ``{"error": {"code": "0x…", "message": …}}`` follow the
Web API docs (REFERENCE §3). Codes confirmed in public text: 0x80040237 (duplicate key), 0x80040217 (does not
exist), 0x80072322/0x80072326 (service protection), 0x80072560 (no application user: "The user is not a member
of the organization.", seen in Microsoft's dual-write troubleshooting page), 0x80040220 (missing privilege).
Codes for payload errors (0x80048d19, 0x80044331, 0x80060888, 0x80060882) are taken from community reports;
the body of a real 401 is undocumented (often empty), so ours carries an empty code.
"""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from .base import JSON, RecordedRequest, Request, Response, StandIn
from .dataverse_records import TABLES, RecordError, Records
from .tokens import IssuedToken, TokenProblem, TokenRegistry, normalise_audience

# Column → max length (None: not a string). REFERENCE §3.3.
LEAD_COLUMNS: dict[str, int | None] = {
    "subject": 300,
    "firstname": 50,
    "lastname": 50,
    "emailaddress1": 100,
    "telephone1": 50,
    "companyname": 100,
    "jobtitle": 100,
    "address1_country": 80,
    "description": 2000,
    "leadsourcecode": None,
    "leadqualitycode": None,
}
OPTION_SETS = {"leadsourcecode": range(1, 11), "leadqualitycode": range(1, 4)}
LEAD_SOURCE_CODES = OPTION_SETS["leadsourcecode"]
# What the tests' application user holds: create leads, assign them an owner, read what routing looks up.
DEFAULT_PRIVILEGES = frozenset(
    {"prvCreateLead", "prvReadLead", "prvWriteLead", "prvAssignLead"} | {table[2] for table in TABLES.values()}
)
# What Microsoft says every request should carry (REFERENCE §3.1); see header_problems().
REQUIRED_HEADERS = {"accept": "application/json", "odata-maxversion": "4.0", "odata-version": "4.0"}

_API = re.compile(r"^/api/data/(v9\.[0-2])/(.*)$")
_GUID = r"\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?"
_LEAD_KEY = re.compile(rf"leads\({_GUID}\)")
_ANY_LEAD_KEY = re.compile(r"leads\((.*)\)")
_PRIVILEGES_OF = re.compile(rf"systemusers\({_GUID}\)/Microsoft\.Dynamics\.CRM\.RetrieveUserPrivileges\(\)")
_STANDIN_NAMESPACE = uuid.UUID("5f0c3c1e-8f0e-4a8e-9d7e-2b8f7c1d0a11")


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


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
        self.privileges: set[str] = set(DEFAULT_PRIVILEGES)
        self.application_user_missing = False
        self.organization_id = str(uuid.uuid4())
        self.business_unit_id = str(uuid.uuid4())
        self._leads: dict[str, dict[str, Any]] = {}
        self._versions = 1000
        self._users: dict[str, str] = {}  # systemuserid → principal
        self.records = Records()
        self.custom_columns: set[str] = set()  # a publisher's own lead columns (new_offerid…), any JSON scalar
        self._store_lock = threading.Lock()

    # --- test API --------------------------------------------------------------------------------

    @property
    def audiences(self) -> set[str]:
        """Tokens for ``http://127.0.0.1:PORT`` or ``http://localhost:PORT`` (the app asks for DYNAMICS_URL)."""
        return {normalise_audience(self.base_url), normalise_audience(f"http://localhost:{self.port}")}

    @property
    def leads(self) -> dict[str, dict[str, Any]]:
        """Stored leads by lower-case leadid (copies)."""
        with self._store_lock:
            return {lead_id: dict(record) for lead_id, record in self._leads.items()}

    def lead(self, lead_id: str) -> dict[str, Any] | None:
        with self._store_lock:
            record = self._leads.get(lead_id.lower())
            return dict(record) if record else None

    def user_id(self, principal: str) -> str:
        """The systemuserid Dataverse would map this caller to (stable per principal)."""
        return str(uuid.uuid5(_STANDIN_NAMESPACE, principal))

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
        with self._store_lock:
            self._leads.clear()
            self._users.clear()
        self.records.clear()
        self.custom_columns = set()
        self.privileges = set(DEFAULT_PRIVILEGES)
        self.application_user_missing = False

    # --- control API -----------------------------------------------------------------------------

    def control(self, request: Request, action: str) -> Response | None:
        if (request.method, action) == ("GET", "leads"):
            return Response.json(200, {"leads": list(self.leads.values())})
        entity_set = action.split("/")[1] if action.startswith("records/") else ""
        if request.method == "POST" and entity_set in TABLES:  # /_standin/records/teams {"name": "…"}
            return Response.json(201, {"id": self.records.add(entity_set, **request.json())})
        if request.method == "DELETE" and entity_set in TABLES and action.count("/") == 2:
            return Response(204 if self.records.remove(entity_set, action.split("/")[2]) else 404)
        return None

    def configure(self, changes: dict[str, JSON]) -> None:
        if "privileges" in changes:
            self.privileges = set(changes.pop("privileges"))
        if "application_user_missing" in changes:
            self.application_user_missing = bool(changes.pop("application_user_missing"))
        if "custom_columns" in changes:
            self.custom_columns = set(changes.pop("custom_columns"))
        super().configure(changes)

    def config_snapshot(self) -> dict[str, JSON]:
        return {
            **super().config_snapshot(),
            "privileges": sorted(self.privileges),
            "application_user_missing": self.application_user_missing,
            "custom_columns": sorted(self.custom_columns),
        }

    # --- errors ----------------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return Response.json(
            status, {"error": {"code": code, "message": message}}, {"OData-Version": "4.0", **(headers or {})}
        )

    def error_response(self, status: int, message: str | None = None) -> Response:
        if status == 429:
            message = message or "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
            return self._error(429, "0x80072322", message)
        if status == 500:
            return self._error(500, "0x80040216", message or "An unexpected error occurred.")
        return self._error(status, "", message or f"HTTP {status}")

    def throttled(self) -> Response:
        limit = self.concurrency_limit
        return self._error(
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
        return self._error(401, "", message, {"WWW-Authenticate": challenge})

    # --- request handling ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        match = _API.match(request.path)
        if not match:
            segment = request.path.strip("/").split("/")[0]
            return self._error(404, "0x80060888", f"Resource not found for the segment '{segment}'.")
        version, resource = match.groups()
        token = self.authenticate(request, self.audiences)
        if isinstance(token, Response):
            return token
        if self.application_user_missing:
            return self._error(403, "0x80072560", "The user is not a member of the organization.")
        try:
            return self._route(request, version, resource, token)
        except (_Error, RecordError) as error:
            return self._error(error.status, error.code, error.message)

    def _route(self, request: Request, version: str, resource: str, token: IssuedToken) -> Response:
        api = f"{self.base_url}/api/data/{version}"
        user_id = self.user_id(token.principal)
        with self._store_lock:
            self._users[user_id] = token.principal
        method = request.method
        if resource in ("WhoAmI", "WhoAmI()") and method == "GET":
            return self._json(
                200,
                {
                    "@odata.context": f"{api}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                    "BusinessUnitId": self.business_unit_id,
                    "UserId": user_id,
                    "OrganizationId": self.organization_id,
                },
            )
        if (match := _PRIVILEGES_OF.fullmatch(resource)) and method == "GET":
            return self._user_privileges(api, match.group(1).lower())
        if match := _LEAD_KEY.fullmatch(resource):
            lead_id = match.group(1).lower()
            if method == "PATCH":
                return self._upsert(request, api, lead_id, user_id)
            if method == "GET":
                self._require("prvReadLead", user_id)
                return self._json(200, self._representation(api, self._existing(lead_id), request))
            if method == "DELETE":
                self._require("prvDeleteLead", user_id)
                with self._store_lock:
                    if self._leads.pop(lead_id, None) is None:
                        raise self._missing(lead_id)
                return Response(204, headers={"OData-Version": "4.0"})
        elif match := _ANY_LEAD_KEY.fullmatch(resource):
            raise _Error(400, "0x80060888", f"Bad Request - Error in query syntax: '{match.group(1)}' is not a key.")
        elif resource == "leads" and method == "POST":
            return self._create(request, api, user_id)
        elif resource == "leads" and method == "GET":
            return self._list(request, api, user_id)
        elif resource in TABLES and method == "GET":
            return self._query_records(request, api, resource, user_id)
        else:
            segment = resource.split("/")[0].split("(")[0]
            if segment not in ("leads", "WhoAmI", *TABLES):
                raise _Error(404, "0x80060888", f"Resource not found for the segment '{segment}'.")
        raise _Error(405, "", f"The HTTP method '{method}' is not supported for '{resource}' by the stand-in.")

    def _user_privileges(self, api: str, user_id: str) -> Response:
        with self._store_lock:
            known = user_id in self._users
        if not known:
            raise _Error(404, "0x80040217", f"systemuser With Id = {user_id} Does Not Exist")
        privileges = [
            {
                "Depth": "Global",
                "PrivilegeId": str(uuid.uuid5(_STANDIN_NAMESPACE, name)),
                "BusinessUnitId": self.business_unit_id,
                "PrivilegeName": name,
            }
            for name in sorted(self.privileges)
        ]
        return self._json(
            200,
            {
                "@odata.context": f"{api}/$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse",
                "RolePrivileges": privileges,
            },
        )

    def _query_records(self, request: Request, api: str, entity_set: str, user_id: str) -> Response:
        self._require(TABLES[entity_set][2], user_id, TABLES[entity_set][1])
        unsupported = sorted(name for name in request.query if name not in ("$select", "$top", "$filter"))
        if unsupported:
            raise _Error(501, "", f"The stand-in does not implement {', '.join(unsupported)} on {entity_set}.")
        params = {name: request.param(name) for name in ("$select", "$top", "$filter")}
        annotations = "lookuplogicalname" in request.header("prefer") or '"*"' in request.header("prefer")
        rows = self.records.query(entity_set, params, annotations)
        return self._json(200, {"@odata.context": f"{api}/$metadata#{entity_set}", "value": rows})

    def _upsert(self, request: Request, api: str, lead_id: str, user_id: str) -> Response:
        values = self._lead_values(request, lead_id)
        if_none_match = request.header("if-none-match").strip()
        if_match = request.header("if-match").strip()
        with self._store_lock:
            existing = self._leads.get(lead_id)
            if if_none_match == "*" and existing is not None:
                raise _Error(412, "0x80040237", "A record with matching key values already exists.")
            if if_match and existing is None:
                raise self._missing(lead_id)
            if if_match not in ("", "*") and existing is not None and if_match != existing["@odata.etag"]:
                raise _Error(
                    412,
                    "0x80060882",
                    "The version of the existing record doesn't match the RowVersion property provided.",
                )
            self._require("prvWriteLead" if existing else "prvCreateLead", user_id)
            self._check_lengths(values)
            self._check_owner(values, user_id)
            record = self._store(lead_id, values, user_id, existing)
        self.notify()
        self.emit(f"lead {lead_id} {'updated' if existing else 'created'}")
        return self._written(request, api, record, created=existing is None)

    def _create(self, request: Request, api: str, user_id: str) -> Response:
        values = self._lead_values(request, None)
        lead_id = str(values.pop("leadid", None) or uuid.uuid4()).lower()
        with self._store_lock:
            if lead_id in self._leads:
                raise _Error(412, "0x80040237", "A record with matching key values already exists.")
            self._require("prvCreateLead", user_id)
            self._check_lengths(values)
            self._check_owner(values, user_id)
            record = self._store(lead_id, values, user_id, None)
        self.notify()
        self.emit(f"lead {lead_id} created")
        return self._written(request, api, record, created=True)

    def _list(self, request: Request, api: str, user_id: str) -> Response:
        self._require("prvReadLead", user_id)
        unsupported = sorted(name for name in request.query if name not in ("$select", "$top"))
        if unsupported:
            raise _Error(501, "", f"The stand-in does not implement {', '.join(unsupported)} on leads.")
        with self._store_lock:
            records = list(self._leads.values())
        top = request.param("$top")
        records = records[: int(top)] if top else records
        return self._json(
            200,
            {
                "@odata.context": f"{api}/$metadata#leads",
                "value": [self._representation(api, record, request) for record in records],
            },
        )

    def _lead_values(self, request: Request, key: str | None) -> dict[str, Any]:
        try:
            payload = request.json()
        except ValueError:
            raise _Error(
                400,
                "0x80048d19",
                "Error identified in Payload provided by the user for Entity :'leads', For more information on this "
                "error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> "
                "InnerException : Microsoft.OData.ODataException: Invalid JSON. The payload could not be read.",
            ) from None
        if not isinstance(payload, dict):
            raise _Error(400, "0x80048d19", "Error identified in Payload provided by the user for Entity :'leads'.")
        values: dict[str, Any] = {}
        binds = {name: value for name, value in payload.items() if name.endswith("@odata.bind")}
        for name, value in payload.items():
            if (name == "@odata.type" and value == "Microsoft.Dynamics.CRM.lead") or name in binds:
                continue
            if name == "leadid":
                if not isinstance(value, str) or not re.fullmatch(_GUID, value):
                    raise _Error(
                        400, "0x80048d19", f"Cannot convert the literal '{value}' to the expected type 'Edm.Guid'."
                    )
                if key is not None and value.strip("{}").lower() != key:
                    raise _Error(400, "0x80048d19", "The leadid in the payload does not match the key in the URL.")
                values[name] = value.strip("{}").lower()
                continue
            if name in self.custom_columns:
                values[name] = value
                continue
            if name not in LEAD_COLUMNS:
                raise _Error(
                    400,
                    "0x80060888",
                    f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.lead'.",
                )
            if value is not None:
                expected = "Edm.Int32" if LEAD_COLUMNS[name] is None else "Edm.String"
                wrong = isinstance(value, bool) or not isinstance(value, int if expected == "Edm.Int32" else str)
                if wrong:
                    raise _Error(
                        400,
                        "0x80048d19",
                        f"Cannot convert a primitive value to the expected type '{expected}' for property '{name}'.",
                    )
            values[name] = value
        return values | self.records.lookups(binds)

    @staticmethod
    def _check_lengths(values: dict[str, Any]) -> None:
        for name, value in values.items():
            limit = LEAD_COLUMNS.get(name)
            if limit is not None and isinstance(value, str) and len(value) > limit:
                raise _Error(
                    400,
                    "0x80044331",
                    f"A validation error occurred. The length of the '{name}' attribute of the 'lead' entity exceeded "
                    f"the maximum allowed length of '{limit}'.",
                )
        for option_set, codes in OPTION_SETS.items():
            code = values.get(option_set)
            if code is not None and code not in codes:
                accepted = ",".join(str(number) for number in codes)
                raise _Error(
                    400,
                    "0x80044331",
                    f"A validation error occurred. The value {code} of '{option_set}' on record of type 'lead' is "
                    f"outside the valid range. Accepted Values: {accepted}",
                )

    def _check_owner(self, values: dict[str, Any], user_id: str) -> None:
        """Giving the lead an owner other than the caller is assigning it: prvAssignLead."""
        if values.get("_ownerid_value") not in (None, user_id):
            self._require("prvAssignLead", user_id)

    def _require(self, privilege: str, user_id: str, entity: str = "lead") -> None:
        if privilege not in self.privileges:
            raise _Error(
                403,
                "0x80040220",
                f"Principal user (Id={user_id}, type=8, roleCount=1, privilegeCount={len(self.privileges)}, "
                f"accessMode=4), is missing {privilege} privilege (Id={uuid.uuid5(_STANDIN_NAMESPACE, privilege)}) "
                f"on OTC=4 for entity '{entity}'. context.Caller={user_id}",
            )

    def _existing(self, lead_id: str) -> dict[str, Any]:
        with self._store_lock:
            record = self._leads.get(lead_id)
        if record is None:
            raise self._missing(lead_id)
        return record

    @staticmethod
    def _missing(lead_id: str) -> _Error:
        return _Error(404, "0x80040217", f"lead With Id = {lead_id} Does Not Exist")

    def _store(
        self, lead_id: str, values: dict[str, Any], user_id: str, existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Insert or merge; the caller holds _store_lock."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._versions += 1
        if existing is None:
            record: dict[str, Any] = dict.fromkeys(LEAD_COLUMNS)
            record.update(leadid=lead_id, statecode=0, statuscode=1, createdon=now, _createdby_value=user_id)
            record.update(_ownerid_value=user_id, _campaignid_value=None, _parentcontactid_value=None)
            record.update(_parentaccountid_value=None)
        else:
            record = dict(existing)
        record.update(values)
        record.update(modifiedon=now, _modifiedby_value=user_id)
        record["@odata.etag"] = f'W/"{self._versions}"'
        record["fullname"] = " ".join(part for part in (record["firstname"], record["lastname"]) if part) or None
        self._leads[lead_id] = record
        return record

    def _written(self, request: Request, api: str, record: dict[str, Any], *, created: bool) -> Response:
        if "return=representation" in request.header("prefer"):
            return self._json(201 if created else 200, self._representation(api, record, request))
        return Response(204, headers={"OData-Version": "4.0", "OData-EntityId": f"{api}/leads({record['leadid']})"})

    @staticmethod
    def _representation(api: str, record: dict[str, Any], request: Request) -> dict[str, Any]:
        select = request.param("$select")
        shown = dict(record)
        if select:
            wanted = {name.strip() for name in select.split(",")} | {"leadid", "@odata.etag"}
            shown = {name: value for name, value in record.items() if name in wanted}
        return {"@odata.context": f"{api}/$metadata#leads/$entity", **shown}

    @staticmethod
    def _json(status: int, payload: JSON) -> Response:
        headers = {"OData-Version": "4.0", "Content-Type": "application/json; odata.metadata=minimal"}
        if isinstance(payload, dict) and "@odata.etag" in payload:
            headers["ETag"] = str(payload["@odata.etag"])
        return Response.json(status, payload, headers)
