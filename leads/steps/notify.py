"""Sending a lead's notifications exactly once, however many workers get there.

Each message has a field on the lead's entity that records when it went out (``NotifiedAt`` for the lead
itself, ``AlertedAt`` for the failure alert). Before sending, a worker claims the sending by writing
``MailClaim`` with the entity's ETag: of two workers that read the same entity, one write wins and the
other re-reads. A worker that claimed and then vanished blocks the others only for CLAIM_TIMEOUT.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leads.core import events, lead_row
from leads.core.errors import ClaimBusy, LeadChanged
from leads.core.messages import Email
from leads.steps.ports import LeadStore, Mailer

log = logging.getLogger(__name__)

CLAIM = "MailClaim"
CLAIM_TIMEOUT = timedelta(minutes=10)
CLAIM_ATTEMPTS = 5


@dataclass(frozen=True)
class Due:
    """One message, and the entity field that records it went out."""

    field: str  # NotifiedAt, AlertedAt
    compose: Callable[[], Email]


@dataclass
class SendOnce:
    store: LeadStore
    mailer: Mailer
    clock: Callable[[], datetime]

    def send(
        self, lead_id: str, entity: dict[str, Any], mails: list[Due], changes: dict[str, Any], defer: bool = True
    ) -> dict[str, Any]:
        """Send each mail still due (``lead_row.mail_due``). The claim's write also records ``changes``.
        ``defer``: leave the lead to another worker's live claim (ClaimBusy). Returns the fields to record.
        A failed send records what did go out, releases the claim and raises."""
        due = self._claim(lead_id, entity, mails, changes, defer)
        sent: dict[str, Any] = {}
        try:
            for mail in due:
                self.mailer.send(mail.compose())
                sent[mail.field] = self.clock()
                what = "notification" if mail.field == "NotifiedAt" else "failure alert"
                log.info("lead %s: %s sent", lead_id, what, extra=events.mailed(entity, mail.field, sent[mail.field]))
        except Exception:
            self.store.update(lead_id, sent | {CLAIM: ""})  # the next delivery sends what is still missing
            raise
        return sent

    def _claim(
        self, lead_id: str, entity: dict[str, Any], mails: list[Due], changes: dict[str, Any], defer: bool
    ) -> list[Due]:
        """The mails still due, once this worker holds the claim; [] when nothing is due."""
        for _ in range(CLAIM_ATTEMPTS):
            due = [mail for mail in mails if lead_row.mail_due(entity, mail.field)]
            if not due:
                return []
            if defer and self._claimed_by_someone_else(entity):
                raise ClaimBusy(f"lead {lead_id}: another worker is sending its mail")
            claim = changes | {CLAIM: uuid.uuid4().hex, f"{CLAIM}At": self.clock(), "UpdatedAt": self.clock()}
            try:
                self.store.update(lead_id, claim, etag=entity["_etag"])
                return due
            except LeadChanged:
                found = self.store.get(lead_id)  # someone wrote in between: look again
                if found is None:
                    return []
                entity = found
        raise ClaimBusy(f"lead {lead_id}: too much contention to claim its mail")

    def _claimed_by_someone_else(self, entity: dict[str, Any]) -> bool:
        claimed_at = entity.get(f"{CLAIM}At")
        return bool(entity.get(CLAIM)) and claimed_at is not None and self.clock() - claimed_at < CLAIM_TIMEOUT
