"""`check`, routing part: the rules file parses, every user, team and campaign it names exists in Dynamics, and
the application user holds the privileges routing needs (assigning an owner: prvAssignLead; linking contacts:
prvReadContact)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leads.adapters.dataverse import Dataverse
from leads.core.errors import DataverseError
from leads.core.routing import Lookup, RoutingRules
from leads.settings import RoutingSettings, SettingsError, load_routing

Report = Callable[[bool | None, str, str], None]
_CREATE_ADVICE = {
    "user": "add the user to Dynamics (an enabled user with this primary email or user name)",
    "team": "create an owner team with this name in Dynamics (Settings → Security → Teams)",
    "campaign_name": "create the campaign in Dynamics (Marketing → Campaigns) or correct the name",
    "campaign_code": "give the campaign this campaign code in Dynamics (Marketing → Campaigns) or correct it",
}


def check_routing(
    env: dict[str, str] | None, connected: tuple[Dataverse, set[str]] | None, mail: Any, report: Report
) -> None:
    try:
        routing = load_routing(env)
    except SettingsError as exc:
        report(False, "routing rules", "; ".join(exc.problems))
        return
    if routing.rules is None:
        report(None, "routing rules", "LEAD_ROUTING_FILE is empty: NOTIFY_TO for every lead, no owner, no campaign")
    else:
        report(True, "routing rules", f"{routing.file}: {len(routing.rules.rules)} rule(s) parse")
        if any(rule.recipients for rule in routing.rules.rules) and (mail is None or not mail.enabled):
            report(False, "routing recipients", "rules name recipients, but mail is off: set NOTIFY_TO (the "
                   "recipients of leads whose rule names none) and MAIL_TRANSPORT")  # fmt: skip
    if routing.rules is None and not routing.link_contacts:
        return
    if connected is None:
        report(None, "routing in Dynamics", "not checked: Dynamics is off or its checks above failed")
        return
    dataverse, privileges = connected
    if routing.rules is not None:
        _check_names(routing.rules, routing, dataverse, report)
    _check_privileges(routing, privileges, report)


def _check_names(rules: RoutingRules, routing: RoutingSettings, dataverse: Dataverse, report: Report) -> None:
    named: dict[Lookup, list[str]] = {}
    for rule, key, lookup in rules.lookups():
        named.setdefault(lookup, []).append(f"rule {rule.number} {key}")
    file_name = routing.file.name if routing.file is not None else "the rules file"
    for lookup, where in named.items():
        name = f"{lookup.describe()} ({', '.join(where)})"
        try:
            record_id = dataverse.find_id(lookup)
        except DataverseError as exc:
            report(False, name, f"could not be looked up: {exc}")
            continue
        if record_id is None:
            report(False, name, f"not found in Dynamics: {_CREATE_ADVICE[lookup.kind]}, or fix {where[0]} in "
                   f"{file_name}; until then those leads are created without it")  # fmt: skip
        else:
            report(True, name, f"found ({record_id})")


def _check_privileges(routing: RoutingSettings, privileges: set[str], report: Report) -> None:
    needed = []
    if routing.rules is not None and routing.rules.assign_owners:
        needed.append(("prvAssignLead", "assign leads", "Assign on Lead (rules give leads an owner)"))
    if routing.link_contacts:
        needed.append(("prvReadContact", "read contacts", "Read on Contact (DYNAMICS_LINK_CONTACTS=true)"))
    for privilege, name, what in needed:
        if privilege in privileges:
            report(True, name, f"the user holds {privilege}")
        else:
            report(False, name, f"the user lacks {privilege}: give its security role {what}")
