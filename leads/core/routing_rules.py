"""Reading a routing rules document (the TOML file, already parsed by ``tomllib``) into RoutingRules, with every
problem named by rule number and key. Pure, no I/O.

Why TOML: it is read by the standard library (no new dependency), takes comments (a rules file is reviewed), and
its ``[[rules]]`` array of tables keeps the order that first-match-wins depends on. A later key for a rule (a Teams
webhook, say) is one entry in RULE_KEYS and one field of Rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from leads.core.addresses import is_email_address, parse_addresses
from leads.core.mapping import COLUMN_LENGTHS
from leads.core.routing import Conditions, Lookup, RoutingRules, Rule, template_problem

CONDITION_KEYS = ("offer_id", "offer_title", "action", "source", "country", "test")
RULE_KEYS = (
    "name",
    "when",
    "recipients",
    "owner_user",
    "owner_team",
    "campaign",
    "campaign_code",
    "campaign_from_mktcmpid",
    "leadsourcecode",
    "leadqualitycode",
    "columns",
    "teams",
    "reassign_returning",
)
TOP_KEYS = ("rules", "campaign_from_mktcmpid")
# Columns the app fills itself, or that a rule sets with its own key.
RESERVED_COLUMNS = {
    **dict.fromkeys(COLUMN_LENGTHS, "the app fills it from the lead"),
    "leadsourcecode": "use the rule's leadsourcecode key",
    "leadqualitycode": "use the rule's leadqualitycode key",
    "ownerid": "use owner_user or owner_team",
    "campaignid": "use campaign or campaign_code",
    "parentcontactid": "set DYNAMICS_LINK_CONTACTS=true",
    "parentaccountid": "set DYNAMICS_LINK_CONTACTS=true",
    "leadid": "the app sets it",
}
_COLUMN_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,99}$")
_SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]{2,63}")
_UNCLOSED_BRACKET = re.compile(r"\[[^\]]*$")


class RulesProblems(ValueError):
    """The rules document has problems; ``problems`` lists each, naming the rule and the key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_rules(document: dict[str, Any]) -> RoutingRules:
    """The document → RoutingRules, or RulesProblems listing every problem found."""
    problems: list[str] = []
    problems += [f"unknown key {key!r} (keys: {', '.join(TOP_KEYS)})" for key in document if key not in TOP_KEYS]
    default_mktcmpid = document.get("campaign_from_mktcmpid", False)
    if not isinstance(default_mktcmpid, bool):
        problems.append("campaign_from_mktcmpid: must be true or false")
        default_mktcmpid = False
    entries = document.get("rules")
    if not isinstance(entries, list) or not entries:
        problems.append("no rules: add at least one [[rules]] table")
        entries = []
    rules = []
    for number, entry in enumerate(entries, 1):
        said: list[str] = []
        rule = _rule(number, entry, default_mktcmpid, said.append) if isinstance(entry, dict) else None
        if rule is None and not said:
            said.append("must be a [[rules]] table")
        name = entry.get("name") if isinstance(entry, dict) else None
        label = f"rule {number}" + (f" ({name})" if isinstance(name, str) and name else "")
        problems += [f"{label}: {problem}" for problem in said]
        if rule is not None:
            rules.append(rule)
    for rule in rules[:-1]:
        if rule.when.always:
            problems.append(
                f"{rule.label}: matches every lead (no `when`), so the rules after it never apply; "
                "put the default rule last"
            )
    if problems:
        raise RulesProblems(problems)
    return RoutingRules(tuple(rules))


def _rule(number: int, entry: dict[str, Any], default_mktcmpid: bool, problem: Callable[[str], None]) -> Rule | None:
    for key in entry:
        if key not in RULE_KEYS:
            problem(f"unknown key {key!r} (keys: {', '.join(RULE_KEYS)})")
    name = _text(entry, "name", problem) or ""
    when = _conditions(entry.get("when", {}), problem)
    recipients = _recipients(entry.get("recipients"), problem)
    owner = _owner(entry, problem)
    campaign = _campaign(entry, problem)
    from_mktcmpid = entry.get("campaign_from_mktcmpid", default_mktcmpid)
    if not isinstance(from_mktcmpid, bool):
        problem("campaign_from_mktcmpid: must be true or false")
    codes = {key: _code(entry, key, problem) for key in ("leadsourcecode", "leadqualitycode")}
    columns = _columns(entry.get("columns", {}), problem)
    teams = _setting_name(entry.get("teams", ""), problem)
    reassign = entry.get("reassign_returning", False)
    if not isinstance(reassign, bool):
        problem("reassign_returning: must be true (a returning customer's open lead gets this rule's owner) or false")
    elif reassign and owner is None:
        problem("reassign_returning: needs owner_user or owner_team (the owner to give a returning customer's lead)")
    if when is None or recipients is None or columns is None:
        return None
    return Rule(
        number,
        name,
        when,
        recipients,
        owner,
        campaign,
        from_mktcmpid is True,
        codes["leadsourcecode"],
        codes["leadqualitycode"],
        columns,
        teams,
        reassign is True,
    )


