"""The lead's columns as the Dataverse stand-in checks them: which exist, their types, lengths and option sets,
and the ``leadid`` key. Errors are Dataverse's 400s (``0x80048d19`` payload, ``0x80060888`` unknown property,
``0x80044331`` validation).

LEAD_COLUMNS deliberately repeats the lengths leads/core/mapping.py knows instead of importing them: it describes
Dataverse, not the app.
"""

from __future__ import annotations

import re
from typing import Any

from .dataverse_records import Records
from .dataverse_responses import DataverseError
from .messages import Request

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
GUID = r"\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?"


def lead_values(request: Request, key: str | None, custom_columns: set[str], records: Records) -> dict[str, Any]:
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
        elif name in custom_columns:
            values[name] = value
        else:
            _check_type(name, value)
            values[name] = value
    return values | records.lookups(binds)


def _payload(request: Request) -> dict[str, Any]:
    try:
        payload = request.json()
    except ValueError:
        raise DataverseError(
            400,
            "0x80048d19",
            "Error identified in Payload provided by the user for Entity :'leads', For more information on this "
            "error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> "
            "InnerException : Microsoft.OData.ODataException: Invalid JSON. The payload could not be read.",
        ) from None
    if not isinstance(payload, dict):
        raise DataverseError(400, "0x80048d19", "Error identified in Payload provided by the user for Entity :'leads'.")
    return payload


def _lead_id(value: Any, key: str | None) -> str:
    if not isinstance(value, str) or not re.fullmatch(GUID, value):
        raise DataverseError(
            400, "0x80048d19", f"Cannot convert the literal '{value}' to the expected type 'Edm.Guid'."
        )
    if key is not None and value.strip("{}").lower() != key:
        raise DataverseError(400, "0x80048d19", "The leadid in the payload does not match the key in the URL.")
    return value.strip("{}").lower()


def _check_type(name: str, value: Any) -> None:
    if name not in LEAD_COLUMNS:
        raise DataverseError(
            400, "0x80060888", f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.lead'."
        )
    if value is None:
        return
    expected = "Edm.Int32" if LEAD_COLUMNS[name] is None else "Edm.String"
    if isinstance(value, bool) or not isinstance(value, int if expected == "Edm.Int32" else str):
        raise DataverseError(
            400,
            "0x80048d19",
            f"Cannot convert a primitive value to the expected type '{expected}' for property '{name}'.",
        )


def check_lengths(values: dict[str, Any]) -> None:
    """String lengths and option set values, checked when the row is written."""
    for name, value in values.items():
        limit = LEAD_COLUMNS.get(name)
        if limit is not None and isinstance(value, str) and len(value) > limit:
            raise DataverseError(
                400,
                "0x80044331",
                f"A validation error occurred. The length of the '{name}' attribute of the 'lead' entity exceeded "
                f"the maximum allowed length of '{limit}'.",
            )
    for option_set, codes in OPTION_SETS.items():
        code = values.get(option_set)
        if code is not None and code not in codes:
            accepted = ",".join(str(number) for number in codes)
            raise DataverseError(
                400,
                "0x80044331",
                f"A validation error occurred. The value {code} of '{option_set}' on record of type 'lead' is "
                f"outside the valid range. Accepted Values: {accepted}",
            )
