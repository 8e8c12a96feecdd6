"""`check`, routing part: the rules file parses; every user, team and campaign it names exists in Dynamics; every
column a rule sets exists in the organisation's lead table, can be set on create and takes the rule's value (a
template at its longest), as do the columns the app fills itself; and the application user holds the privileges
routing and contact linking need (core/privileges.py), including those it holds through a team."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leads.adapters.dataverse import Dataverse
from leads.core.errors import DataverseError
from leads.core.lead_columns import LeadColumns
from leads.core.privileges import for_routing
from leads.core.routing import Lookup, RoutingRules
from leads.core.rule_columns import Verdict, app_problems, rule_verdicts
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
    table = _check_lead_table(connected[0], report) if connected is not None else None
    if routing.rules is None and not routing.link_contacts:
        return
    if connected is None:
        report(None, "routing in Dynamics", "not checked: Dynamics is off or its checks above failed")
        return
    dataverse, privileges = connected
    if routing.rules is not None:
        _check_names(routing.rules, routing, dataverse, report)
        if table is not None:
            _check_columns(rule_verdicts(routing.rules, table), _file_name(routing), report)
    _check_privileges(routing, privileges, report)


def _check_lead_table(dataverse: Dataverse, report: Report) -> LeadColumns | None:
    """The lead table's definitions, read once; the columns the app fills from every lead must fit."""
    try:
        table = dataverse.lead_columns()
    except DataverseError as exc:
        report(False, "lead table", f"its column definitions could not be read: {exc}")
        return None
    problems = app_problems(table)
    if problems:
        report(False, "lead table", "; ".join(problems))
    else:
        report(True, "lead table", f"{len(table.columns)} columns; the ones the app fills from every lead fit")
    return table


def _check_columns(verdicts: list[Verdict], file_name: str, report: Report) -> None:
    for verdict in verdicts:
        if verdict.problem is None:
            report(True, verdict.name, verdict.detail)
            continue
        without = " (the default leadsourcecode 8, Web, applies)" if verdict.key == "leadsourcecode" else ""
        report(False, verdict.name, f"{verdict.column} {verdict.problem.why}: {verdict.problem.fix}, or remove "
               f"{verdict.key} from {file_name}; until then leads are created without it{without}")  # fmt: skip


def _file_name(routing: RoutingSettings) -> str:
    return routing.file.name if routing.file is not None else "the rules file"


def _check_names(rules: RoutingRules, routing: RoutingSettings, dataverse: Dataverse, report: Report) -> None:
    named: dict[Lookup, list[str]] = {}
    for rule, key, lookup in rules.lookups():
        named.setdefault(lookup, []).append(f"rule {rule.number} {key}")
    file_name = _file_name(routing)
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
    for needed in for_routing(routing.rules, routing.link_contacts):
        if needed.privilege in privileges:
            report(True, needed.label, f"the user holds {needed.privilege}")
        else:
            report(False, needed.label, needed.advice())
