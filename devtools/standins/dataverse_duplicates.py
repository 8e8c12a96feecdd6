"""Duplicate detection in the Dataverse stand-in: the organisation's published duplicate detection rules for leads,
applied to a create or an update that asks for it (``MSCRM.SuppressDuplicateDetection: false``), and the
``RetrieveDuplicates`` function.

Confirmed (Microsoft's "Detect duplicate data using the Web API", "Use optional parameters", "Run duplicate
detection", "Duplicate rule tables"): detection is suppressed for Web API creates and updates unless that header is
``false``; a duplicate is refused with code ``0x80040333`` and "A record was not created or updated because a
duplicate of the current record already exists."; the pages disagree on the status (500 in the first, 412 in the
second, dated 2025: the stand-in answers ``status``, 412 unless told); Dataverse ships default rules for leads (and
the reference's example rule compares ``emailaddress1``); a rule's ``ExcludeInactiveRecords`` is false by default,
so closed leads count too; RetrieveDuplicates takes the record (``BusinessEntity``), the matching table's logical name
and paging, and answers the matching records. Microsoft's own examples write the parameter values with single quotes
(``{'@odata.type':…}``); both quotings are read here.
Inferred [U]: that the default "Leads with the same e-mail address" rule is published in a new organisation (the
stand-in starts with it; tests change ``rules``), blank values never matching, exact matches ignoring case, and
duplicate detection applying to a PATCH upsert that creates as it does to a POST.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .dataverse_responses import DataverseError
from .messages import Request

DUPLICATE_CODE = "0x80040333"
DUPLICATE_MESSAGE = "A record was not created or updated because a duplicate of the current record already exists."
RETRIEVE_DUPLICATES = "RetrieveDuplicates(BusinessEntity=@p1,MatchingEntityName=@p2,PagingInfo=@p3)"


@dataclass(frozen=True)
class DuplicateRule:
    """A published rule with lead as both base and matching table: every column equal (ignoring case, blanks never
    match)."""

    name: str
    columns: tuple[str, ...]
    exclude_inactive: bool = False

    def matches(self, record: dict[str, Any], other: dict[str, Any]) -> bool:
        if self.exclude_inactive and other.get("statecode", 0) != 0:
            return False
        return all(_text(record.get(column)) and _text(record.get(column)) == _text(other.get(column))
                   for column in self.columns)  # fmt: skip


DEFAULT_RULES = (DuplicateRule("Leads with the same e-mail address", ("emailaddress1",)),)


class DuplicateDetection:
    def __init__(self) -> None:
        self.rules: tuple[DuplicateRule, ...] = DEFAULT_RULES
        self.status = 412

    def reset(self) -> None:
        self.rules, self.status = DEFAULT_RULES, 412

    def configure(self, rules: list[dict[str, Any]] | None = None, status: int | None = None) -> None:
        if rules is not None:
            self.rules = tuple(
                DuplicateRule(str(rule["name"]), tuple(rule["columns"]), bool(rule.get("exclude_inactive", False)))
                for rule in rules
            )
        if status is not None:
            self.status = status

    def wanted(self, request: Request) -> bool:
        return request.header("mscrm.suppressduplicatedetection").strip().lower() == "false"

    def duplicates(self, record: dict[str, Any], leads: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The leads any published rule matches for ``record`` (never the record itself)."""
        own = str(record.get("leadid") or "").lower()
        return [
            lead
            for lead in leads
            if str(lead.get("leadid")).lower() != own and any(rule.matches(record, lead) for rule in self.rules)
        ]

    def refuse_duplicates(self, record: dict[str, Any], leads: Iterable[dict[str, Any]]) -> None:
        if self.duplicates(record, leads):
            raise DataverseError(self.status, DUPLICATE_CODE, DUPLICATE_MESSAGE)


def business_entity(request: Request) -> tuple[dict[str, Any], str]:
    """RetrieveDuplicates' record (``@p1``) and matching table (``@p2``), as the URL's parameter aliases give them."""
    record = _json_parameter(request.param("@p1"), "@p1")
    matching = str(request.param("@p2") or "").strip()
    if not (matching.startswith("'") and matching.endswith("'")) or not isinstance(record, dict):
        raise DataverseError(400, "0x80060888", "The parameters of RetrieveDuplicates could not be read.")
    return record, matching.strip("'")


def _json_parameter(value: str | None, name: str) -> Any:
    text = value or ""
    for attempt in (text, text.replace("'", '"')):
        try:
            return json.loads(attempt)
        except ValueError:
            continue
    raise DataverseError(400, "0x80060888", f"The parameter alias '{name}' is not a valid JSON value.")


def _text(value: Any) -> str:
    return value.strip().casefold() if isinstance(value, str) else ""
