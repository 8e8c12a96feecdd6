"""Routing rules: which rule a lead matches, and what that rule asks for. Pure, no I/O.

The rules come from the TOML file LEAD_ROUTING_FILE names (parsed and checked in leads.core.routing_rules). The
first rule whose conditions all hold wins; a rule without conditions matches every lead (the default, last).
What a rule names in Dynamics (a user, a team, a campaign) is a ``Lookup``: the steps resolve it to an id.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Literal

from leads.core import campaign
from leads.core.mapping import SOURCE_NAMES
from leads.core.payload import Lead, cut

LookupKind = Literal["user", "team", "campaign_name", "campaign_code"]
# Fields a column template may use: "{offer_id}". Personal fields have columns of their own and are left out.
TEMPLATE_FIELDS = (
    "lead_id", "offer_id", "offer_title", "action", "source", "lead_source", "country", "company", "received",
    "is_test", *campaign.COLUMNS,
)  # fmt: skip
# The most characters each field puts into a column (longer values are cut), so a template's longest result is
# known before any lead arrives: `check` compares it with the column's maximum length. Marketplace offer ids are
# short (publisher.offer); titles and names get the lengths their own Dynamics columns have.
TEMPLATE_LIMITS = {
    "lead_id": 32, "offer_id": 100, "offer_title": 300, "action": 100, "source": 100, "lead_source": 300,
    "country": 80, "company": 100, "received": 25, "is_test": 5,
    **dict.fromkeys(campaign.COLUMNS, campaign.MAX_VALUE_CHARS),
}  # fmt: skip


@dataclass(frozen=True)
class Lookup:
    """A record a rule names by a value people can read; Dataverse knows it by id."""

    kind: LookupKind
    value: str

    @property
    def entity_set(self) -> str:
        return {"user": "systemusers", "team": "teams"}.get(self.kind, "campaigns")

    def describe(self) -> str:
        return {
            "user": "user {!r}",
            "team": "team {!r}",
            "campaign_name": "campaign named {!r}",
            "campaign_code": "campaign with code {!r}",
        }[self.kind].format(self.value)


@dataclass(frozen=True)
class Conditions:
    """All given conditions must hold (values compared without regard to case); none given: every lead."""

    offer_id: tuple[str, ...] = ()  # globs over publisher.offer
    offer_title: tuple[str, ...] = ()  # globs
    action: tuple[str, ...] = ()
    source: tuple[str, ...] = ()  # "AppSource", "Azure Marketplace", or the LeadSource code ("AzureMarketplace")
    country: tuple[str, ...] = ()
    test: bool | None = None

    @property
    def always(self) -> bool:
        return self == Conditions()

    def hold_for(self, lead: Lead) -> bool:
        source = lead.lead_source.source.lower()
        checks = (
            _any_glob(self.offer_id, lead.lead_source.offer_id),
            _any_glob(self.offer_title, lead.offer_title),
            not self.action or lead.action.lower() in self.action,
            not self.source or bool({source, SOURCE_NAMES.get(source, source).lower()} & set(self.source)),
            not self.country or lead.contact.country.strip().lower() in self.country,
            self.test is None or lead.is_test == self.test,
        )
        return all(checks)


@dataclass(frozen=True)
class Rule:
    number: int  # 1-based, as people count the [[rules]] in the file
    name: str
    when: Conditions
    recipients: tuple[str, ...] = ()  # replace NOTIFY_TO for these leads; () keeps NOTIFY_TO
    owner: Lookup | None = None
    campaign: Lookup | None = None
    campaign_from_mktcmpid: bool = False  # the lead's mktcmpid names a campaign by its code
    leadsourcecode: int | None = None
    leadqualitycode: int | None = None
    columns: dict[str, Any] = field(default_factory=dict)  # logical name → literal, or a str template
    teams: str = ""  # the app setting holding this rule's Teams webhook URL (a secret); "": TEAMS_WEBHOOK_URL
    # DYNAMICS_DUPLICATES: a returning customer's open lead gets this rule's owner (default: it keeps its own)
    reassign_returning: bool = False

    @property
    def label(self) -> str:
        return f"rule {self.number}" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True)
class RoutingRules:
    rules: tuple[Rule, ...]

    def match(self, lead: Lead) -> Rule | None:
        return next((rule for rule in self.rules if rule.when.hold_for(lead)), None)

    def lookups(self) -> list[tuple[Rule, str, Lookup]]:
        """Every record the rules name, with the rule and the key naming it as the file writes it (for `check`)."""
        named = []
        for rule in self.rules:
            if rule.owner is not None:
                named.append((rule, f"owner_{rule.owner.kind}", rule.owner))
            if rule.campaign is not None:
                named.append((rule, "campaign" if rule.campaign.kind == "campaign_name" else "campaign_code",
                              rule.campaign))  # fmt: skip
        return named

    def columns(self) -> list[tuple[Rule, str, str, Any]]:
        """Every column the rules set: (rule, the key as the file writes it, the column, its value or template)."""
        found: list[tuple[Rule, str, str, Any]] = []
        for rule in self.rules:
            for name in ("leadsourcecode", "leadqualitycode"):
                if (code := getattr(rule, name)) is not None:
                    found.append((rule, name, name, code))
            found += [(rule, f"columns.{name}", name, value) for name, value in rule.columns.items()]
        return found

    @property
    def sets_campaigns(self) -> bool:
        return any(rule.campaign is not None or rule.campaign_from_mktcmpid for rule in self.rules)

    @property
    def assign_owners(self) -> bool:
        return any(rule.owner is not None for rule in self.rules)


@dataclass(frozen=True)
class Plan:
    """What routing asks for one lead, before anything is looked up in Dynamics."""

    rule: Rule | None
    campaign_parameters: Mapping[str, str]
    owner: Lookup | None = None
    mktcmpid_campaign: Lookup | None = None  # the campaign whose code is the lead's mktcmpid, when the rule asks
    columns: dict[str, Any] = field(default_factory=dict)

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.rule.recipients if self.rule is not None else ()

    @property
    def campaigns(self) -> tuple[Lookup, ...]:
        """In order of preference: the campaign that brought the lead (mktcmpid), then the rule's."""
        rule_campaign = self.rule.campaign if self.rule is not None else None
        return tuple(dict.fromkeys(c for c in (self.mktcmpid_campaign, rule_campaign) if c is not None))


