"""The Dataverse stand-in's ``leads`` entity set: create (POST), upsert (PATCH, conditional on ``If-Match`` /
``If-None-Match`` with the row's ``W/"n"`` ETag), read, list (``$filter``, ``$orderby``, ``$select``, ``$top``) and
delete, checking privileges and columns as Dataverse does (REFERENCE §3), with the organisation's duplicate
detection when a request asks for it (dataverse_duplicates.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .dataverse_columns import LEAD_COLUMNS, check_values, lead_values
from .dataverse_duplicates import DuplicateDetection, business_entity
from .dataverse_lead_attributes import LEAD_ATTRIBUTES, Attribute
from .dataverse_privileges import Caller
from .dataverse_query import parse_filter, query_options
from .dataverse_records import Records
from .dataverse_responses import DataverseError, odata_json
from .messages import Request, Response

# A lead's lookup column → the privilege its target needs to be linked to a lead, and the target's table.
APPENDED_TO = {
    "_campaignid_value": ("prvAppendToCampaign", "campaign"),
    "_parentcontactid_value": ("prvAppendToContact", "contact"),
    "_parentaccountid_value": ("prvAppendToAccount", "account"),
}


class LeadsEntitySet:
    """The lead rows by lower-case leadid; thread-safe. ``changed`` hears "lead <id> created|updated|deleted"."""

    def __init__(self, records: Records, changed: Callable[[str], None]) -> None:
        self.records = records  # the tables a lead's lookups bind to
        self.custom_columns: dict[str, Attribute] = {}  # a publisher's own lead columns (new_offerid…)
        self._changed = changed
        self._rows: dict[str, dict[str, Any]] = {}
        self._versions = 1000
        self._lock = threading.Lock()
        self.detection = DuplicateDetection()

    def copies(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {lead_id: dict(record) for lead_id, record in self._rows.items()}

    def copy(self, lead_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._rows.get(lead_id.lower())
            return dict(record) if record else None

    @property
    def columns(self) -> dict[str, Attribute]:
        """The lead table's columns: the standard ones and the publisher's own."""
        return LEAD_ATTRIBUTES | self.custom_columns

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    # --- requests --------------------------------------------------------------------------------

    def by_key(self, request: Request, caller: Caller, lead_id: str) -> Response | None:
        """``leads(<id>)``; None for a method it does not support."""
        if request.method == "PATCH":
            return self._upsert(request, caller, lead_id)
        if request.method == "GET":
            caller.require("prvReadLead")
            return odata_json(200, _representation(caller.api, self._existing(lead_id), request))
        if request.method == "DELETE":
            caller.require("prvDeleteLead")
            with self._lock:
                if self._rows.pop(lead_id, None) is None:
                    raise _missing(lead_id)
            self.records.remove_where("annotations", "_objectid_value", lead_id)  # notes go with their record
            self._changed(f"lead {lead_id} deleted")
            return Response(204, headers={"OData-Version": "4.0"})
        return None

    def create(self, request: Request, caller: Caller) -> Response:
        values = lead_values(request, None, self.columns, self.records)
        lead_id = str(values.pop("leadid", None) or uuid.uuid4()).lower()
        with self._lock:
            if lead_id in self._rows:
                raise _duplicate()
            if self.detection.wanted(request):
                self.detection.refuse_duplicates(values | {"leadid": lead_id}, self._rows.values())
            record = self._write(lead_id, values, caller, None)
        return self._written(request, caller, record, created=True)

    def list(self, request: Request, caller: Caller) -> Response:
        caller.require("prvReadLead")
        options = query_options(request, "leads", ("$select", "$top", "$filter", "$orderby"))
        with self._lock:
            records = list(self._rows.values())
        if options["$filter"]:
            holds = parse_filter(str(options["$filter"]))
            records = [record for record in records if holds(record)]
        if options["$orderby"]:
            records = _ordered(records, str(options["$orderby"]), self.columns)
        top = options["$top"]
        records = records[: int(top)] if top else records
        return odata_json(
            200,
            {
                "@odata.context": f"{caller.api}/$metadata#leads",
                "value": [_representation(caller.api, record, request) for record in records],
            },
        )

    def _upsert(self, request: Request, caller: Caller, lead_id: str) -> Response:
        values = lead_values(request, lead_id, self.columns, self.records)
        if_none_match = request.header("if-none-match").strip()
        if_match = request.header("if-match").strip()
        with self._lock:
            existing = self._rows.get(lead_id)
            if if_none_match == "*" and existing is not None:
                raise _duplicate()
            if if_match and existing is None:
                raise _missing(lead_id)
            if self.detection.wanted(request):
                record = (existing or {}) | values | {"leadid": lead_id}
                self.detection.refuse_duplicates(record, self._rows.values())
            if if_match not in ("", "*") and existing is not None and if_match != existing["@odata.etag"]:
                raise DataverseError(
                    412,
                    "0x80060882",
                    "The version of the existing record doesn't match the RowVersion property provided.",
                )
            record = self._write(lead_id, values, caller, existing)
        return self._written(request, caller, record, created=existing is None)

    def retrieve_duplicates(self, request: Request, caller: Caller) -> Response:
        """``RetrieveDuplicates``: the leads the published rules match for the record in ``@p1``."""
        caller.require("prvReadLead")
        record, matching = business_entity(request)
        record = {name: value for name, value in record.items() if not name.startswith("@")}
        with self._lock:
            existing = self._rows.get(str(record.get("leadid") or "").strip("{}").lower())
            rows = list(self._rows.values())
        found = self.detection.duplicates((existing or {}) | record, rows) if matching == "lead" else []
        value = [_representation(caller.api, row, request) for row in found[:50]]
        return odata_json(200, {"@odata.context": f"{caller.api}/$metadata#leads", "value": value})

    def seed(self, caller_id: str, **columns: Any) -> str:
        """Test API: a lead as someone else made it (by hand, another integration), e.g. with an old ``createdon``
        or ``statecode`` 1 (qualified); its leadid."""
        lead_id = str(columns.pop("leadid", None) or uuid.uuid4()).lower()
        with self._lock:
            self._versions += 1
            record: dict[str, Any] = dict.fromkeys(LEAD_COLUMNS)
            record.update(leadid=lead_id, statecode=0, statuscode=1, _ownerid_value=caller_id,
                          createdon=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))  # fmt: skip
            record.update(_campaignid_value=None, _parentcontactid_value=None, _parentaccountid_value=None)
            record.update(columns)
            record["@odata.etag"] = f'W/"{self._versions}"'
            record["fullname"] = " ".join(part for part in (record["firstname"], record["lastname"]) if part) or None
            self._rows[lead_id] = record
        self._changed(f"lead {lead_id} created")
        return lead_id

    # --- rows ------------------------------------------------------------------------------------

    def _write(
        self, lead_id: str, values: dict[str, Any], caller: Caller, existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Check the caller's privileges and the values, then insert or merge; the caller holds _lock."""
        caller.require("prvWriteLead" if existing else "prvCreateLead")
        check_values(values, self.columns)
        if values.get("_ownerid_value") not in (None, caller.user_id):  # another owner: that is assigning it
            caller.require("prvAssignLead")
        for lookup, (privilege, table) in APPENDED_TO.items():  # linking a record: Append here, AppendTo there
            if values.get(lookup) is not None:
                caller.require("prvAppendLead")
                caller.require(privilege, table)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._versions += 1
        if existing is None:
            record: dict[str, Any] = dict.fromkeys(LEAD_COLUMNS)
            record.update(leadid=lead_id, statecode=0, statuscode=1, createdon=now, _createdby_value=caller.user_id)
            record.update(_ownerid_value=caller.user_id, _campaignid_value=None, _parentcontactid_value=None)
            record.update(_parentaccountid_value=None)
        else:
            record = dict(existing)
        record.update(values)
        record.update(modifiedon=now, _modifiedby_value=caller.user_id)
        record["@odata.etag"] = f'W/"{self._versions}"'
        record["fullname"] = " ".join(part for part in (record["firstname"], record["lastname"]) if part) or None
        self._rows[lead_id] = record
        return record

    def _written(self, request: Request, caller: Caller, record: dict[str, Any], *, created: bool) -> Response:
        self._changed(f"lead {record['leadid']} {'created' if created else 'updated'}")
        if "return=representation" in request.header("prefer"):
            return odata_json(201 if created else 200, _representation(caller.api, record, request))
        entity_id = f"{caller.api}/leads({record['leadid']})"
        return Response(204, headers={"OData-Version": "4.0", "OData-EntityId": entity_id})

    def _existing(self, lead_id: str) -> dict[str, Any]:
        with self._lock:
            record = self._rows.get(lead_id)
        if record is None:
            raise _missing(lead_id)
        return record


