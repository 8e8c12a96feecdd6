"""The Dataverse stand-in's notes (the ``annotations`` entity set): created with POST, or with a PATCH to their key
(an upsert: ``If-None-Match: *`` creates and never updates, 412 when the note exists; ``If-Match: *`` updates and
never creates, 404), read by key, queried (dataverse_records.py) and deleted.

Confirmed (the Note (Annotation) table reference and REFERENCE §8.1): the entity set, ``annotationid`` valid for
create, Upsert supported, ``subject`` at most 500 characters and ``notetext`` 100,000, a note on a lead bound with
``objectid_lead@odata.bind``. Inferred [U]: the privileges (Create on Note; and, for a note regarding a record,
Append on Note and Append To on that record's table, as for any lookup), and the codes reused from the lead's own
refusals (0x80048d19 for an unknown property, 0x80044331 over MaxLength, 0x80040217 for a missing record).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .dataverse_columns import GUID, payload_error
from .dataverse_privileges import Caller
from .dataverse_records import Records
from .dataverse_responses import DataverseError, odata_json
from .messages import Request, Response

NOTE_LENGTHS = {"subject": 500, "notetext": 100_000, "filename": 255, "mimetype": 256, "documentbody": 1_073_741_823}
NOTE_FLAGS = ("isdocument",)
# Regarding: the navigation property for each table a note can be attached to here → (entity set, logical name).
REGARDING = {"objectid_lead": ("leads", "lead"), "objectid_contact": ("contacts", "contact"),
             "objectid_account": ("accounts", "account")}  # fmt: skip
_BIND = re.compile(rf"^/?(\w+)\({GUID}\)$")


class Notes:
    """Notes in the stand-in's records (``annotations``); ``exists(entity set, id)`` finds what they regard."""

    def __init__(self, records: Records, exists: Callable[[str, str], bool]) -> None:
        self.records = records
        self.exists = exists

    def create(self, request: Request, caller: Caller) -> Response:
        values = self._values(request, caller, None)
        note_id = str(values.pop("annotationid", None) or uuid.uuid4()).lower()
        if self.records.exists("annotations", note_id):
            raise DataverseError(412, "0x80040237", "A record with matching key values already exists.")
        return self._written(caller, self._add(note_id, values, caller))

    def by_key(self, request: Request, caller: Caller, note_id: str) -> Response:
        if request.method == "GET":
            caller.require("prvReadNote", "annotation")
            row = self.records.get("annotations", note_id)
            if row is None:
                raise _missing(note_id)
            return odata_json(200, _shown(caller.api, row, request.param("$select")))
        if request.method == "PATCH":
            return self._upsert(request, caller, note_id)
        caller.require("prvDeleteNote", "annotation")
        if not self.records.remove("annotations", note_id):
            raise _missing(note_id)
        return Response(204, headers={"OData-Version": "4.0"})

    def _upsert(self, request: Request, caller: Caller, note_id: str) -> Response:
        exists = self.records.exists("annotations", note_id)
        if request.header("if-none-match").strip() == "*" and exists:
            raise DataverseError(412, "0x80040237", "A record with matching key values already exists.")
        if request.header("if-match").strip() and not exists:
            raise _missing(note_id)
        values = self._values(request, caller, note_id)
        if exists:
            caller.require("prvWriteNote", "annotation")
            self.records.update("annotations", note_id, values)
            return Response(204, headers={"OData-Version": "4.0"})
        return self._written(caller, self._add(note_id, values, caller))

    def _values(self, request: Request, caller: Caller, key: str | None) -> dict[str, Any]:
        try:
            payload = request.json()
        except ValueError:
            raise payload_error("Invalid JSON. The payload could not be read.") from None
        if not isinstance(payload, dict):
            raise DataverseError(400, "0x80048d19", "Error identified in Payload provided by the user.")
        values: dict[str, Any] = {}
        for name, value in payload.items():
            if name.endswith("@odata.bind"):
                values |= self._regarding(name.removesuffix("@odata.bind"), value, caller)
            elif name == "annotationid":
                if not isinstance(value, str) or not re.fullmatch(GUID, value) or (key and value.lower() != key):
                    raise payload_error(f"Cannot convert the literal '{value}' to the expected type 'Edm.Guid'.")
                values[name] = value.strip("{}").lower()
            elif name in NOTE_LENGTHS:
                if not isinstance(value, str) and value is not None:
                    raise payload_error(f"Cannot convert the literal '{value}' to the expected type 'Edm.String'.")
                if isinstance(value, str) and len(value) > NOTE_LENGTHS[name]:
                    raise DataverseError(
                        400,
                        "0x80044331",
                        f"A validation error occurred. The length of the '{name}' attribute of the 'annotation' "
                        f"entity exceeded the maximum allowed length of '{NOTE_LENGTHS[name]}'.",
                    )
                values[name] = value
            elif name in NOTE_FLAGS and isinstance(value, bool):
                values[name] = value
            else:
                raise payload_error(
                    f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.annotation'. Make sure to "
                    "only use property names that are defined by the type or mark the type as open type."
                )
        return values

    def _regarding(self, navigation: str, target: Any, caller: Caller) -> dict[str, Any]:
        if navigation not in REGARDING:
            message = f"An undeclared property '{navigation}' which only has property annotations in the payload"
            raise DataverseError(400, "0x80060888", f"{message} but no property value was found in the payload.")
        entity_set, logical_name = REGARDING[navigation]
        match = _BIND.match(str(target))
        if match is None or match.group(1) != entity_set:
            raise DataverseError(400, "0x80048d19", f"Invalid reference '{target}' for the property '{navigation}'.")
        record_id = match.group(2).lower()
        if not self.exists(entity_set, record_id):
            raise DataverseError(400, "0x80040217", f"{logical_name} With Id = {record_id} Does Not Exist")
        caller.require("prvAppendNote", "annotation")
        caller.require(f"prvAppendTo{logical_name.capitalize()}", logical_name)
        return {"_objectid_value": record_id, "objecttypecode": logical_name}

    def _add(self, note_id: str, values: dict[str, Any], caller: Caller) -> dict[str, Any]:
        caller.require("prvCreateNote", "annotation")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        row = {"subject": None, "notetext": None, "isdocument": False, "_objectid_value": None,
               "objecttypecode": None, **values, "createdon": now, "_ownerid_value": caller.user_id}  # fmt: skip
        self.records.add("annotations", annotationid=note_id, **row)
        return {"annotationid": note_id, **row}

    @staticmethod
    def _written(caller: Caller, row: dict[str, Any]) -> Response:
        entity_id = f"{caller.api}/annotations({row['annotationid']})"
        return Response(204, headers={"OData-Version": "4.0", "OData-EntityId": entity_id})


def _shown(api: str, row: dict[str, Any], select: str | None) -> dict[str, Any]:
    wanted = {name.strip() for name in (select or "").split(",") if name.strip()}
    shown = {name: value for name, value in row.items() if not wanted or name in wanted or name == "annotationid"}
    return {"@odata.context": f"{api}/$metadata#annotations/$entity", **shown}


def _missing(note_id: str) -> DataverseError:
    return DataverseError(404, "0x80040217", f"annotation With Id = {note_id} Does Not Exist")