def _setting_name(value: Any, problem: Callable[[str], None]) -> str:
    """``teams`` names the app setting that holds the channel's webhook URL: the URL is a secret, and the rules
    file is committed, so the URL itself never goes in it."""
    if value == "":
        return ""
    if not isinstance(value, str) or not _SETTING_NAME.fullmatch(value):
        problem(
            "teams: must name the app setting holding the channel's webhook URL, e.g. teams = "
            '"TEAMS_WEBHOOK_DACH" (the URL is a secret: it does not go in this file)'
        )
        return ""
    return value


def _conditions(when: Any, problem: Callable[[str], None]) -> Conditions | None:
    if not isinstance(when, dict):
        problem('when: must be a table, e.g. [rules.when] or when = { offer_id = "contoso.*" }')
        return None
    values: dict[str, Any] = {}
    for key, value in when.items():
        if key not in CONDITION_KEYS:
            problem(f"when.{key}: unknown condition (conditions: {', '.join(CONDITION_KEYS)})")
        elif key == "test":
            if not isinstance(value, bool):
                problem("when.test: must be true (only Microsoft's test leads) or false (only real leads)")
            values[key] = value if isinstance(value, bool) else None
        else:
            values[key] = _patterns(f"when.{key}", value, problem, globs=key in ("offer_id", "offer_title"))
    return Conditions(**values)


def _patterns(key: str, value: Any, problem: Callable[[str], None], globs: bool) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(item, str) and item.strip() for item in items):
        problem(f"{key}: must be a non-empty text or a list of them")
        return ()
    for item in items:
        if globs and _UNCLOSED_BRACKET.search(item):
            problem(f"{key}: {item!r} is not a valid glob: '[' opens a character set that is never closed")
    return tuple(item.strip().lower() for item in items)


def _recipients(value: Any, problem: Callable[[str], None]) -> tuple[str, ...] | None:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        problem("recipients: must be a list of email addresses")
        return None
    valid, invalid = parse_addresses(";".join(items))
    if invalid:
        problem(f"recipients: not email addresses: {', '.join(map(repr, invalid))}")
    if not valid and not invalid:
        problem("recipients: is empty; leave the key out to keep NOTIFY_TO")
    return tuple(valid)


def _owner(entry: dict[str, Any], problem: Callable[[str], None]) -> Lookup | None:
    user, team = _text(entry, "owner_user", problem), _text(entry, "owner_team", problem)
    if user and team:
        problem("owner_user and owner_team: a lead has one owner; keep one of them")
    if user and not is_email_address(user):
        problem(f"owner_user: {user!r} is not an email address or user principal name (UPN)")
        return None
    return Lookup("user", user) if user else Lookup("team", team) if team else None


def _campaign(entry: dict[str, Any], problem: Callable[[str], None]) -> Lookup | None:
    name, code = _text(entry, "campaign", problem), _text(entry, "campaign_code", problem)
    if name and code:
        problem("campaign and campaign_code: name the campaign one way")
    return Lookup("campaign_name", name) if name else Lookup("campaign_code", code) if code else None


def _code(entry: dict[str, Any], key: str, problem: Callable[[str], None]) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        hint = "8 = Web" if key == "leadsourcecode" else "1 = Hot, 2 = Warm, 3 = Cold"
        problem(f"{key}: must be the option's whole number value ({hint})")
        return None
    return value


def _columns(columns: Any, problem: Callable[[str], None]) -> dict[str, Any] | None:
    if not isinstance(columns, dict):
        problem("columns: must be a table of logical name = value, e.g. [rules.columns]")
        return None
    checked: dict[str, Any] = {}
    for name, value in columns.items():
        if not _COLUMN_NAME.match(name):
            problem(f"columns.{name}: not a Dataverse logical name (lower-case letters, digits and _)")
        elif name in RESERVED_COLUMNS:
            problem(f"columns.{name}: {RESERVED_COLUMNS[name]}")
        elif isinstance(value, str):
            if (why := template_problem(value)) is not None:
                problem(f"columns.{name}: {why}")
            checked[name] = value
        elif isinstance(value, (bool, int, float)):
            checked[name] = value
        else:
            problem(f"columns.{name}: unknown column type {type(value).__name__}; use text, a number or true/false")
    return checked


def _text(entry: dict[str, Any], key: str, problem: Callable[[str], None]) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problem(f"{key}: must be a non-empty text")
        return None
    return value.strip()
