"""Returning customers (DYNAMICS_DUPLICATES=attach|rules): one open lead per person in Dynamics.

``attach``: before creating, look for an open lead with the lead's email created within DYNAMICS_DUPLICATES_DAYS
(one query). Found: no new lead; the event becomes a note on it, its empty columns are filled in, and the row
records that lead as its DynamicsLeadId, with ``Returning``. ``rules``: create with the organisation's duplicate
detection on; on a duplicate (0x80040333) the event becomes a note on the oldest open lead the rules match
(RetrieveDuplicates). Routing still applies to the mail and the card; the open lead keeps its owner unless the
matching rule has ``reassign_returning = true`` (core/returning.py has the note and the marks).

Exactly once, with two events of one person and redeliveries anywhere in between:
- **Never two notes for one event**: the note's id comes from the marketplace lead id and it is created with
  ``If-None-Match: *``, like the lead itself; an event is a lead or a note, never both (below).
- **Never two leads for one person**: deciding "new or returning" (the query, then the create or the note) is done
  holding the person's claim: a row keyed by the address's hash, inserted (it fails while another holds it). Another
  event of the person waits a few seconds for it, then goes back to the queue (PersonBusy, tried again later). A
  claim whose holder stopped expires after CLAIM_TIMEOUT, which is at least host.json's functionTimeout: its holder
  has surely been stopped by then.
- **What was decided sticks**: it is recorded on the lead's row (DynamicsLeadId, Returning) before the claim is
  released; a delivery that finds the claim already its own (an earlier try stopped between writing to Dynamics and
  recording it) first asks Dynamics what that try made: the note (by its id), else the lead (by its id).

What remains (README "Returning customers"): leads created in Dynamics by anyone else at the same moment (a
salesperson, another integration) are not covered by the claim; with ``rules`` Dynamics' own detection has the same
window (its match codes are computed as records are created). A claim left by a stopped delivery delays the
person's next event by up to CLAIM_TIMEOUT; the reconcile timer re-enqueues any lead left ``received``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from leads.core import mapping
from leads.core.clock import now
from leads.core.errors import DataverseError, DuplicateFound, LeadChanged, PersonBusy, RetryCannotHelp
from leads.core.matching import email_hash
from leads.core.payload import Lead
from leads.core.returning import (
    CLAIM,
    CLAIM_AT,
    PEOPLE,
    OpenLead,
    claim_row,
    dataverse_note_id,
    filled_in,
    note_body,
    oldest_open,
)
from leads.steps.notify import CLAIM_TIMEOUT
from leads.steps.ports import OpenLeads, OwnRows

log = logging.getLogger(__name__)

PERSON_WAITS = (1.0, 2.0, 4.0, 8.0)  # seconds a delivery waits for another event of the same person to be decided
CLAIM_ATTEMPTS = 12  # inserts and reads when others keep claiming and releasing in between
# Create the lead with routing (detect: with duplicate detection on, DuplicateFound on a duplicate): (created now,
# what routing could not apply).
Create = Callable[[bool], tuple[bool, tuple[str, ...]]]


@dataclass(frozen=True)
class InDynamics:
    """Where a marketplace event is in Dynamics: its own lead, or a note on the person's open lead."""

    lead_id: str  # the Dynamics lead: its own, or the open lead it joined
    created: bool = False  # a lead was created now
    returning: bool = False  # the event is a note on the person's open lead
    filled: tuple[str, ...] = ()  # columns of the open lead this event filled in
    notes: tuple[str, ...] = ()  # what could not be applied (routing, the fill-in)


@dataclass(frozen=True)
class _Claim:
    etag: str
    resumed: bool  # it was this lead's already: an earlier try stopped holding it


