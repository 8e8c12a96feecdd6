"""The Dataverse stand-in's other tables: contacts, accounts, systemusers, teams and campaigns, queried as the Web
API does (``$filter`` as dataverse_query.py parses it, ``$select``, ``$top``), and the lookups a lead can bind to
them (``ownerid@odata.bind`` and the like).

Errors follow Dataverse: a bind to a record that does not exist is a 400 ``0x80040217`` "<table> With Id = <id>
Does Not Exist"; a navigation property the lead does not have is a 400 ``0x80060888``.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from .dataverse_query import parse_filter
from .dataverse_responses import DataverseError

# entity set → (primary key, logical name, the privilege reading it needs)
TABLES = {
    "contacts": ("contactid", "contact", "prvReadContact"),
    "accounts": ("accountid", "account", "prvReadAccount"),
    "systemusers": ("systemuserid", "systemuser", "prvReadUser"),
    "teams": ("teamid", "team", "prvReadTeam"),
    "campaigns": ("campaignid", "campaign", "prvReadCampaign"),
    # Notes: ``_objectid_value`` is the record a note is attached to (a lead's go with it when it is deleted).
    "annotations": ("annotationid", "annotation", "prvReadNote"),
}
# The lead's lookups: navigation property → the entity sets it may point to.
LEAD_LOOKUPS = {
    "ownerid": ("systemusers", "teams"),
    "campaignid": ("campaigns",),
    "parentcontactid": ("contacts",),
    "parentaccountid": ("accounts",),
}
LOOKUP_ANNOTATION = "@Microsoft.Dynamics.CRM.lookuplogicalname"
_BIND_TARGET = re.compile(r"^/?(\w+)\(\{?([0-9a-fA-F-]{36})\}?\)$")
RecordError = DataverseError  # the name this module's callers and tests know

__all__ = ["LEAD_LOOKUPS", "LOOKUP_ANNOTATION", "TABLES", "RecordError", "Records", "parse_filter"]


class Records:
    """The rows of the non-lead tables, thread-safe."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in TABLES}
        self._lock = threading.Lock()

    def add(self, entity_set: str, **columns: Any) -> str:
        key = TABLES[entity_set][0]
        record_id = str(columns.pop(key, None) or uuid.uuid4()).lower()
        if entity_set == "contacts":
            columns.setdefault("statecode", 0)
            parent = columns.pop("parent_account", None)  # test API: the contact's account
            if parent:
                columns["_parentcustomerid_value"] = parent
                columns["_parentcustomerid_value" + LOOKUP_ANNOTATION] = "account"
            columns.setdefault("_parentcustomerid_value", None)
        if entity_set == "teams":
            columns.setdefault("teamtype", 0)
        with self._lock:
            self._rows[entity_set][record_id] = {key: record_id, **columns}
        return record_id

    def remove(self, entity_set: str, record_id: str) -> bool:
        with self._lock:
            return self._rows[entity_set].pop(record_id.lower(), None) is not None

    def remove_where(self, entity_set: str, column: str, value: str) -> int:
        """Remove the rows whose ``column`` is ``value`` (a cascade); how many went."""
        with self._lock:
            rows = self._rows[entity_set]
            doomed = [key for key, row in rows.items() if str(row.get(column, "")).lower() == value.lower()]
            for key in doomed:
                del rows[key]
        return len(doomed)

    def get(self, entity_set: str, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._rows[entity_set].get(record_id.lower())
            return dict(row) if row is not None else None

    def update(self, entity_set: str, record_id: str, values: dict[str, Any]) -> bool:
        with self._lock:
            row = self._rows[entity_set].get(record_id.lower())
            if row is not None:
                row.update(values)
            return row is not None

    def exists(self, entity_set: str, record_id: str) -> bool:
        with self._lock:
            return record_id.lower() in self._rows[entity_set]

    def clear(self) -> None:
        with self._lock:
            for rows in self._rows.values():
                rows.clear()

    def query(self, entity_set: str, params: Mapping[str, str | None], annotations: bool) -> list[dict[str, Any]]:
        with self._lock:
            rows = [dict(row) for row in self._rows[entity_set].values()]
        if params.get("$filter"):
            holds = parse_filter(str(params["$filter"]))
            rows = [row for row in rows if holds(row)]
        if params.get("$top"):
            rows = rows[: int(str(params["$top"]))]
        select = [name.strip() for name in str(params.get("$select") or "").split(",") if name.strip()]
        return [self._shown(entity_set, row, select, annotations) for row in rows]

    @staticmethod
    def _shown(entity_set: str, row: dict[str, Any], select: list[str], annotations: bool) -> dict[str, Any]:
        key, logical_name, _ = TABLES[entity_set]
        for name in select:
            if name not in row:
                raise RecordError(
                    400,
                    "0x80060888",
                    f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{logical_name}'.",
                )
        names = set(select or (name for name in row if "@" not in name)) | {key}
        shown = {name: row.get(name) for name in names}
        if annotations:
            shown |= {f"{name}{LOOKUP_ANNOTATION}": row[f"{name}{LOOKUP_ANNOTATION}"]
                      for name in names if f"{name}{LOOKUP_ANNOTATION}" in row}  # fmt: skip
        return shown

    def lookups(self, payload: dict[str, Any]) -> dict[str, str]:
        """The lead's ``…@odata.bind`` entries → ``_<navprop>_value`` columns; RecordError as Dataverse answers."""
        values = {}
        for name, target in payload.items():
            navigation = name.removesuffix("@odata.bind")
            if navigation not in LEAD_LOOKUPS:
                raise RecordError(
                    400,
                    "0x80060888",
                    f"An undeclared property '{navigation}' which only has property annotations in the payload but no "
                    "property value was found in the payload. In OData, only declared navigation properties and "
                    "declared named streams can be represented as properties without values.",
                )
            match = _BIND_TARGET.match(str(target))
            if match is None or match.group(1) not in LEAD_LOOKUPS[navigation]:
                raise RecordError(400, "0x80048d19", f"Invalid reference '{target}' for the property '{navigation}'.")
            entity_set, record_id = match.group(1), match.group(2).lower()
            if not self.exists(entity_set, record_id):
                raise RecordError(400, "0x80040217", f"{TABLES[entity_set][1]} With Id = {record_id} Does Not Exist")
            values[f"_{navigation}_value"] = record_id
        return values
