"""Into Dynamics 365: the lead created (with what routing adds, dropping what Dynamics refuses), or, for a returning
customer (DYNAMICS_DUPLICATES), its event added to the person's open lead as a note (steps/returning.py).

What a delivery learns here (the Dynamics id, when, what routing could not apply, the returning marks) goes into the
``facts`` the notification claim records (steps/notify.py); creating again is harmless (If-None-Match on an id
derived from the lead's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leads.core import deadline, events, mapping, returning
from leads.core.clock import now
from leads.core.enrichment import refusal_why, refused_binding, refused_columns
from leads.core.errors import DataverseError, RetryCannotHelp
from leads.core.lead_row import MAX_ERROR_CHARS, Status
from leads.core.messages import DynamicsState
from leads.core.payload import Lead
from leads.core.service_text import error_text, without_lead_values
from leads.settings import DynamicsSettings
from leads.steps.notify import Stop, facts_missing, write_decided
from leads.steps.ports import Crm, LeadStore
from leads.steps.returning import InDynamics, ReturningCustomers
from leads.steps.routing import LeadRouter

log = logging.getLogger(__name__)
NOTES = "RoutingNotes"  # what routing could not do for a lead created in Dynamics (one per line)


@dataclass
class IntoDynamics:
    store: LeadStore
    dynamics_settings: Callable[[], DynamicsSettings]
    crm: Callable[[], Crm]
    router: Callable[[], LeadRouter | None]
    returning: Callable[[], ReturningCustomers | None]
    clock: Callable[[], datetime] = now

    def run(
        self, lead_id: str, lead: Lead, received_at: datetime, entity: dict[str, Any], facts: dict[str, Any]
    ) -> tuple[Status, DynamicsState, dict[str, Any]]:
        """Create the lead in Dynamics unless it is there or Dynamics is off; what was learnt goes in ``facts``.
        A refusal's text (without the lead's personal data) is in the state's ``error``. Returns the entity as it
        is now (a returning customer's outcome is recorded on it at once: steps/returning.py)."""
        dynamics = self.dynamics_settings()
        if entity.get("DynamicsLeadId"):
            return Status.DONE, recorded_state(entity, dynamics.record_link(entity["DynamicsLeadId"])), entity
        if not dynamics.enabled:
            log.info("lead %s held: DYNAMICS_ENABLED is false", lead_id)
            return Status.HELD, DynamicsState("held"), entity
        fresh = [entity]
        deadline.check("creating the lead in Dynamics")
        try:
            found = self._into(lead_id, lead, received_at, fresh)
        except RetryCannotHelp as exc:
            error = without_lead_values(error_text(exc), lead)  # Dataverse may quote the values it refused
            log.error("lead %s: Dynamics refused it (%s)", lead_id, type(exc).__name__)
            return Status.FAILED, DynamicsState("failed", error=error), fresh[0]
        facts |= self._facts(found, lead)
        notes = tuple(without_lead_values(note, lead) for note in found.notes)
        verb = (  # the log holds ids only
            "added as a note to the open lead" if found.returning else "created in" if found.created else "already in"
        )
        log.info(
            "lead %s %s Dynamics as %s", lead_id, verb, found.lead_id, extra=events.in_dynamics(entity, self.clock())
        )
        link = dynamics.record_link(found.lead_id)
        return (
            Status.DONE,
            DynamicsState("created", link, notes=notes, returning=found.returning, filled=found.filled),
            fresh[0],
        )

    def _into(self, lead_id: str, lead: Lead, received_at: datetime, fresh: list[dict[str, Any]]) -> InDynamics:
        """The lead into Dynamics: created, or (DYNAMICS_DUPLICATES) a note on the person's open lead. ``fresh`` holds
        the entity, replaced when the outcome is recorded on it."""
        dynamics_lead_id = mapping.dataverse_lead_id(lead_id)
        customers = self.returning()
        if customers is None:
            created, notes = self._create(lead_id, dynamics_lead_id, lead, received_at)
            return InDynamics(dynamics_lead_id, created=created, notes=notes)

        def create(detect: bool) -> tuple[bool, tuple[str, ...]]:  # detect: with the organisation's rules on
            create_lead = customers.crm().create_unless_duplicate if detect else None
            return self._create(lead_id, dynamics_lead_id, lead, received_at, create_lead)

        def record(found: InDynamics) -> None:
            facts = self._facts(found, lead)
            entity = write_decided(self.store, lead_id, fresh[0], lambda current: facts_missing(current, facts))
            if entity is None:
                raise Stop
            fresh[0] = entity

        return customers.to_dynamics(lead_id, lead, received_at, create, record)

    def _facts(self, found: InDynamics, lead: Lead) -> dict[str, Any]:
        facts = {"DynamicsLeadId": found.lead_id, "DynamicsAt": self.clock()} | returning.marks(
            found.returning, found.filled
        )
        if notes := [without_lead_values(note, lead) for note in found.notes]:
            facts[NOTES] = "\n".join(notes)[:MAX_ERROR_CHARS]  # for a later delivery's mail, should this one's fail
        return facts

    def _create(
        self,
        lead_id: str,
        dynamics_lead_id: str,
        lead: Lead,
        received_at: datetime,
        create_lead: Callable[[str, dict[str, Any]], bool] | None = None,
    ) -> tuple[bool, tuple[str, ...]]:
        """Create the lead with what routing adds: (created now, notes on what routing could not do). A lookup or a
        column Dataverse refuses (its record deleted since it was looked up, a missing privilege, a column the table
        does not have or a value it does not take) is dropped and the lead created without it; only a refusal about
        the lead itself is raised."""
        router = self.router()
        routed = router.route(lead, received_at) if router is not None else None
        while True:  # each pass drops at least one lookup or column, so this ends
            enrichment = routed.enrichment if routed is not None else None
            try:
                body = mapping.to_dataverse(lead, received_at, enrichment)
                created = (create_lead or self.crm().create_lead)(dynamics_lead_id, body)
                return created, enrichment.notes if enrichment is not None else ()
            except DataverseError as exc:
                if router is None or routed is None or not isinstance(exc, RetryCannotHelp):
                    raise
                status = f"{exc.status} {exc.code}"
                if (name := refused_binding(routed.enrichment, exc.status, exc.message)) is not None:
                    log.warning("lead %s: Dynamics refused its %s lookup (%s); creating it without", lead_id, name,
                                exc.code)  # fmt: skip
                    routed = router.refused(routed, name, status)
                elif columns := refused_columns(routed.enrichment, exc.status, exc.message, exc.quoted):
                    log.warning("lead %s: Dynamics refused the column(s) %s (%s); creating it without", lead_id,
                                ", ".join(columns), exc.code)  # fmt: skip
                    routed = router.refused_columns(routed, columns, status, refusal_why(exc.message))
                else:
                    raise


def recorded_state(entity: dict[str, Any], link: str) -> DynamicsState:
    """What a delivery that went to Dynamics recorded, for the notifications of a later one."""
    notes = tuple(filter(None, entity.get(NOTES, "").split("\n")))
    filled = tuple(filter(None, str(entity.get(returning.RETURNING_FILLED) or "").split(",")))
    return DynamicsState("created", link, notes=notes, returning=bool(entity.get(returning.RETURNING)), filled=filled)
