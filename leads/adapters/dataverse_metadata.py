"""Reading the lead table's definitions and the caller's privileges from the Dataverse Web API (the requests
``Dataverse.lead_columns`` and ``Dataverse.privileges_held`` send, and what their answers mean).

Table definitions ("Query table definitions using the Web API", REFERENCE §9.3 D18): the Attributes collection gives
every column's common properties; a type's own properties need a cast (StringAttributeMetadata and
MemoAttributeMetadata for MaxLength; PicklistAttributeMetadata with ``$expand=OptionSet,GlobalOptionSet`` for the
options). Four requests, read once per process.

Privileges: RetrieveUserSetOfPrivilegesByNames, bound to the systemuser, returns those of the named privileges the
user holds "through their roles, and inherited privileges from their team membership" (its Web API reference;
"Verifying access in code" says the same of the ByName/ByIds messages). RetrieveUserPrivileges is not used for
this: Microsoft's pages disagree on whether it includes team-inherited privileges.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from leads.core.lead_columns import Column, LeadColumns

ATTRIBUTES = "EntityDefinitions(LogicalName='lead')/Attributes"
COMMON = f"{ATTRIBUTES}?$select=LogicalName,AttributeType,AttributeTypeName,IsValidForCreate"
CASTS = (
    f"{ATTRIBUTES}/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength",
    f"{ATTRIBUTES}/Microsoft.Dynamics.CRM.MemoAttributeMetadata?$select=LogicalName,MaxLength",
    f"{ATTRIBUTES}/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet",
)


def privileges_path(user_id: str, names: Iterable[str]) -> str:
    """The function call, with the names as a JSON array in a parameter alias (as Microsoft's examples pass a
    collection of strings)."""
    array = quote(json.dumps(sorted(set(names)), separators=(",", ":")), safe="")
    function = "Microsoft.Dynamics.CRM.RetrieveUserSetOfPrivilegesByNames(PrivilegeNames=@p)"
    return f"systemusers({user_id})/{function}?@p={array}"


def held(answer: dict[str, Any]) -> set[str]:
    return {str(item.get("PrivilegeName", "")) for item in answer.get("RolePrivileges", [])}


def lead_columns(common: list[dict[str, Any]], casts: Iterable[list[dict[str, Any]]]) -> LeadColumns:
    """The answers' ``value`` lists → the lead table's columns."""
    extra: dict[str, dict[str, Any]] = {}
    for rows in casts:
        for row in rows:
            extra.setdefault(str(row.get("LogicalName")), {}).update(row)
    columns = {}
    for row in common:
        name = str(row.get("LogicalName"))
        more = extra.get(name, {})
        type_name = row.get("AttributeTypeName") or {}
        columns[name] = Column(
            name=name,
            kind=str(row.get("AttributeType") or ""),
            valid_for_create=bool(row.get("IsValidForCreate", True)),
            max_length=more.get("MaxLength"),
            options=_options(more),
            type_name=str(type_name.get("Value", "")) if isinstance(type_name, dict) else "",
        )
    return LeadColumns(columns)


def _options(row: dict[str, Any]) -> dict[int, str]:
    for option_set in (row.get("OptionSet"), row.get("GlobalOptionSet")):
        if isinstance(option_set, dict) and option_set.get("Options"):
            return {int(option["Value"]): _label(option) for option in option_set["Options"]}
    return {}


def _label(option: dict[str, Any]) -> str:
    label = (option.get("Label") or {}).get("UserLocalizedLabel") or {}
    return str(label.get("Label") or option.get("Value"))
