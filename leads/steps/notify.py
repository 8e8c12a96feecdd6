"""Telling people about a lead exactly once per channel, however many workers get there, and whatever storage does.

Each message on each channel has a field on the lead's entity that records when it went out: ``NotifiedAt``
and ``AlertedAt`` for mail (the lead itself, the failure alert), ``TeamsNotifiedAt`` and ``TeamsAlertedAt`` for
the Teams channel. Before sending, a worker claims the sending by writing a token of its own to ``MailClaim`` (the
column's name predates Teams; it covers every channel) under the entity's ETag: of two workers that read the same
entity, one write wins and the other reads again and decides again. The token, not the ETag, says whose claim it
is, so a write that went through but was answered with an error (the SDK's retry then gets 412) is recognised as
our own. A worker that claimed and then vanished blocks the others only for CLAIM_TIMEOUT.

Every write here is *decided* from the entity as it is: ``write_decided`` writes under the ETag and, when someone
wrote in between, reads again and asks again. What a write records is a fact (a message went out, the lead is in
Dynamics) that is never taken back, so recording it again is harmless; a status changes only as
``lead_row.may_become`` allows (a lead that is done never becomes failed).

Each message is recorded right after it went out (the last one with the final state), and that write is retried
for up to RECORD_PATIENCE: a storage blip after a send must not make the next delivery send again. What remains:
a crash between a send and its record, or storage down for longer than RECORD_PATIENCE; the claim then expires
and the next delivery sends that message again (README: "Exactly once").
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from leads.core import deadline, events, lead_row
from leads.core.errors import ClaimBusy, LeadChanged, StorageUnavailable, TryAgainLater
from leads.core.lead_row import Status
from leads.steps.ports import LeadStore

log = logging.getLogger(__name__)

CLAIM = "MailClaim"
CLAIM_AT = f"{CLAIM}At"
CLAIM_TIMEOUT = timedelta(minutes=10)
WRITE_ATTEMPTS = 5  # reads and decides again this often when others keep writing in between
# How long recording a sent message is retried (beyond the storage SDK's few seconds): well under CLAIM_TIMEOUT,
# and within the delivery's time budget (processing.DELIVERY_BUDGET).
RECORD_PATIENCE = timedelta(seconds=60)
RECORD_FIRST_WAIT = 1.0  # seconds; doubled after each failed attempt, up to RECORD_MAX_WAIT
RECORD_MAX_WAIT = 15.0

Decision = dict[str, Any] | None  # the changes still to write; {} nothing to write; None stop: the lead is gone
Decide = Callable[[dict[str, Any]], Decision]
# A status change decided from the entity as it is: {"Status": …, "UpdatedAt": …, "LastError": …}, or {} for none.
StatusChange = Callable[[dict[str, Any]], dict[str, Any]]


def no_status_change(entity: dict[str, Any]) -> dict[str, Any]:
    return {}


class Stop(Exception):
    """Raised by a decision: there is nothing more for this worker to do with the lead."""


@dataclass(frozen=True)
class Due:
    """One message on one channel, and the entity field that records it went out."""

    field: str  # NotifiedAt, AlertedAt, TeamsNotifiedAt, TeamsAlertedAt
    deliver: Callable[[], object]  # sends it; raises LeadsError subclasses when it could not


def write_decided(store: LeadStore, lead_id: str, entity: dict[str, Any], decide: Decide) -> dict[str, Any] | None:
    """Write what ``decide`` asks of the entity, under its ETag; when the entity changed meanwhile (another worker,
    or a write of ours that went through but was answered with an error and retried), read it again and decide
    again. Returns the entity as it is now (``_etag`` included), or None when the lead is gone. ``decide`` may raise
    Stop (or ClaimBusy); it must be idempotent: asked again after its own write went through, it asks for nothing."""
    for _ in range(WRITE_ATTEMPTS):
        changes = decide(entity)
        if changes is None:
            return None
        if not changes:
            return entity
        try:
            etag = store.update(lead_id, changes, etag=entity["_etag"])
        except LeadChanged:
            found = store.get(lead_id)
            if found is None:
                return None
            entity = found
            continue
        return entity | changes | {"_etag": etag}
    raise ClaimBusy(f"lead {lead_id}: too much contention to write it")


def is_claimed_by_another(entity: dict[str, Any], token: str, at: datetime) -> bool:
    """Another worker holds a live claim: it is sending this lead's messages right now."""
    claimed_at = entity.get(CLAIM_AT)
    holder = entity.get(CLAIM)
    return bool(holder) and holder != token and claimed_at is not None and at - claimed_at < CLAIM_TIMEOUT


