"""`route FILE.json` (or `route --example`): what routing would do with a marketplace payload — the rule it matches,
who would be mailed, each column the rule sets judged against the organisation's lead table, whether the person is a
returning customer whose open lead would get the event as a note (DYNAMICS_DUPLICATES), and the exact request Dynamics
would get — without creating or sending anything.

Names are resolved in Dynamics with read-only queries, as the app would. When Dynamics cannot be asked (off,
settings with problems, sign-in failing, no answer), the rule, recipients and body are still shown, and what could
not be verified is listed. Exit code 0 when everything could be verified (or Dynamics is off), 1 when Dynamics is on
but could not be asked, 2 when the payload or the rules file cannot be used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO, TypeVar

import requests

from leads.adapters.dataverse import Dataverse
from leads.adapters.signin import token_source
from leads.core import clock, mapping, returning
from leads.core.addresses import parse_addresses
from leads.core.enrichment import ExistingContact
from leads.core.errors import DataverseRejected, RetryCannotHelp, SignInError
from leads.core.lead_columns import LeadColumns
from leads.core.payload import InvalidLead, Lead, decode_body, parse_lead
from leads.core.returning import OpenLead
from leads.core.routing import Lookup
from leads.core.rule_columns import value_verdicts
from leads.ops.common import FAIL, PASS
from leads.settings import DynamicsSettings, SettingsError, load_dynamics, load_routing
from leads.steps.routing import LeadRouter, NotAsked, Routed

T = TypeVar("T")
# A lead as the marketplace posts it, for trying routing without writing one: `route --example`. It matches the
# "CRM connector" rule of routing.example.toml, and its offer link carried a campaign code.
EXAMPLE_LEAD: dict[str, Any] = {
    "UserDetails": {
        "FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@fabrikam.example", "Phone": "+44 20 7946 0000",
        "Country": "United Kingdom", "Company": "Fabrikam Ltd", "Title": "CTO",
    },
    "LeadSource": "AzureMarketplace-INS|contoso.crm-connector",
    "ActionCode": "INS",
    "OfferTitle": "Contoso CRM Connector",
    "Description": '{"mktcmpid": "CMP-01042", "utm_source": "newsletter"}',
}  # fmt: skip


class _Asking:
    """Dynamics, until it cannot be asked: from then on (or from the start, with ``why``) every question is
    answered NotAsked, so the name or column is listed as not verified instead of being looked up again."""

    def __init__(self, dataverse: Dataverse | None, why: str = "") -> None:
        self.dataverse = dataverse
        self.why = why

    def find_id(self, lookup: Lookup) -> str | None:
        return self.ask(lambda dataverse: dataverse.find_id(lookup))

    def find_contacts(self, email: str) -> list[ExistingContact]:
        return self.ask(lambda dataverse: dataverse.find_contacts(email))

    def ask(self, question: Callable[[Dataverse], T]) -> T:
        if self.dataverse is None or self.why:
            raise NotAsked(None, "", self.why)
        try:
            return question(self.dataverse)
        except DataverseRejected as exc:
            if exc.status != 401:
                raise  # Dynamics answered: a refusal the app would meet too
            self.why = f"Dynamics refused the sign-in: {exc}"
        except SignInError as exc:
            self.why = f"signing in failed: {exc}"
        except Exception as exc:  # unreachable, timed out, a TLS problem: a preview shows what it can
            self.why = f"Dynamics did not answer: {type(exc).__name__}: {str(exc)[:200]}"
        raise NotAsked(None, "", self.why)


def route(path: Path | None, out: TextIO, env: dict[str, str] | None = None) -> int:
    """``path`` None: the built-in example lead."""
    environ = os.environ if env is None else env
    try:
        lead = parse_lead(decode_body(path.read_bytes())) if path is not None else parse_lead(EXAMPLE_LEAD)
    except (OSError, InvalidLead) as exc:
        print(f"{path}: {exc}", file=out)
        return 2
    try:
        routing = load_routing(env)
    except SettingsError as exc:
        print(exc, file=out)
        return 2
    dynamics, api_url, settings = _dynamics(env)
    router = LeadRouter(routing.rules, routing.link_contacts, lambda: dynamics)
    received_at = clock.now()
    routed = router.route(lead, received_at)
    rule = routed.plan.rule
    recipients = routed.recipients or tuple(parse_addresses(environ.get("NOTIFY_TO", ""))[0])
    source = rule.label if rule is not None and routed.recipients else "NOTIFY_TO"
    if path is None:
        print("the example lead (python -m leads route FILE.json routes your own):", file=out)
        print(json.dumps(EXAMPLE_LEAD, indent=2, ensure_ascii=False), file=out)
    print(f"lead {lead.lead_id}", file=out)
    print(f"rule: {rule.label if rule is not None else 'none matched (no owner, no campaign)'}", file=out)
    print(f"recipients ({source}): {', '.join(recipients) or 'none (no mail)'}", file=out)
    routed = _judge_columns(routed, dynamics, out)
    for note in routed.enrichment.notes:
        print(f"not applied: {note}", file=out)
    joins, routed = _returning(lead, received_at, routed, dynamics, settings, out)
    unverified = _print_unverified(routed, dynamics, out)
    if joins is not None:
        _print_note(lead, received_at, joins, api_url, out)
    else:
        _print_request(
            lead, received_at, routed, api_url, out, detect=settings is not None and settings.duplicates == "rules"
        )
    return 1 if unverified and dynamics.dataverse is not None else 0


def _judge_columns(routed: Routed, dynamics: _Asking, out: TextIO) -> Routed:
    """Each column routing sets against the lead table; one Dynamics would refuse is left out of the body, as the
    app leaves it out after the refusal."""
    columns = routed.enrichment.columns
    if not columns:
        return routed
    try:
        table: LeadColumns = dynamics.ask(lambda dataverse: dataverse.lead_columns())
    except RetryCannotHelp as exc:
        if isinstance(exc, NotAsked):
            return routed
        print(f"columns: the lead table's definitions could not be read ({exc})", file=out)
        return routed
    for verdict in value_verdicts(routed.plan.rule, columns, table):
        if verdict.problem is None:
            print(f"{PASS} {verdict.name}: {verdict.detail}", file=out)
            continue
        print(f"{FAIL} {verdict.name}: {verdict.column} {verdict.problem.why}: {verdict.problem.fix}", file=out)
        label = routed.plan.rule.label if routed.plan.rule is not None else "routing"
        why = f"{verdict.column} {verdict.problem.why}"
        note = f"{label} {verdict.key}: Dynamics would refuse it ({why}); the lead is created without it"
        routed = replace(routed, enrichment=routed.enrichment.without_columns((verdict.column,), note))
    return routed


def _print_unverified(routed: Routed, dynamics: _Asking, out: TextIO) -> bool:
    names = list(routed.unverified)
    if dynamics.why and routed.enrichment.columns:
        names.append(f"the columns {', '.join(routed.enrichment.columns)} against your lead table")
    if names:
        print(f"not verified, as {dynamics.why}:", file=out)
        for name in names:
            print(f"  {name}", file=out)
    return bool(names)


def _returning(
    lead: Lead, received_at: Any, routed: Routed, dynamics: _Asking, settings: DynamicsSettings | None, out: TextIO
) -> tuple[OpenLead | None, Routed]:
    """Whether the lead's person has an open lead the event would join (DYNAMICS_DUPLICATES), and which."""
    mode = settings.duplicates if settings is not None else "create"
    if mode == "create" or settings is None:
        print("returning customer: not looked for (DYNAMICS_DUPLICATES=create): a new lead every time", file=out)
        return None, routed
    if lead.is_test or not lead.contact.email:
        why = "a Microsoft test lead" if lead.is_test else "no email address"
        print(f"returning customer: not looked for ({why}): a new lead", file=out)
        return None, routed
    own = mapping.dataverse_lead_id(lead.lead_id)
    since = clock.now() - timedelta(days=settings.duplicates_days)
    body = mapping.to_dataverse(lead, received_at)

    def open_leads(dataverse: Dataverse) -> list[OpenLead]:
        if mode == "rules":
            return dataverse.find_duplicates(body)
        return dataverse.find_open_leads(lead.contact.email, since)

    try:
        found = returning.oldest_open(dynamics.ask(open_leads), own)
    except NotAsked:
        return None, replace(routed, unverified=(*routed.unverified, "whether the person has an open lead"))
    except RetryCannotHelp as exc:
        print(f"returning customer: the open leads could not be looked up ({exc})", file=out)
        return None, routed
    where = ("the organisation's duplicate detection rules match no open lead" if mode == "rules"
             else f"no open lead with this email created in the last {settings.duplicates_days} days")  # fmt: skip
    if found is None or found.lead_id == own:
        print(f"returning customer: no — {where}: a new lead", file=out)
        return None, routed
    print(f"returning customer: yes — the event would be added as a note to the open lead {found.lead_id} (created "
          f"{found.created_on}): {settings.record_link(found.lead_id)}", file=out)  # fmt: skip
    return found, routed


