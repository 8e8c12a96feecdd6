"""The columns routing rules set, judged against the organisation's lead table (core/lead_columns.py): for `check`
(every rule, a template at its longest) and `route` (one lead's actual values). Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leads.core.lead_columns import TEXT, LeadColumns, Misfit, misfit, text_length
from leads.core.mapping import COLUMN_LENGTHS, LEAD_SOURCE_WEB
from leads.core.routing import RoutingRules, Rule, longest


@dataclass(frozen=True)
class Verdict:
    rule: Rule | None
    key: str  # as the rules file writes it: "columns.new_offerid", "leadsourcecode"
    column: str
    problem: Misfit | None
    detail: str = ""  # what was checked, when it fits

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def name(self) -> str:
        return f"{self.rule.label} {self.key}" if self.rule is not None else self.key


def rule_verdicts(rules: RoutingRules, table: LeadColumns) -> list[Verdict]:
    """One verdict per column each rule sets; a template is judged at its longest."""
    verdicts = []
    for rule, key, name, value in rules.columns():
        most = longest(value) if isinstance(value, str) else None
        verdicts.append(Verdict(rule, key, name, misfit(table.get(name), value, most), _fits(table, name, value, most)))
    return verdicts


def value_verdicts(rule: Rule | None, columns: dict[str, Any], table: LeadColumns) -> list[Verdict]:
    """One lead's column values (what routing put in its body) against the table."""
    return [
        Verdict(rule, key_of(name), name, misfit(table.get(name), value), _fits(table, name, value, None))
        for name, value in columns.items()
    ]


def app_problems(table: LeadColumns) -> list[str]:
    """What in the organisation's lead table would refuse the columns the app fills from every lead."""
    problems = []
    for name, length in COLUMN_LENGTHS.items():
        column = table.get(name)
        if column is None or not column.valid_for_create or column.kind not in TEXT:
            problems.append(f"{name} is missing, read-only or not text: the app writes every lead's {name}")
        elif column.max_length is not None and column.max_length < length:
            problems.append(
                f"{name} holds {column.max_length} characters and the app writes up to {length}: raise its maximum "
                f"length to {length} in Dynamics, or leads with longer values fail"
            )
    source = table.get("leadsourcecode")
    if source is None or (source.options and LEAD_SOURCE_WEB not in source.options):
        problems.append(f"leadsourcecode has no option {LEAD_SOURCE_WEB} (Web), which the app sets on every lead "
                        "unless a rule sets leadsourcecode")  # fmt: skip
    return problems


def key_of(column: str) -> str:
    """The rules file's key for a column routing sets."""
    return column if column in ("leadsourcecode", "leadqualitycode") else f"columns.{column}"


def _fits(table: LeadColumns, name: str, value: Any, most: int | None) -> str:
    column = table.get(name)
    if column is None:
        return ""
    if column.kind in TEXT and column.max_length is not None:
        made = f"the template makes at most {most}" if most is not None else f"{text_length(str(value))} here"
        return f"text of up to {column.max_length} characters; {made}"
    if column.options and value in column.options:
        return f"option {value} = {column.options[value]}"
    return f"{column.kind.lower()} column"
