"""The Dataverse stand-in's table definitions: ``EntityDefinitions(LogicalName='lead')/Attributes``, whole or cast to
one attribute type (``…/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength``,
``…/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet``), as
"Query table definitions using the Web API" shows them (REFERENCE §9.3, D18): ``value`` holds every attribute,
``MetadataId`` always comes back, a cast is needed for a type's own properties (MaxLength, OptionSet), and an
unknown property in ``$select`` is a 400 ``0x80060888`` "Could not find a property named …".

Only the lead table is described; other tables answer 501 (the stand-in does not implement them).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from .dataverse_lead_attributes import Attribute
from .dataverse_query import query_options
from .dataverse_responses import DataverseError, odata_json
from .messages import Request, Response

ATTRIBUTES = re.compile(r"EntityDefinitions\(LogicalName='(\w+)'\)/Attributes(?:/Microsoft\.Dynamics\.CRM\.(\w+))?")
# Cast → the attribute types it selects (AttributeType values), and the properties of its own.
_CASTS = {
    "StringAttributeMetadata": (("String",), ("MaxLength", "FormatName")),
    "MemoAttributeMetadata": (("Memo",), ("MaxLength", "Format")),
    "PicklistAttributeMetadata": (("Picklist",), ("OptionSet", "GlobalOptionSet", "DefaultFormValue")),
    "StateAttributeMetadata": (("State",), ("OptionSet",)),
    "StatusAttributeMetadata": (("Status",), ("OptionSet",)),
    "BooleanAttributeMetadata": (("Boolean",), ("OptionSet",)),
    "IntegerAttributeMetadata": (("Integer",), ("MinValue", "MaxValue")),
    "LookupAttributeMetadata": (("Lookup", "Customer", "Owner"), ("Targets",)),
}
_BASE = ("MetadataId", "LogicalName", "SchemaName", "AttributeType", "AttributeTypeName", "IsValidForCreate",
         "IsValidForUpdate", "IsCustomAttribute", "EntityLogicalName")  # fmt: skip
_NAMESPACE = uuid.UUID("8d7c0a52-3d1e-4f7b-9a61-0c9f3e7d2b15")


def attributes(request: Request, api: str, table: str, cast: str | None, columns: Iterable[Attribute]) -> Response:
    if table != "lead":
        raise DataverseError(501, "", f"The stand-in describes only the lead table, not '{table}'.")
    if cast is not None and cast not in _CASTS:
        raise DataverseError(501, "", f"The stand-in does not implement the cast Microsoft.Dynamics.CRM.{cast}.")
    kinds, own = _CASTS[cast] if cast is not None else ((), ())
    options = query_options(request, "EntityDefinitions", ("$select", "$expand"))
    properties = (*_BASE, *own)
    selected = [name.strip() for name in (options["$select"] or "").split(",") if name.strip()]
    expanded = [name.split("(")[0].strip() for name in re.split(r",(?![^(]*\))", options["$expand"] or "") if name]
    type_name = f"Microsoft.Dynamics.CRM.{cast or 'AttributeMetadata'}"
    for name in (*selected, *expanded):
        if name not in properties:
            raise DataverseError(400, "0x80060888", f"Could not find a property named '{name}' on type '{type_name}'.")
    rows = [_row(column, selected or [p for p in properties if p not in ("OptionSet", "GlobalOptionSet")], expanded)
            for column in columns if cast is None or column.kind in kinds]  # fmt: skip
    context = f"{api}/$metadata#EntityDefinitions('lead')/Attributes" + (f"/{type_name}" if cast else "")
    return odata_json(200, {"@odata.context": context, "value": rows})


def _row(column: Attribute, selected: list[str], expanded: list[str]) -> dict[str, Any]:
    every = {
        "MetadataId": str(uuid.uuid5(_NAMESPACE, column.name)),
        "LogicalName": column.name,
        "SchemaName": column.name,
        "AttributeType": column.kind,
        "AttributeTypeName": {"Value": column.type_name},
        "IsValidForCreate": column.valid_for_create,
        "IsValidForUpdate": column.valid_for_create,
        "IsCustomAttribute": column.custom,
        "EntityLogicalName": "lead",
        "MaxLength": column.max_length,
        "OptionSet": _option_set(column),
        "GlobalOptionSet": None,
    }
    row = {"@odata.type": f"#Microsoft.Dynamics.CRM.{column.kind}AttributeMetadata", "MetadataId": every["MetadataId"]}
    return row | {name: every.get(name) for name in (*selected, *expanded)}


def _option_set(column: Attribute) -> dict[str, Any] | None:
    if not column.options:
        return None
    return {
        "MetadataId": str(uuid.uuid5(_NAMESPACE, f"{column.name}:options")),
        "Name": f"lead_{column.name}",
        "IsGlobal": False,
        "OptionSetType": column.kind,
        "Options": [{"Value": value, "Label": _label(text)} for value, text in column.options.items()],
    }


def _label(text: str) -> dict[str, Any]:
    label = {"Label": text, "LanguageCode": 1033, "IsManaged": True}
    return {"LocalizedLabels": [label], "UserLocalizedLabel": label}
