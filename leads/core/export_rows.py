"""Partner Center's lead export and Microsoft's Azure Table destination, read as a lead's fields. Pure: no I/O.

The export's exact column headers are not documented (REFERENCE.md §8.4), so headers are matched leniently: case,
spaces and punctuation are ignored and each field has its synonyms. ``--column HEADER=field`` settles the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leads.core.errors import ExportUnreadable

# field → header synonyms, written as they might appear (normalised before comparing). First match wins.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "first_name": ("First name", "Given name", "Customer first name", "Contact first name"),
    "last_name": ("Last name", "Surname", "Family name", "Customer last name", "Contact last name"),
    "full_name": ("Name", "Full name", "Customer name", "Contact name", "Lead name"),
    "email": ("Email", "Email address", "E-mail", "Mail", "Customer email", "Contact email"),
    "phone": ("Phone", "Phone number", "Telephone", "Customer phone", "Contact phone"),
    "country": ("Country", "Country/region", "Country or region", "Customer country"),
    "company": ("Company", "Company name", "Organization", "Organisation", "Organization name"),
    "title": ("Title", "Job title", "Customer title"),
    "offer": ("Offer", "Offer title", "Offer name", "Offer display name", "Product", "Product name"),
    "lead_source": ("Lead source", "Source", "Referral source"),
    "action": ("Call to action", "Action", "Action code", "CTA"),
    "description": ("Description", "Comments", "Notes", "Message", "Customer comments"),
    "created": (
        "Created",
        "Lead creation date time",
        "Lead creation date",
        "Creation date",
        "Created time",
        "Created on",
        "Created date",
        "Created at",
        "Date created",
        "Date",
    ),
}
FIELDS = tuple(SYNONYMS)
REQUIRED = ("email", "offer", "created")  # without these a row can be neither matched nor kept honestly

# Microsoft's Azure Table destination: column (lower-cased) → field; CustomerInfo holds the contact as JSON.
TABLE_COLUMNS = {
    "offerdisplayname": "offer",
    "offertitle": "offer",
    "leadsource": "lead_source",
    "actioncode": "action",
    "description": "description",
    "createdtime": "created",
}
CUSTOMER_INFO = {
    "firstname": "first_name",
    "lastname": "last_name",
    "email": "email",
    "phone": "phone",
    "country": "country",
    "company": "company",
    "title": "title",
}


def normalise_header(header: str) -> str:
    """``"Country/region "`` → ``"countryregion"``: case, spaces and punctuation do not count."""
    return re.sub(r"[\W_]+", "", header.casefold())


_LOOKUP = {normalise_header(synonym): field for field, synonyms in SYNONYMS.items() for synonym in synonyms}


@dataclass(frozen=True)
class ColumnMap:
    """Which column (by index) holds each field, and the headers as the file has them."""

    headers: tuple[str, ...]
    columns: dict[str, int]

    @property
    def unused(self) -> list[str]:
        used = set(self.columns.values())
        return [header for index, header in enumerate(self.headers) if index not in used and header.strip()]

    def describe(self) -> str:
        """``email ← "Email address", …``: for the report (headers only, never a row's content)."""
        return ", ".join(f'{field} ← "{self.headers[index]}"' for field, index in self.columns.items())

    def fields(self, values: Sequence[str]) -> dict[str, str]:
        return {field: values[index].strip() for field, index in self.columns.items() if index < len(values)}


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``["Mail=email"]`` → ``{"mail": "email"}`` (header normalised); ExportUnreadable naming a wrong one."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        header, sep, field = pair.rpartition("=")
        field = field.strip().lower()
        field = field if field == "-" else field.replace("-", "_").replace(" ", "_")
        if not sep or not header.strip():
            raise ExportUnreadable(f'--column {pair!r}: write it as HEADER=field, e.g. --column "Mail=email"')
        if field not in FIELDS and field != "-":
            raise ExportUnreadable(f"--column {pair!r}: {field!r} is not a field; use one of {', '.join(FIELDS)}")
        overrides[normalise_header(header)] = field
    return overrides


def map_columns(headers: Sequence[str], overrides: Mapping[str, str] | None = None) -> ColumnMap:
    """Match the header row to the fields; ExportUnreadable naming the missing fields and the headers found.
    ``overrides`` (from ``parse_overrides``) win; a field of ``-`` ignores that column."""
    overrides = overrides or {}
    found = [normalise_header(header) for header in headers]
    unknown = [header for header in overrides if header not in found]
    if unknown:
        raise ExportUnreadable(
            f"--column names a header the file does not have ({', '.join(unknown)}). {_found(headers)}"
        )
    columns: dict[str, int] = {}
    for index, name in enumerate(found):
        field = overrides.get(name, _LOOKUP.get(name))
        if field and field != "-" and (field not in columns or name in overrides):
            columns[field] = index
    missing = [field for field in REQUIRED if field not in columns]
    if missing:
        wanted = "; ".join(f"{field} (e.g. {', '.join(SYNONYMS[field][:3])})" for field in missing)
        raise ExportUnreadable(
            f"cannot tell which column holds: {wanted}. {_found(headers)}. "
            'Name the column with --column, e.g. --column "Contact mail=email"'
        )
    return ColumnMap(tuple(headers), dict(sorted(columns.items(), key=lambda item: item[1])))


def table_entity_fields(entity: Mapping[str, Any]) -> dict[str, str]:
    """A row of Microsoft's Azure Table destination → fields. Column names in any case; unknown columns ignored;
    CustomerInfo is a JSON object (a value that is not one leaves the contact empty)."""
    fields: dict[str, str] = {}
    customer_info: Any = None
    for column, value in entity.items():
        name = column.casefold()
        if name == "customerinfo":
            customer_info = value
        elif name in TABLE_COLUMNS and TABLE_COLUMNS[name] not in fields and value is not None:
            fields[TABLE_COLUMNS[name]] = _text(value)
    try:
        contact = json.loads(customer_info) if isinstance(customer_info, str) else customer_info
    except ValueError:
        contact = None
    if isinstance(contact, dict):
        for key, value in contact.items():
            field = CUSTOMER_INFO.get(str(key).casefold())
            if field and value is not None:
                fields[field] = _text(value)
    return fields


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else value.isoformat() if hasattr(value, "isoformat") else str(value)


def _found(headers: Sequence[str]) -> str:
    shown = ", ".join(f'"{header}"' for header in headers if header.strip()) or "none"
    return f"Headers found: {shown}"
