"""The Dataverse stand-in's other tables: contacts, accounts, systemusers, teams and campaigns, queried as the Web
API does (``$filter`` with ``eq``/``ne``, ``and``/``or``, parentheses and string literals whose ``'`` is doubled,
``$select``, ``$top``), and the lookups a lead can bind to them (``ownerid@odata.bind`` and the like).

Errors follow Dataverse: a bind to a record that does not exist is a 400 ``0x80040217`` "<table> With Id = <id>
Does Not Exist"; a navigation property the lead does not have is a 400 ``0x80060888``; a filter that does not
parse is a 400 ``0x80060888`` "Syntax error…". String comparisons ignore case, as Dataverse's default collation.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

# entity set → (primary key, logical name, the privilege reading it needs)
TABLES = {
    "contacts": ("contactid", "contact", "prvReadContact"),
    "accounts": ("accountid", "account", "prvReadAccount"),
    "systemusers": ("systemuserid", "systemuser", "prvReadUser"),
    "teams": ("teamid", "team", "prvReadTeam"),
    "campaigns": ("campaignid", "campaign", "prvReadCampaign"),
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
_TOKEN = re.compile(r"\s*(?:(\()|(\))|'((?:[^']|'')*)'|(-?\d+(?:\.\d+)?)\b|([A-Za-z_][\w.]*))")

Predicate = Callable[[dict[str, Any]], bool]


class RecordError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


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


def parse_filter(text: str) -> Predicate:
    """``a eq 'x' and (b eq 1 or c ne null)`` → a predicate over a row; RecordError for what does not parse."""
    tokens = _tokens(text)
    predicate, rest = _or(tokens)
    if rest:
        raise _syntax(text)
    return predicate


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _syntax(text)
        opened, closed, literal, number, word = match.groups()
        if opened or closed:
            tokens.append(("paren", opened or closed))
        elif literal is not None:
            tokens.append(("value", literal.replace("''", "'")))
        elif number is not None:
            tokens.append(("value", float(number) if "." in number else int(number)))
        elif word in ("true", "false", "null"):
            tokens.append(("value", {"true": True, "false": False, "null": None}[word]))
        else:
            tokens.append(("word", word))
        position = match.end()
    return tokens


def _or(tokens: list[tuple[str, Any]]) -> tuple[Predicate, list[tuple[str, Any]]]:
    left, rest = _and(tokens)
    while rest[:1] == [("word", "or")]:
        right, rest = _and(rest[1:])
        left = (lambda a, b: lambda row: a(row) or b(row))(left, right)
    return left, rest


def _and(tokens: list[tuple[str, Any]]) -> tuple[Predicate, list[tuple[str, Any]]]:
    left, rest = _comparison(tokens)
    while rest[:1] == [("word", "and")]:
        right, rest = _comparison(rest[1:])
        left = (lambda a, b: lambda row: a(row) and b(row))(left, right)
    return left, rest


def _comparison(tokens: list[tuple[str, Any]]) -> tuple[Predicate, list[tuple[str, Any]]]:
    if tokens[:1] == [("paren", "(")]:
        inner, rest = _or(tokens[1:])
        if rest[:1] != [("paren", ")")]:
            raise _syntax("missing ')'")
        return inner, rest[1:]
    kinds = [kind for kind, _ in tokens[:3]]
    operator = str(tokens[1][1]) if len(tokens) > 1 else ""
    if kinds != ["word", "word", "value"] or operator not in ("eq", "ne"):
        raise _syntax(" ".join(str(value) for _, value in tokens[:3]))
    column, negate, expected = tokens[0][1], operator == "ne", tokens[2][1]

    def holds(row: dict[str, Any]) -> bool:
        actual = row.get(column)
        same = (
            actual.lower() == expected.lower()
            if isinstance(actual, str) and isinstance(expected, str)
            else actual == expected
        )
        return same != negate

    return holds, tokens[3:]


def _syntax(near: str) -> RecordError:
    return RecordError(400, "0x80060888", f"Syntax error at position 0 in '{near}'.")
