"""The OData query options the Dataverse stand-in understands: which options an entity set accepts (others are
a 501 naming them), the ``Prefer`` annotations, and ``$filter`` with ``eq``/``ne``/``gt``/``ge``/``lt``/``le``,
``and``/``or``, parentheses, string literals whose ``'`` is doubled, and bare GUID and date-time literals
(``createdon ge 2026-09-01T00:00:00Z``). A filter that does not parse is a 400 ``0x80060888`` "Syntax error…";
string comparisons ignore case, as Dataverse's default collation; date-times compare as the ISO text they are
stored as (all UTC, ``Z``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from .dataverse_responses import DataverseError
from .messages import Request

Predicate = Callable[[dict[str, Any]], bool]
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# A GUID literal is written bare (``_objectid_value eq 5d0c…``), as the Web API takes it.
_DATETIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z"
_TOKEN = re.compile(
    rf"\s*(?:(\()|(\))|'((?:[^']|'')*)'|({_DATETIME})|({_GUID})\b|(-?\d+(?:\.\d+)?)\b|([A-Za-z_][\w.]*))"
)
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
}  # fmt: skip


def query_options(request: Request, entity_set: str, accepted: Sequence[str]) -> dict[str, str | None]:
    """The ``accepted`` options' values (None when absent); a 501 for any other option."""
    unsupported = sorted(name for name in request.query if name not in accepted)
    if unsupported:
        raise DataverseError(501, "", f"The stand-in does not implement {', '.join(unsupported)} on {entity_set}.")
    top = request.param("$top")
    if top is not None and not top.isdigit():  # Dataverse answers 400 for a $top that is not a whole number
        raise DataverseError(400, "0x80060888", f"Invalid value '{top}' for $top query option found.")
    return {name: request.param(name) for name in accepted}


def wants_annotations(request: Request) -> bool:
    """Whether ``Prefer: odata.include-annotations`` asks for the lookups' logical names."""
    return "lookuplogicalname" in request.header("prefer") or '"*"' in request.header("prefer")


def parse_filter(text: str) -> Predicate:
    """``a eq 'x' and (b eq 1 or c ne null)`` → a predicate over a row; DataverseError for what does not parse."""
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
        opened, closed, literal, moment, guid, number, word = match.groups()
        if opened or closed:
            tokens.append(("paren", opened or closed))
        elif moment is not None:
            # stored as the stand-in writes createdon: whole seconds, Z
            at = datetime.fromisoformat(moment.replace("Z", "+00:00"))
            tokens.append(("value", at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
        elif literal is not None:
            tokens.append(("value", literal.replace("''", "'")))
        elif guid is not None:
            tokens.append(("value", guid.lower()))
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
    if kinds != ["word", "word", "value"] or operator not in ("eq", "ne", *_ORDER):
        raise _syntax(" ".join(str(value) for _, value in tokens[:3]))
    column, negate, expected = tokens[0][1], operator == "ne", tokens[2][1]
    if operator in _ORDER:
        compare = _ORDER[operator]

        def ordered(row: dict[str, Any]) -> bool:
            actual = row.get(column)
            return (
                actual is not None
                and expected is not None
                and type(actual) is type(expected)
                and compare(actual, expected)
            )

        return ordered, tokens[3:]

    def holds(row: dict[str, Any]) -> bool:
        actual = row.get(column)
        same = (
            actual.lower() == expected.lower()
            if isinstance(actual, str) and isinstance(expected, str)
            else actual == expected
        )
        return same != negate

    return holds, tokens[3:]


def _syntax(near: str) -> DataverseError:
    return DataverseError(400, "0x80060888", f"Syntax error at position 0 in '{near}'.")
