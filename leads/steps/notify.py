"""Telling people about a lead exactly once per channel, however many workers get there.

Each message on each channel has a field on the lead's entity that records when it went out: ``NotifiedAt``
and ``AlertedAt`` for mail (the lead itself, the failure alert), ``TeamsNotifiedAt`` and ``TeamsAlertedAt`` for
the Teams channel. Before sending, a worker claims the sending by writing ``MailClaim`` (the column's name
predates Teams; it covers every channel) with the entity's ETag: of two workers that read the same entity, one
write wins and the other re-reads. A worker that claimed and then vanished blocks the others only for
CLAIM_TIMEOUT. Every due message is tried even when another fails, and what went out is recorded, so a
failure of one channel never makes another send twice: the next delivery sends only what is still missing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leads.core import events, lead_row
from leads.core.errors import ClaimBusy, LeadChanged, TryAgainLater
from leads.steps.ports import LeadStore

log = logging.getLogger(__name__)

CLAIM = "MailClaim"
CLAIM_TIMEOUT = timedelta(minutes=10)
CLAIM_ATTEMPTS = 5


@dataclass(frozen=True)
class Due:
    """One message on one channel, and the entity field that records it went out."""

    field: str  # NotifiedAt, AlertedAt, TeamsNotifiedAt, TeamsAlertedAt
    deliver: Callable[[], object]  # sends it; raises LeadsError subclasses when it could not


@dataclass
class SendOnce:
    store: LeadStore
    clock: Callable[[], datetime]

    def send(
        self, lead_id: str, entity: dict[str, Any], dues: list[Due], changes: dict[str, Any], defer: bool = True
    ) -> dict[str, Any]:
        """Send each message still due (``lead_row.notification_due``). The claim's write also records ``changes``.
        ``defer``: leave the lead to another worker's live claim (ClaimBusy). Returns the fields to record.
        When a message fails, the others are still tried; what went out is recorded, the claim released, and
        the first error raised (one worth retrying before one that is not, so the queue tries again)."""
        due = self._claim(lead_id, entity, dues, changes, defer)
        sent: dict[str, Any] = {}
        errors: list[Exception] = []
        for message in due:
            try:
                message.deliver()
            except Exception as exc:
                log.warning("lead %s: %s not sent: %s", lead_id, message.field, type(exc).__name__)
                errors.append(exc)
                continue
            sent[message.field] = self.clock()
            log.info(
                "lead %s: %s sent",
                lead_id,
                message.field,
                extra=events.sent(entity, message.field, sent[message.field]),
            )
        if errors:
            self.store.update(lead_id, sent | {CLAIM: ""})  # the next delivery sends what is still missing
            raise next((error for error in errors if isinstance(error, TryAgainLater)), errors[0])
        return sent

    def _claim(
        self, lead_id: str, entity: dict[str, Any], dues: list[Due], changes: dict[str, Any], defer: bool
    ) -> list[Due]:
        """The messages still due, once this worker holds the claim; [] when nothing is due."""
        for _ in range(CLAIM_ATTEMPTS):
            due = [message for message in dues if lead_row.notification_due(entity, message.field)]
            if not due:
                return []
            if defer and self._claimed_by_someone_else(entity):
                raise ClaimBusy(f"lead {lead_id}: another worker is sending its notifications")
            claim = changes | {CLAIM: uuid.uuid4().hex, f"{CLAIM}At": self.clock(), "UpdatedAt": self.clock()}
            try:
                self.store.update(lead_id, claim, etag=entity["_etag"])
                return due
            except LeadChanged:
                found = self.store.get(lead_id)  # someone wrote in between: look again
                if found is None:
                    return []
                entity = found
        raise ClaimBusy(f"lead {lead_id}: too much contention to claim its notifications")

    def _claimed_by_someone_else(self, entity: dict[str, Any]) -> bool:
        claimed_at = entity.get(f"{CLAIM}At")
        return bool(entity.get(CLAIM)) and claimed_at is not None and self.clock() - claimed_at < CLAIM_TIMEOUT