def _print_note(lead: Lead, received_at: Any, joins: OpenLead, api_url: str, out: TextIO) -> None:
    changes = returning.filled_in(joins, mapping.to_dataverse(lead, received_at))
    note = returning.note_body(lead, received_at, joins.lead_id, tuple(changes))
    print(f"Dataverse request: PATCH {api_url}/annotations({returning.dataverse_note_id(lead.lead_id)})", file=out)
    print("If-None-Match: *", file=out)
    print(json.dumps(note, indent=2, ensure_ascii=False), file=out)
    if changes:  # the rule's owner, with reassign_returning, is resolved when the lead arrives
        print(f"Dataverse request: PATCH {api_url}/leads({joins.lead_id}) (its empty columns filled in)", file=out)
        print(f"If-Match: {joins.etag or '*'}", file=out)
        print(json.dumps(changes, indent=2, ensure_ascii=False), file=out)


def _print_request(
    lead: Lead, received_at: Any, routed: Routed, api_url: str, out: TextIO, detect: bool = False
) -> None:
    body = mapping.to_dataverse(lead, received_at, routed.enrichment)
    print(f"Dataverse request: PATCH {api_url}/leads({mapping.dataverse_lead_id(lead.lead_id)})", file=out)
    print("If-None-Match: *", file=out)
    if detect:  # DYNAMICS_DUPLICATES=rules: a duplicate is refused (0x80040333) and the event joins it as a note
        print("MSCRM.SuppressDuplicateDetection: false", file=out)
    print(json.dumps(body, indent=2, ensure_ascii=False), file=out)


def _dynamics(env: dict[str, str] | None) -> tuple[_Asking, str, DynamicsSettings | None]:
    try:
        dynamics = load_dynamics(env)
    except SettingsError as exc:
        why = f"the Dynamics settings have problems: {'; '.join(exc.problems)}"
        return _Asking(None, why), "{DYNAMICS_URL}", None
    if not dynamics.enabled:
        return _Asking(None, "DYNAMICS_ENABLED is false"), dynamics.api_url, dynamics
    return _Asking(Dataverse(dynamics, token_source(dynamics), requests.Session())), dynamics.api_url, dynamics
