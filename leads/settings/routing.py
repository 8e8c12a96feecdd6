"""Routing: the rules file LEAD_ROUTING_FILE names, and whether leads are linked to existing contacts."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from leads.core.routing import RoutingRules
from leads.core.routing_rules import RulesProblems, parse_rules
from leads.core.webhooks import webhook_problem
from leads.settings.reader import Reader

# Relative paths are taken from the app's folder (where function_app.py is), which is what gets deployed.
APP_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RoutingSettings:
    file: Path | None  # None: no rules (NOTIFY_TO for every lead, no owner, no campaign)
    rules: RoutingRules | None
    link_contacts: bool


def load_routing(env: Mapping[str, str] | None = None) -> RoutingSettings:
    read = Reader(env)
    link_contacts = read.flag("DYNAMICS_LINK_CONTACTS", False)
    name = read.text("LEAD_ROUTING_FILE")
    path = rules = None
    if name:
        path = Path(name) if Path(name).is_absolute() else APP_ROOT / name
        rules = _read_rules(path, read)
    read.done()
    return RoutingSettings(file=path, rules=rules, link_contacts=link_contacts)


def _read_rules(path: Path, read: Reader) -> RoutingRules | None:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        read.problem(
            "LEAD_ROUTING_FILE",
            f"names {path}, which does not exist; deploy the file with the app or "
            "leave the setting empty for no routing",
        )
        return None
    except (OSError, UnicodeDecodeError) as exc:
        read.problem("LEAD_ROUTING_FILE", f"names {path}, which cannot be read ({exc.__class__.__name__})")
        return None
    except tomllib.TOMLDecodeError as exc:
        read.problem("LEAD_ROUTING_FILE", f"names {path}, which is not valid TOML: {exc}")
        return None
    try:
        rules = parse_rules(document)
    except RulesProblems as exc:
        for problem in exc.problems:
            read.problem("LEAD_ROUTING_FILE", f"{path.name}: {problem}")
        return None
    for rule in rules.rules:
        url = read.text(rule.teams) if rule.teams else ""
        if rule.teams and not url:
            read.problem(
                rule.teams,
                f"is not set; {path.name} {rule.label} posts its leads to the Teams channel "
                "whose webhook URL this app setting holds",
            )
        elif url and (wrong := webhook_problem(url)):
            read.problem(rule.teams, f"({path.name} {rule.label}'s Teams channel) {wrong}")
    return rules
