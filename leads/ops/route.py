"""`route FILE.json`: what routing would do with a marketplace payload — the rule it matches, the exact body the
lead would be created with in Dynamics and who would be mailed — without creating or sending anything. Names are
resolved in Dynamics (read-only queries) as the app would; with Dynamics off they are shown unresolved."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TextIO

import requests

from leads.adapters.dataverse import Dataverse
from leads.adapters.signin import token_source
from leads.core import clock, mapping
from leads.core.addresses import parse_addresses
from leads.core.enrichment import ExistingContact
from leads.core.errors import DataverseRejected, LeadsError
from leads.core.payload import InvalidLead, decode_body, parse_lead
from leads.core.routing import Lookup
from leads.settings import SettingsError, load_dynamics, load_routing
from leads.steps.ports import Directory
from leads.steps.routing import LeadRouter


class _NotAsked:
    """Stands for Dynamics when it cannot be asked: every name stays unresolved, saying why."""

    def __init__(self, why: str) -> None:
        self.why = why

    def find_id(self, lookup: Lookup) -> str | None:
        raise DataverseRejected(None, "", f"not looked up: {self.why}")

    def find_contacts(self, email: str) -> list[ExistingContact]:
        raise DataverseRejected(None, "", f"not looked up: {self.why}")


def route(path: Path, out: TextIO, env: dict[str, str] | None = None) -> int:
    environ = os.environ if env is None else env
    try:
        lead = parse_lead(decode_body(path.read_bytes()))
    except (OSError, InvalidLead) as exc:
        print(f"{path}: {exc}", file=out)
        return 2
    try:
        routing = load_routing(env)
    except SettingsError as exc:
        print(exc, file=out)
        return 2
    directory, api_url = _directory(env)
    router = LeadRouter(routing.rules, routing.link_contacts, lambda: directory)
    received_at = clock.now()
    try:
        routed = router.route(lead, received_at)
    except LeadsError as exc:
        print(f"Dynamics could not be asked: {exc}", file=out)
        return 1
    body = mapping.to_dataverse(lead, received_at, routed.enrichment)
    rule = routed.plan.rule
    recipients = routed.recipients or tuple(parse_addresses(environ.get("NOTIFY_TO", ""))[0])
    source = rule.label if rule is not None and routed.recipients else "NOTIFY_TO"
    print(f"lead {lead.lead_id}", file=out)
    print(f"rule: {rule.label if rule is not None else 'none matched (no owner, no campaign)'}", file=out)
    print(f"recipients ({source}): {', '.join(recipients) or 'none (no mail)'}", file=out)
    for note in routed.enrichment.notes:
        print(f"not applied: {note}", file=out)
    print(f"Dataverse request: PATCH {api_url}/leads({mapping.dataverse_lead_id(lead.lead_id)})", file=out)
    print("If-None-Match: *", file=out)
    print(json.dumps(body, indent=2, ensure_ascii=False), file=out)
    return 0


def _directory(env: dict[str, str] | None) -> tuple[Directory, str]:
    try:
        dynamics = load_dynamics(env)
    except SettingsError as exc:
        return _NotAsked(f"the Dynamics settings have problems ({'; '.join(exc.problems)})"), "{DYNAMICS_URL}"
    if not dynamics.enabled:
        return _NotAsked("DYNAMICS_ENABLED is false"), dynamics.api_url
    return Dataverse(dynamics, token_source(dynamics), requests.Session()), dynamics.api_url
