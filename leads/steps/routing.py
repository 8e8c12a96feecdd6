"""Routing a lead: the rule it matches, the names that rule uses resolved to Dynamics ids, the existing contact.

Names are looked up on first use and kept for the process (a name Dynamics does not know is asked again after
NOT_FOUND_SECONDS, so a team created meanwhile is picked up): in steady state routing adds no request per lead.
Linking to an existing contact is one query per lead with an email address, by design: contacts change.
Nothing here fails a lead: what cannot be applied becomes a note (in LastError, the mail and the description).
A column Dynamics refuses is dropped the same way (``refused_columns``); one it refuses whatever the value (not a
column of the table, no permission) is left out of later leads up front for NOT_FOUND_SECONDS, so a wrong rule
costs one refused request per process rather than one per lead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from leads.core import routing
from leads.core.enrichment import BINDINGS, Enrichment, ExistingContact
from leads.core.errors import DataverseError, DataverseRejected, RetryCannotHelp
from leads.core.payload import Lead
from leads.core.routing import Lookup, Plan, RoutingRules
from leads.core.rule_columns import key_of
from leads.steps.ports import Directory

log = logging.getLogger(__name__)

NOT_FOUND_SECONDS = 600.0
MAX_NAMES = 1000  # mktcmpid values come from leads: the cache must not grow without bound
_REFUSED_FOR_ANY_VALUE = ("not a column of the lead table", "no permission to set it")


class NotAsked(DataverseRejected):
    """Dynamics could not be asked at all (`route` without a reachable Dynamics): what needed it is listed in
    Routed.unverified instead of becoming a note."""


@dataclass(frozen=True)
class Routed:
    plan: Plan
    enrichment: Enrichment
    looked_up: dict[str, Lookup] = field(default_factory=dict)  # navigation property → the name it came from
    unverified: tuple[str, ...] = ()  # what could not be looked up because Dynamics could not be asked (NotAsked)

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.plan.recipients


class LeadRouter:
    """The rules (None: no rules file), whether to link contacts, and the process's cache of resolved names."""

    def __init__(
        self,
        rules: RoutingRules | None,
        link_contacts: bool,
        directory: Callable[[], Directory],
        problem: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules = rules
        self.link_contacts = link_contacts
        self.directory = directory
        self.problem = problem  # the rules file could not be used: every lead says so
        self.clock = clock
        self._ids: dict[Lookup, tuple[str | None, float]] = {}  # → (id or None, when a None expires)
        self._refused: dict[str, tuple[str, float]] = {}  # column → (why Dynamics refused it, when that expires)
        self._lock = threading.Lock()

    def recipients(self, lead: Lead) -> tuple[str, ...]:
        """Who hears of the lead; () means NOTIFY_TO. Needs no Dynamics (held leads are routed too)."""
        rule = self.rules.match(lead) if self.rules is not None else None
        return rule.recipients if rule is not None else ()

    def teams_setting(self, lead: Lead) -> str:
        """The app setting holding the Teams channel for the lead; "" means TEAMS_WEBHOOK_URL."""
        rule = self.rules.match(lead) if self.rules is not None else None
        return rule.teams if rule is not None else ""

    def route(self, lead: Lead, received_at: datetime) -> Routed:
        """The plan and its enrichment; raises only TryAgainLater (Dynamics busy or unreachable)."""
        plan = routing.plan(self.rules, lead, received_at)
        facts = (f"Routing: {plan.rule.label}",) if plan.rule is not None else ()
        routed = Routed(plan, Enrichment(columns=plan.columns, facts=facts))
        if self.problem:
            routed = replace(routed, enrichment=routed.enrichment.noted(f"routing rules not used: {self.problem}"))
        if plan.owner is not None:
            routed = self._bind(routed, "ownerid", [plan.owner])
        if plan.campaigns:
            routed = self._bind(routed, "campaignid", list(plan.campaigns))
        if self.link_contacts and lead.contact.email:
            routed = self._link_contact(lead.contact.email, routed)
        return self._without_refused(routed)

    def returning_owner(self, lead: Lead) -> dict[str, str]:
        """The owner a returning customer's open lead gets: the matching rule's, when it has ``reassign_returning``
        (``{"ownerid@odata.bind": "/teams(…)"}``); else {} (the lead keeps its owner). A name Dynamics does not
        know, or cannot be asked about now, leaves the owner as it is."""
        rule = self.rules.match(lead) if self.rules is not None else None
        if rule is None or not rule.reassign_returning or rule.owner is None:
            return {}
        try:
            record_id = self.resolve(rule.owner)
        except DataverseError as exc:
            log.warning("%s: the owner for a returning customer could not be looked up (%s)", rule.label, exc.code)
            return {}
        return {"ownerid@odata.bind": f"/{rule.owner.entity_set}({record_id})"} if record_id else {}

    def refused(self, routed: Routed, name: str, reason: str) -> Routed:
        """Dataverse refused the lookup ``name`` (its record deleted, say): drop it, and forget the id."""
        lookup = routed.looked_up.get(name)
        if lookup is not None:
            with self._lock:
                self._ids.pop(lookup, None)
        note = f"{BINDINGS.get(name, name)} not applied, Dynamics refused it ({reason}); created without it"
        return replace(routed, enrichment=routed.enrichment.without(name, note))

    def refused_columns(self, routed: Routed, names: tuple[str, ...], status: str, why: str) -> Routed:
        """Dataverse refused the columns ``names`` (``status``: its status and code): drop them. One refused whatever
        its value is left out of this process's later leads for NOT_FOUND_SECONDS (a column created meanwhile is
        then used)."""
        if why in _REFUSED_FOR_ANY_VALUE:
            with self._lock:
                if len(self._refused) < MAX_NAMES:
                    self._refused.update(dict.fromkeys(names, (f"{status}: {why}", self.clock() + NOT_FOUND_SECONDS)))
        return self._dropped(routed, names, f"{status}: {why}")

    def _without_refused(self, routed: Routed) -> Routed:
        now = self.clock()
        with self._lock:
            known = {name: why for name, (why, until) in self._refused.items() if now < until}
        for name in routed.enrichment.columns.keys() & known.keys():
            routed = self._dropped(routed, (name,), known[name])
        return routed

    def _dropped(self, routed: Routed, names: tuple[str, ...], reason: str) -> Routed:
        label = routed.plan.rule.label if routed.plan.rule is not None else "routing"
        keys = ", ".join(key_of(name) for name in names)
        note = f"{label} {keys} not applied, Dynamics refused it ({reason}); created without it"
        return replace(routed, enrichment=routed.enrichment.without_columns(names, note))

    def resolve(self, lookup: Lookup) -> str | None:
        """The record's id (cached), or None when Dynamics has none. DataverseError when Dynamics cannot tell."""
        now = self.clock()
        with self._lock:
            cached = self._ids.get(lookup)
        if cached is not None and (cached[0] is not None or now < cached[1]):
            return cached[0]
        record_id = self.directory().find_id(lookup)
        with self._lock:
            if len(self._ids) < MAX_NAMES or lookup in self._ids:
                self._ids[lookup] = (record_id, now + NOT_FOUND_SECONDS)
        return record_id

    def _bind(self, routed: Routed, name: str, lookups: list[Lookup]) -> Routed:
        """Bind the first of ``lookups`` Dynamics knows; a note for each rule-named one it does not."""
        enrichment = routed.enrichment
        label = routed.plan.rule.label if routed.plan.rule is not None else "routing"
        for lookup in lookups:
            try:
                record_id = self.resolve(lookup)
            except DataverseError as exc:
                if isinstance(exc, NotAsked):
                    routed = replace(routed, unverified=(*routed.unverified, lookup.describe()))
                    continue
                if not isinstance(exc, RetryCannotHelp):
                    raise
                enrichment = enrichment.noted(f"{label}: could not look up the {_public(lookup)} ({exc})")
                continue
            if record_id is not None:
                target = enrichment.bound(name, lookup.entity_set, record_id)
                return replace(routed, enrichment=target, looked_up=routed.looked_up | {name: lookup})
            if lookup == routed.plan.mktcmpid_campaign:  # common: not every marketplace campaign is one in Dynamics
                fact = f"Campaign: none in Dynamics has the code mktcmpid={lookup.value}"
                enrichment = enrichment.with_fact(fact)
            else:
                enrichment = enrichment.noted(f"{label}: no {_public(lookup)} in Dynamics, so no {BINDINGS[name]} set")
        return replace(routed, enrichment=enrichment)

    def _link_contact(self, email: str, routed: Routed) -> Routed:
        try:
            contacts = self.directory().find_contacts(email)
        except DataverseError as exc:
            if isinstance(exc, NotAsked):
                return replace(routed, unverified=(*routed.unverified, "existing contacts with the lead's email"))
            if not isinstance(exc, RetryCannotHelp):
                raise
            noted = routed.enrichment.noted(f"existing contacts could not be looked up ({exc})")
            return replace(routed, enrichment=noted)
        return replace(routed, enrichment=_linked(routed.enrichment, contacts))


def _linked(enrichment: Enrichment, contacts: list[ExistingContact]) -> Enrichment:
    if not contacts:
        return enrichment.with_fact("Existing contact: none with this email address")
    if len(contacts) > 1:
        return enrichment.with_fact(
            "Existing contact: several have this email address, so the lead is not linked to one"
        )
    [contact] = contacts
    linked = enrichment.bound("parentcontactid", "contacts", contact.contact_id)
    if contact.account_id:
        linked = linked.bound("parentaccountid", "accounts", contact.account_id)
    return linked.with_fact("Existing contact: linked (one contact has this email address)")


def _public(lookup: Lookup) -> str:
    """The lookup for notes and logs: a user's address is personal data, so it is left out."""
    return "user named by owner_user" if lookup.kind == "user" else lookup.describe()
