"""The lead table's columns as the publisher's Dynamics describes them (Web API
``EntityDefinitions(LogicalName='lead')/Attributes``: type, IsValidForCreate, MaxLength, option values), and
whether a value would be accepted in one when a lead is created. Pure, no I/O: the Dataverse adapter reads the
definitions, ``check`` and ``route`` judge the routing rules' columns with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TEXT = ("String", "Memo")
CHOICES = ("Picklist", "State", "Status")
LOOKUPS = ("Lookup", "Customer", "Owner")
_NUMBERS = {"Integer": "a whole number", "BigInt": "a whole number", "Double": "a number", "Decimal": "a number",
            "Money": "a number"}  # fmt: skip


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # AttributeType: String, Memo, Picklist, Boolean, Integer, DateTime, Lookup…
    valid_for_create: bool = True
    max_length: int | None = None  # text columns (String, Memo)
    options: Mapping[int, str] = field(default_factory=dict)  # choice columns: value → label
    type_name: str = ""  # AttributeTypeName (MultiSelectPicklistType, ImageType…)

    def option_list(self) -> str:
        return ", ".join(f"{value} = {label}" for value, label in self.options.items()) or "none"


@dataclass(frozen=True)
class LeadColumns:
    """Every column of the organisation's lead table, by logical name."""

    columns: Mapping[str, Column]

    def get(self, name: str) -> Column | None:
        return self.columns.get(name)


@dataclass(frozen=True)
class Misfit:
    """Why Dynamics would refuse a value (``why``), and what to do about it (``fix``)."""

    why: str
    fix: str


def misfit(column: Column | None, value: Any, longest: int | None = None) -> Misfit | None:
    """Why Dynamics would refuse ``value`` in ``column`` when creating a lead, or None when it fits. For a
    template, ``longest`` is the most characters it can make (a literal counts its own)."""
    if column is None:
        return Misfit("is not a column of your organisation's lead table", "create the column on the lead table in "
                      "Dynamics first (see README, Routing: your own columns), or correct the name")  # fmt: skip
    if not column.valid_for_create:
        return Misfit("cannot be set when a lead is created (IsValidForCreate is false)", "leave it out of the rule")
    if column.kind in LOOKUPS or column.kind not in (*TEXT, *CHOICES, *_NUMBERS, "Boolean", "DateTime"):
        what = "a lookup" if column.kind in LOOKUPS else f"of type {column.type_name or column.kind}"
        return Misfit(f"is {what}, which a rule cannot set as a column",
                      "owners and campaigns have keys of their own (owner_user, owner_team, campaign, campaign_code); "
                      "leave this one out")  # fmt: skip
    if column.kind in CHOICES:
        return _choice_misfit(column, value)
    if column.kind in TEXT:
        return _text_misfit(column, value, longest)
    if column.kind == "Boolean":
        return None if isinstance(value, bool) else Misfit("is yes/no", "write true or false, without quotes")
    if column.kind == "DateTime":
        return None if isinstance(value, str) else Misfit("is a date", 'write it as text, e.g. "{received}"')
    number = _NUMBERS[column.kind]
    if isinstance(value, bool) or not isinstance(value, int if number == "a whole number" else (int, float)):
        return Misfit(f"is {number} ({column.kind})", f"write {number}, without quotes")
    return None


def _choice_misfit(column: Column, value: Any) -> Misfit | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return Misfit("is a choice", f"give the option's whole number value ({column.option_list()})")
    if column.options and value not in column.options:
        return Misfit(f"has no option {value}", f"use one of {column.option_list()}, or add the option in Dynamics")
    return None


def _text_misfit(column: Column, value: Any, longest: int | None) -> Misfit | None:
    if not isinstance(value, str):
        return Misfit("is text", "write the value in quotes")
    most = text_length(value) if longest is None else longest
    if column.max_length is not None and most > column.max_length:
        made = "the template can make" if longest is not None else "the value has"
        return Misfit(
            f"holds at most {column.max_length} characters and {made} {most}",
            f"raise the column's maximum length to {most} in Dynamics, or shorten the value",
        )
    return None


def text_length(value: str) -> int:
    """Length as Dataverse counts it: UTF-16 code units (a character outside the BMP, an emoji, takes two)."""
    return len(value.encode("utf-16-le")) // 2