def plan(rules: RoutingRules | None, lead: Lead, received_at: datetime) -> Plan:
    found = lead.campaign_parameters
    rule = rules.match(lead) if rules is not None else None
    if rule is None:
        return Plan(None, found)
    mktcmpid = found.get("mktcmpid", "")
    from_mktcmpid = Lookup("campaign_code", mktcmpid) if rule.campaign_from_mktcmpid and mktcmpid else None
    values = template_values(lead, received_at, found)
    columns = {name: render(value, values) if isinstance(value, str) else value for name, value in rule.columns.items()}
    for name in ("leadsourcecode", "leadqualitycode"):
        if (code := getattr(rule, name)) is not None:
            columns[name] = code
    return Plan(rule, found, rule.owner, from_mktcmpid, columns)


def template_values(lead: Lead, received_at: datetime, found: Mapping[str, str]) -> dict[str, str]:
    source = lead.lead_source.source
    values = {
        "lead_id": lead.lead_id,
        "offer_id": lead.lead_source.offer_id,
        "offer_title": lead.offer_title,
        "action": lead.action,
        "source": SOURCE_NAMES.get(source.lower(), source),
        "lead_source": lead.lead_source.raw,
        "country": lead.contact.country,
        "company": lead.contact.company,
        "received": received_at.isoformat(timespec="seconds"),
        "is_test": "true" if lead.is_test else "false",
    }
    return values | {name: found.get(name, "") for name in campaign.COLUMNS}


def template_problem(template: str) -> str | None:
    """Why ``template`` is not a valid column template, or None. Only ``{field}`` of TEMPLATE_FIELDS: no
    attribute access, index or format spec (the values come from the lead)."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"{exc} (write {{{{ and }}}} for literal braces)"
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            return f"{{{name}}} is not a field; use one of {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
    return None


def render(template: str, values: dict[str, str]) -> str:
    """The template with each ``{field}`` replaced (checked by template_problem when the rules were loaded), each
    value cut to its TEMPLATE_LIMITS length."""
    parts = string.Formatter().parse(template)
    return "".join(text + (cut(values.get(name, ""), TEMPLATE_LIMITS.get(name, 0)) if name else "")
                   for text, name, _, _ in parts)  # fmt: skip


def longest(template: str) -> int:
    """The most characters (UTF-16 code units) ``template`` can make: its text and each field at its limit."""
    parts = string.Formatter().parse(template)
    return sum(len(text.encode("utf-16-le")) // 2 + (TEMPLATE_LIMITS.get(name, 0) if name else 0)
               for text, name, _, _ in parts)  # fmt: skip


def _any_glob(patterns: tuple[str, ...], value: str) -> bool:
    return not patterns or any(fnmatchcase(value.strip().lower(), pattern) for pattern in patterns)