def facts_missing(entity: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """The facts (set once, never taken back) the entity does not hold yet."""
    return {name: value for name, value in facts.items() if value not in ("", None) and not entity.get(name)}


@dataclass
class Delivery:
    """One worker's turn at a lead's messages: claim, send each message and record it, finish."""

    store: LeadStore
    clock: Callable[[], datetime]
    lead_id: str
    entity: dict[str, Any]
    sleep: Callable[[float], None] = time.sleep
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    holds_claim: bool = False
    unrecorded: dict[str, Any] = field(default_factory=dict)  # sent, to be recorded with the final state

    def claim(
        self,
        dues: list[Due],
        facts: dict[str, Any],
        wanted: Callable[[dict[str, Any]], bool] = lambda entity: True,
        status: StatusChange = no_status_change,
    ) -> list[Due]:
        """The messages still due, once this worker holds the claim ([] when none is due). The claim's write also
        records ``facts`` (set once) and ``status`` (a status change with its LastError). Stop when ``wanted`` no
        longer holds for the entity as it is. ClaimBusy when another worker holds a live claim: the facts are
        recorded before it is raised, so nothing learnt is lost."""
        due: list[Due] = []
        decided_on = ""

        def decide(entity: dict[str, Any]) -> Decision:
            nonlocal due, decided_on
            decided_on = entity["_etag"]
            if entity.get(CLAIM) == self.token:
                return {}  # our own claim went through (a retried write answered 412)
            if not wanted(entity):
                raise Stop
            due = [message for message in dues if lead_row.notification_due(entity, message.field)]
            changes = facts_missing(entity, facts) | self._status_change(entity, status)
            if not due:
                return changes
            if is_claimed_by_another(entity, self.token, self.clock()):
                raise ClaimBusy(f"lead {self.lead_id}: another worker is sending its notifications")
            return changes | {CLAIM: self.token, CLAIM_AT: self.clock(), "UpdatedAt": self.clock()}

        try:
            try:
                entity = write_decided(self.store, self.lead_id, self.entity, decide)
            except ClaimBusy:
                # Decided on the entity as first read, which may be stale: the claim seen there may be gone.
                fresh = self.store.get(self.lead_id)
                if fresh is None:
                    raise Stop from None
                if fresh["_etag"] == decided_on:
                    raise
                entity = write_decided(self.store, self.lead_id, fresh, decide)
        except ClaimBusy:
            self.record_facts(facts)
            raise
        if entity is None:
            raise Stop
        self.entity = entity
        self.holds_claim = entity.get(CLAIM) == self.token
        return due if self.holds_claim else []

    def send(self, due: list[Due], record_last: bool = False) -> list[Exception]:
        """Send each message; each one that went out is recorded at once, except the last when it is recorded with
        the final state (``finish``). Every message is tried, whatever happens to the others: returns the errors."""
        errors: list[Exception] = []
        for index, message in enumerate(due):
            try:
                deadline.check(f"sending {message.field}")
                message.deliver()
            except Exception as exc:
                log.warning("lead %s: %s not sent: %s", self.lead_id, message.field, type(exc).__name__)
                errors.append(exc)
                continue
            sent_at = self.clock()
            log.info(
                "lead %s: %s sent", self.lead_id, message.field, extra=events.sent(self.entity, message.field, sent_at)
            )
            self.unrecorded[message.field] = sent_at
            if record_last or index < len(due) - 1:
                self.record_unrecorded()
        if errors:  # the caller has more to do (alerts, releasing the claim) before its final write
            self.record_unrecorded()
        return errors

    def record_unrecorded(self) -> None:
        self.record_facts(self.unrecorded)
        self.unrecorded = {}

    def finish(self, facts: dict[str, Any], status: StatusChange) -> None:
        """The final write: what went out and is not recorded yet, ``facts``, ``status`` (as far as
        ``lead_row.may_become`` allows), and the claim released if it is still ours."""
        facts = facts | self.unrecorded

        def decide(entity: dict[str, Any]) -> Decision:
            changes = facts_missing(entity, facts) | self._status_change(entity, status)
            if self.holds_claim and entity.get(CLAIM) == self.token:
                changes[CLAIM] = ""
            return changes

        self._patiently(decide)
        self.unrecorded = {}
        self.holds_claim = False

    def release(self) -> None:
        """Record what went out and give the claim back (a send failed: the next delivery sends what is missing)."""
        self.finish({}, no_status_change)

    def record_facts(self, facts: dict[str, Any]) -> None:
        """Record facts (messages sent, the Dynamics id) whoever holds the claim: they are true whatever happens."""
        if facts:
            self._patiently(lambda entity: facts_missing(entity, facts))

    @staticmethod
    def _status_change(entity: dict[str, Any], status: StatusChange) -> dict[str, Any]:
        """The status change, unless the lead may not change that way any more (lead_row.may_become)."""
        change = status(entity)
        if not change or not lead_row.may_become(entity.get("Status", ""), Status(change["Status"])):
            return {}
        return change

    def _patiently(self, decide: Decide) -> None:
        """``write_decided`` from the entity as last known, retried for RECORD_PATIENCE while storage is
        unavailable: what it records happened already, and forgetting it would repeat it."""
        give_up_at = self.clock() + RECORD_PATIENCE
        wait = RECORD_FIRST_WAIT
        while True:
            try:
                entity = write_decided(self.store, self.lead_id, self.entity, decide)
            except StorageUnavailable:
                if self.clock() + timedelta(seconds=wait) > give_up_at:
                    raise
                log.warning("lead %s: storage unavailable while recording; trying again in %.0f s", self.lead_id, wait)
                self.sleep(wait)
                wait = min(wait * 2, RECORD_MAX_WAIT)
                continue
            if entity is not None:
                self.entity = entity
            return


def first_error(errors: list[Exception]) -> Exception:
    """The error to raise for several failed sends: one worth retrying first, so the queue tries again."""
    return next((error for error in errors if isinstance(error, TryAgainLater)), errors[0])
