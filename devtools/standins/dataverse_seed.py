"""Records for the Dataverse stand-in: the users, teams and campaigns a routing rules file names, so `make run` can
route with routing.example.toml fully locally. Added over the stand-in's control API, as anyone can add their own:

    curl -X POST http://127.0.0.1:<port>/_standin/records/teams -H 'Content-Type: application/json' \\
         -d '{"name": "CRM Sales"}'
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import requests

from leads.core.routing import RoutingRules
from leads.core.routing_rules import parse_rules


def records_named(rules: RoutingRules) -> list[tuple[str, dict[str, Any]]]:
    """(entity set, columns) for each record the rules name, once each."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for _, _, lookup in rules.lookups():
        if lookup.kind == "user":
            record = {"internalemailaddress": lookup.value, "domainname": lookup.value, "isdisabled": False}
        elif lookup.kind == "team":
            record = {"name": lookup.value, "teamtype": 0}  # an owner team: only those own records
        elif lookup.kind == "campaign_code":
            record = {"name": f"Campaign {lookup.value}", "codename": lookup.value}
        else:
            record = {"name": lookup.value}
        found.setdefault((lookup.entity_set, lookup.value.lower()), record)
    return [(entity_set, record) for (entity_set, _), record in found.items()]


def seed(control_url: str, rules_file: Path) -> list[str]:
    """Add the records ``rules_file`` names to the Dataverse stand-in at ``control_url``; what was added."""
    rules = parse_rules(tomllib.loads(rules_file.read_text(encoding="utf-8")))
    added = []
    with requests.Session() as session:
        session.trust_env = False  # the stand-in is on loopback: no proxy from the environment
        for entity_set, record in records_named(rules):
            session.post(f"{control_url}/records/{entity_set}", json=record, timeout=5).raise_for_status()
            added.append(f"{entity_set}: {record.get('name') or record.get('internalemailaddress')}")
    return added
