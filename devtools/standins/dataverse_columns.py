"""The lead's columns as the Dataverse stand-in checks them: the standard columns of Microsoft's lead table
reference (dataverse_lead_attributes.py) plus a publisher's own (custom) columns, their types, lengths and option
values, and the ``leadid`` key.

Refusals, in Dataverse's words:
- an unknown property in the body: 400 ``0x80048d19`` "Error identified in Payload … The property 'x' does not
  exist on type 'Microsoft.Dynamics.CRM.lead'. …" (public reports; REFERENCE §9.3);
- a value of the wrong type: 400 ``0x80048d19`` "… Cannot convert the literal 'x' to the expected type
  'Edm.Int32'." (OData's words, which do not name the property: OData/odata.net issue 1900);
- a choice value outside its options: 400 ``0x8004431A`` "A validation error occurred. The value 99 of
  'leadsourcecode' on record of type 'lead' is outside the valid range. Accepted Values: 1,2,…" (the message is
  quoted in Microsoft's Project Operations docs and public reports; the code from public client code);
- text over MaxLength: 400 ``0x80044331`` "A validation error occurred. The length of the 'x' attribute of the
  'lead' entity exceeded the maximum allowed length of 'n'." (public reports).
Inferred [U]: a lookup's name sent as a plain value gets OData's "unexpected 'PrimitiveValue' node" refusal, and a
read-only column in a body is ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .dataverse_lead_attributes import LEAD_ATTRIBUTES, Attribute
from .dataverse_records import Records
from .dataverse_responses import DataverseError
from .messages import Request

# The columns a new lead row starts with (None until set): those the app maps a marketplace lead to.
LEAD_COLUMNS: dict[str, int | None] = {
    name: LEAD_ATTRIBUTES[name].max_length
    for name in ("subject", "firstname", "lastname", "emailaddress1", "telephone1", "companyname", "jobtitle",
                 "address1_country", "description", "leadsourcecode", "leadqualitycode")
}  # fmt: skip
OPTION_SETS = {name: range(1, len(LEAD_ATTRIBUTES[name].options) + 1) for name in ("leadsourcecode", "leadqualitycode")}
LEAD_SOURCE_CODES = OPTION_SETS["leadsourcecode"]
GUID = r"\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?"
PAYLOAD_ERROR = (
    "Error identified in Payload provided by the user for Entity :'leads', For more information on this error please "
    "follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : "
    "Microsoft.OData.ODataException: "
)
CHOICE_KINDS = ("Picklist", "State", "Status")
LOOKUP_KINDS = ("Lookup", "Customer", "Owner")
# AttributeType → the Edm type of its value in a body, and whether a JSON value has that type.
_EDM = {
    "String": "Edm.String", "Memo": "Edm.String", "EntityName": "Edm.String", "Picklist": "Edm.Int32",
    "State": "Edm.Int32", "Status": "Edm.Int32", "Integer": "Edm.Int32", "BigInt": "Edm.Int64",
    "Boolean": "Edm.Boolean", "Double": "Edm.Double", "Decimal": "Edm.Decimal", "Money": "Edm.Decimal",
    "DateTime": "Edm.DateTimeOffset", "Uniqueidentifier": "Edm.Guid", "Image": "Edm.Binary",
}  # fmt: skip


def payload_error(inner: str) -> DataverseError:
    return DataverseError(400, "0x80048d19", PAYLOAD_ERROR + inner)


def lead_values(
    request: Request, key: str | None, columns: Mapping[str, Attribute], records: Records
) -> dict[str, Any]:
    """The body's column values (``leadid`` lower-case, without braces) and its ``…@odata.bind`` lookups as
    ``_<navigation>_value`` columns; ``key`` is the leadid in the URL, None for a POST."""
    payload = _payload(request)
    binds = {name: value for name, value in payload.items() if name.endswith("@odata.bind")}
    values: dict[str, Any] = {}
    for name, value in payload.items():
        if (name == "@odata.type" and value == "Microsoft.Dynamics.CRM.lead") or name in binds:
            continue
        if name == "leadid":
            values[name] = _lead_id(value, key)
            continue
        attribute = columns.get(name)
        _check_type(attribute, name, value)
        if attribute is not None and attribute.valid_for_create:
            values[name] = value
    return values | records.lookups(binds)


def _payload(request: Request) -> dict[str, Any]:
    try:
        payload = request.json()
    except ValueError:
        raise payload_error("Invalid JSON. The payload could not be read.") from None
    if not isinstance(payload, dict):
        raise DataverseError(400, "0x80048d19", "Error identified in Payload provided by the user for Entity :'leads'.")
    return payload


def _lead_id(value: Any, key: str | None) -> str:
    if not isinstance(value, str) or not re.fullmatch(GUID, value):
        raise payload_error(f"Cannot convert the literal '{_literal(value)}' to the expected type 'Edm.Guid'.")
    if key is not None and value.strip("{}").lower() != key:
        raise DataverseError(400, "0x80048d19", "The leadid in the payload does not match the key in the URL.")
    return value.strip("{}").lower()


def _check_type(attribute: Attribute | None, name: str, value: Any) -> None:
    if attribute is None:
        raise payload_error(
            f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.lead'. Make sure to only use "
            "property names that are defined by the type or mark the type as open type."
        )
    if attribute.kind in LOOKUP_KINDS:
        raise payload_error(
            "An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. A 'StartObject' node "
            "was expected."
        )
    if value is None or _has_type(attribute.kind, value):
        return
    edm = _EDM.get(attribute.kind, "Edm.String")
    raise payload_error(f"Cannot convert the literal '{_literal(value)}' to the expected type '{edm}'.")


def _has_type(kind: str, value: Any) -> bool:
    edm = _EDM.get(kind, "Edm.String")
    if isinstance(value, bool):
        return edm == "Edm.Boolean"
    if edm in ("Edm.Int32", "Edm.Int64"):
        return isinstance(value, int)
    if edm in ("Edm.Double", "Edm.Decimal"):
        return isinstance(value, (int, float))
    if not isinstance(value, str):
        return False
    if edm == "Edm.Guid":
        return re.fullmatch(GUID, value) is not None
    if edm == "Edm.DateTimeOffset":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
    return edm != "Edm.Boolean"


def _literal(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def check_values(values: dict[str, Any], columns: Mapping[str, Attribute]) -> None:
    """String lengths and choice values, checked when the row is written."""
    for name, value in values.items():
        attribute = columns.get(name)
        if attribute is None or value is None:
            continue
        limit = attribute.max_length
        if limit is not None and isinstance(value, str) and len(value.encode("utf-16-le")) // 2 > limit:
            raise DataverseError(
                400,
                "0x80044331",
                f"A validation error occurred. The length of the '{name}' attribute of the 'lead' entity exceeded "
                f"the maximum allowed length of '{limit}'.",
            )
        if attribute.kind in CHOICE_KINDS and value not in attribute.options:
            accepted = ",".join(str(number) for number in attribute.options)
            raise DataverseError(
                400,
                "0x8004431A",
                f"A validation error occurred. The value {value} of '{name}' on record of type 'lead' is outside the "
                f"valid range. Accepted Values: {accepted}",
            )