def _representation(api: str, record: dict[str, Any], request: Request) -> dict[str, Any]:
    select = request.param("$select")
    shown = dict(record)
    if select:
        wanted = {name.strip() for name in select.split(",")} | {"leadid", "@odata.etag"}
        shown = {name: value for name, value in record.items() if name in wanted}
    return {"@odata.context": f"{api}/$metadata#leads/$entity", **shown}


def _ordered(records: list[dict[str, Any]], orderby: str, columns: dict[str, Attribute]) -> list[dict[str, Any]]:
    """``$orderby=createdon asc`` (one column, asc or desc; the system columns and the table's)."""
    name, _, direction = orderby.strip().partition(" ")
    if name not in columns and name not in ("createdon", "modifiedon", "leadid", "statecode"):
        raise DataverseError(
            400, "0x80060888", f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.lead'."
        )
    return sorted(records, key=lambda row: (row.get(name) is None, str(row.get(name) or "")),
                  reverse=direction.strip().lower() == "desc")  # fmt: skip


def _missing(lead_id: str) -> DataverseError:
    return DataverseError(404, "0x80040217", f"lead With Id = {lead_id} Does Not Exist")


def _duplicate() -> DataverseError:
    return DataverseError(412, "0x80040237", "A record with matching key values already exists.")