@dataclass
class ReturningCustomers:
    mode: str  # "attach" or "rules"
    days: int
    crm: Callable[[], OpenLeads]
    rows: OwnRows
    clock: Callable[[], datetime] = now
    sleep: Callable[[float], None] = time.sleep
    # The owner a routing rule gives the open lead (``{"ownerid@odata.bind": …}``), with ``reassign_returning``.
    owner: Callable[[Lead], dict[str, str]] = field(default=lambda lead: {})

    def to_dynamics(
        self, lead_id: str, lead: Lead, received_at: datetime, create: Create, record: Callable[[InDynamics], None]
    ) -> InDynamics:
        """Put the event into Dynamics as a new lead or a note on the person's open lead; ``record`` writes the
        outcome on the lead's row (before the person's claim is released)."""
        if lead.is_test:  # Microsoft's test leads check that leads arrive: each one is created, as before
            created, notes = create(False)
            return InDynamics(mapping.dataverse_lead_id(lead_id), created=created, notes=notes)
        person = email_hash(lead.contact.email)
        if not person:  # no address (a .edu lead): nobody to recognise, nothing to claim
            found = self._decide(lead_id, lead, received_at, create, resumed=False)
            record(found)
            return found
        claim = self._claim(person, lead_id)
        try:
            found = self._decide(lead_id, lead, received_at, create, claim.resumed)
        except RetryCannotHelp:
            self._release(person, claim.etag)  # refused: nothing was written to Dynamics
            raise
        # Anything else (Dynamics busy, storage down, a crash) keeps the claim: this lead's next try resumes it.
        record(found)
        self._release(person, claim.etag)
        return found

    # --- the decision ------------------------------------------------------------------------------------

    def _decide(self, lead_id: str, lead: Lead, received_at: datetime, create: Create, resumed: bool) -> InDynamics:
        own_id = mapping.dataverse_lead_id(lead_id)
        crm = self.crm()
        if resumed:  # an earlier try held the claim and stopped: what did it make?
            if (target := crm.note_target(dataverse_note_id(lead_id))) is not None:
                log.info("lead %s: an earlier try added it to the open lead %s", lead_id, target)
                return InDynamics(target, returning=True)
            if crm.read_lead(own_id) is not None:
                return InDynamics(own_id)
        if self.mode == "rules":
            return self._by_rules(crm, lead_id, own_id, lead, received_at, create)
        found = None
        if lead.contact.email:
            since = self.clock() - timedelta(days=self.days)
            found = oldest_open(crm.find_open_leads(lead.contact.email, since), own_id)
        if found is None:
            created, notes = create(False)
            return InDynamics(own_id, created=created, notes=notes)
        if found.lead_id.lower() == own_id.lower():  # an earlier try of this lead created it
            return InDynamics(own_id)
        return self._attach(crm, lead_id, lead, received_at, found)

    def _by_rules(
        self, crm: OpenLeads, lead_id: str, own_id: str, lead: Lead, received_at: datetime, create: Create
    ) -> InDynamics:
        try:
            created, notes = create(True)
        except DuplicateFound:
            pass
        else:
            return InDynamics(own_id, created=created, notes=notes)
        found = oldest_open(crm.find_duplicates(mapping.to_dataverse(lead, received_at)), own_id)
        if found is not None and found.lead_id.lower() == own_id.lower():
            return InDynamics(own_id)
        if found is None:
            # The rules matched a lead that is closed, or a contact or account: no open lead to join.
            log.info("lead %s: Dynamics' duplicate rules matched no open lead; creating it", lead_id)
            created, notes = create(False)
            return InDynamics(own_id, created=created, notes=notes)
        return self._attach(crm, lead_id, lead, received_at, found)

    def _attach(self, crm: OpenLeads, lead_id: str, lead: Lead, received_at: datetime, found: OpenLead) -> InDynamics:
        changes = filled_in(found, mapping.to_dataverse(lead, received_at))
        filled = tuple(changes)
        attached = crm.attach_note(dataverse_note_id(lead_id), note_body(lead, received_at, found.lead_id, filled))
        log.info("lead %s: returning customer, %s the open lead %s as a note", lead_id,
                 "added to" if attached else "already on", found.lead_id)  # fmt: skip
        changes |= self.owner(lead)
        notes: tuple[str, ...] = ()
        if changes:
            notes = self._change(crm, lead_id, found, changes)
            filled = () if notes else filled
        return InDynamics(found.lead_id, returning=True, filled=filled, notes=notes)

    @staticmethod
    def _change(crm: OpenLeads, lead_id: str, found: OpenLead, changes: dict[str, Any]) -> tuple[str, ...]:
        """Fill in the open lead's empty columns (and give it the rule's owner): best effort, the note is there."""
        owner = "ownerid@odata.bind" in changes
        parts = ["its empty columns were not filled in"] if len(changes) > owner else []
        what = " and ".join([*parts, *(["its owner was not changed"] if owner else [])])
        try:
            if crm.update_open_lead(found.lead_id, changes, found.etag):
                return ()
        except DataverseError as exc:
            log.warning("lead %s: the open lead %s was not updated (%s %s)", lead_id, found.lead_id, exc.status,
                        exc.code)  # fmt: skip
            answer = f"{exc.status or 'no answer'} {exc.code}".strip()
            return (f"returning customer: {what} ({answer})",)
        return (f"returning customer: the open lead changed meanwhile, so {what}",)

    # --- the person's claim ------------------------------------------------------------------------------

    def _claim(self, person: str, lead_id: str) -> _Claim:
        waits = iter(PERSON_WAITS)
        for _ in range(CLAIM_ATTEMPTS):
            etag = self.rows.insert_row(claim_row(person, lead_id, self.clock()))
            if etag is not None:
                return _Claim(etag, resumed=False)
            row = self.rows.get_row(PEOPLE, person)
            if row is None:
                continue  # released meanwhile
            own = row.get(CLAIM) == lead_id
            claimed_at = row.get(CLAIM_AT)
            if own or not isinstance(claimed_at, datetime) or self.clock() - claimed_at >= CLAIM_TIMEOUT:
                # Ours from an earlier try, or its holder stopped long ago: claimed afresh, under the row's ETag, so
                # that of two deliveries taking over the same claim only one goes on (an expired claim of ours
                # could be taken over by another event meanwhile).
                try:
                    etag = self.rows.update_row(PEOPLE, person, {CLAIM: lead_id, CLAIM_AT: self.clock()}, row["_etag"])
                except LeadChanged:
                    continue
                return _Claim(etag, resumed=own)
            wait = next(waits, None)
            if wait is None:
                break
            self.sleep(wait)
        raise PersonBusy(f"lead {lead_id}: another lead of the same person is being put into Dynamics")

    def _release(self, person: str, etag: str) -> None:
        """Give the claim back; if that fails, it expires (the person's next event waits up to CLAIM_TIMEOUT)."""
        try:
            self.rows.delete_row(PEOPLE, person, etag)
        except Exception as exc:
            log.warning("the claim of a person (%s…) was not released (%s); it expires", person[:10],
                        type(exc).__name__)  # fmt: skip
