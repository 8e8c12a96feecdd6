"""Processing a lead from the queue: Dynamics first, then the notification mail, each exactly once.

A queue message can arrive more than once, and several workers run at once. What has been done is
recorded on the lead's table entity, so every delivery resumes at the step that is missing:

    DynamicsLeadId  set once the lead exists in Dynamics (creating it again is harmless: If-None-Match)
    NotifiedAt      set once the mail went out; sending is claimed first (MailClaim) with the entity's ETag
    AlertedAt       set once the failure alert went out (same claim)
    Status          received → done | held | failed

A lead with mail costs one read and two writes (the claim, which also records DynamicsLeadId, and the
final state); without mail, one read and one write. Transient trouble raises, so the queue delivers the
message again later; LastError says what it was.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leads.adapters.dataverse import Dataverse, DataverseRejected, DataverseUnavailable
from leads.adapters.lead_table import LeadTable
from leads.adapters.mail import Mailer, MailError, without_addresses
from leads.adapters.storage import LeadChanged
from leads.core import lead_row, mapping
from leads.core.lead_row import Status
from leads.core.messages import DynamicsState, Email, failure_alert, lead_notification
from leads.core.payload import Lead
from leads.settings import DynamicsSettings

log = logging.getLogger(__name__)
# The mail claim: which worker is sending this lead's mail, and since when. A worker that claimed and then
# vanished (crash, time-out) blocks the others only for CLAIM_TIMEOUT.
CLAIM = "MailClaim"
CLAIM_TIMEOUT = timedelta(minutes=10)
MAX_ERROR_CHARS = 1000


class TryAgainLater(RuntimeError):
    """Another worker is busy with this lead's mail; the queue delivers the message again later."""


@dataclass
class Pipeline:
    """The steps, given the adapters. Settings and clients come through functions called on first use,
    so a mistake in the Dynamics or mail settings cannot stop a failed lead from being marked failed."""

    table: LeadTable
    dynamics_settings: Callable[[], DynamicsSettings]
    dataverse: Callable[[], Dataverse]
    mailer: Callable[[], Mailer | None]
    clock: Callable[[], datetime] = lead_row.now

    def process_message(self, text: str) -> None:
        try:
            lead_id = lead_row.lead_id_from_message(text)
        except ValueError as exc:
            # Not ours; retrying cannot help, so the message is completed and the reason logged.
            log.error("ignoring queue message: %s", exc)
            return
        self.process(lead_id)

    def process(self, lead_id: str) -> None:
        entity = self.table.get(lead_id)
        if entity is None:
            log.error("lead %s: no such lead in the table; message ignored", lead_id)
            return
        if entity.get("Status") in (Status.DONE, Status.FAILED):
            log.info("lead %s is already %s; nothing to do", lead_id, entity["Status"])
            return
        try:
            self._process(lead_id, entity)
        except Exception as exc:
            self._note_error(lead_id, exc)
            raise

    def _process(self, lead_id: str, entity: dict[str, Any]) -> None:
        dynamics = self.dynamics_settings()
        mailer = self.mailer()
        lead = lead_row.lead_from_entity(entity)
        received_at: datetime = entity.get("ReceivedAt") or self.clock()
        status = Status.DONE
        changes: dict[str, Any] = {}  # written together with the mail claim, or at the end
        state: DynamicsState
        if entity.get("DynamicsLeadId"):
            state = DynamicsState("created", link=dynamics.record_link(entity["DynamicsLeadId"]))
        elif not dynamics.enabled:
            status = Status.HELD
            state = DynamicsState("held")
            log.info("lead %s held: DYNAMICS_ENABLED is false", lead_id)
        else:
            dynamics_lead_id = mapping.dataverse_lead_id(lead_id)
            try:
                created = self.dataverse().create_lead(dynamics_lead_id, mapping.to_dataverse(lead, received_at))
            except DataverseRejected as exc:
                status = Status.FAILED
                error = _without_personal_data(_error_text(exc), lead)  # Dataverse may quote the values it refused
                state = DynamicsState("failed", error=error)
                changes["LastError"] = error
                log.error("lead %s: Dataverse refused it (%s %s)", lead_id, exc.status, exc.code)
            else:
                changes["DynamicsLeadId"] = dynamics_lead_id
                state = DynamicsState("created", link=dynamics.record_link(dynamics_lead_id))
                log.info("lead %s %s Dynamics as %s", lead_id, "created in" if created else "already in",
                         dynamics_lead_id)  # fmt: skip

        if mailer is not None:
            mails: list[tuple[str, Callable[[], Email]]] = [
                ("NotifiedAt", lambda: lead_notification(lead, received_at, state))
            ]
            if status == Status.FAILED:
                mails.append(("AlertedAt", lambda: failure_alert(lead_id, lead.offer_title, lead.is_test,
                                                                 state.error, received_at)))  # fmt: skip
            try:
                changes |= self._send_once(mailer, lead_id, entity, mails, changes)
            except MailError as exc:
                if exc.transient:
                    raise
                # A mail setting is wrong (permission, mailbox, password): retrying cannot help until someone fixes
                # it. The lead fails, `status` says why, and `replay --failed` sends the mail once it is fixed.
                status = Status.FAILED
                changes["LastError"] = f"mail: {exc}"[:MAX_ERROR_CHARS]
                log.error("lead %s: the mail could not be sent and will not be retried: %s", lead_id, exc)
        changes |= {"Status": status.value, "UpdatedAt": self.clock(), CLAIM: ""}
        if status != Status.FAILED:
            changes["LastError"] = ""
        self.table.update(lead_id, changes)
        log.info("lead %s %s", lead_id, status.value)

    def mark_failed(self, lead_id: str, reason: str) -> None:
        """For the poison queue: the lead gave up retrying. Mark it failed, and send the contacts the lead itself
        (if it has not gone out yet: they must not miss it) and the failure alert."""
        entity = self.table.get(lead_id)
        if entity is None:
            log.error("poison message for unknown lead %s", lead_id)
            return
        if entity.get("Status") == Status.DONE:
            return
        if entity.get("Status") == Status.FAILED:
            error = entity.get("LastError") or reason  # a second poison message: the first one said why
        else:
            error = f"{reason}; last error: {entity.get('LastError') or 'no error was recorded'}"[:MAX_ERROR_CHARS]
            failed = {"Status": Status.FAILED.value, "LastError": error, "UpdatedAt": self.clock()}
            entity |= failed | {"_etag": self.table.update(lead_id, failed)}
            log.error("lead %s failed: %s", lead_id, reason)
        try:
            mailer = self.mailer()
            if mailer is None:
                return
            lead = lead_row.lead_from_entity(entity)
            received_at = entity.get("ReceivedAt") or self.clock()
            if entity.get("DynamicsLeadId"):
                link = self.dynamics_settings().record_link(entity["DynamicsLeadId"])
                state = DynamicsState("created", link=link)
            else:
                state = DynamicsState("failed", error=error)
            mails: list[tuple[str, Callable[[], Email]]] = [
                ("NotifiedAt", lambda: lead_notification(lead, received_at, state)),
                ("AlertedAt", lambda: failure_alert(lead_id, lead.offer_title, lead.is_test, error, received_at)),
            ]
            # A claim left by a worker that died must not hold these back: this is the last word on the lead.
            sent = self._send_once(mailer, lead_id, entity, mails, {}, defer=False)
            if sent:
                self.table.update(lead_id, sent | {CLAIM: ""})
        except Exception:
            # The lead is marked failed and `status` shows it; raising would only make the host retry this poison
            # message when its lock expires, with the same outcome.
            log.exception("lead %s: the failure mail could not be sent", lead_id)

    def _send_once(
        self,
        mailer: Mailer,
        lead_id: str,
        entity: dict[str, Any],
        mails: list[tuple[str, Callable[[], Email]]],
        changes: dict[str, Any],
        defer: bool = True,
    ) -> dict[str, Any]:
        """Send each mail whose field (NotifiedAt, AlertedAt) is not set yet, at most once however many workers
        get here: claim the sending with the entity's ETag (the same write records ``changes``), then send.
        ``defer``: leave it to a live claim of another worker. Returns the fields to record. A failed send
        records what did go out, releases the claim and raises."""
        for _ in range(5):
            due = [(field, compose) for field, compose in mails if not entity.get(field)]
            if not due:
                return {}
            claimed_at = entity.get(f"{CLAIM}At")
            if defer and entity.get(CLAIM) and claimed_at and self.clock() - claimed_at < CLAIM_TIMEOUT:
                raise TryAgainLater(f"lead {lead_id}: another worker is sending its mail")
            claim = changes | {CLAIM: uuid.uuid4().hex, f"{CLAIM}At": self.clock(), "UpdatedAt": self.clock()}
            try:
                self.table.update(lead_id, claim, etag=entity["_etag"])
                break
            except LeadChanged:
                found = self.table.get(lead_id)  # someone wrote in between: look again
                if found is None:
                    return {}
                entity = found
        else:
            raise TryAgainLater(f"lead {lead_id}: too much contention to claim its mail")
        sent: dict[str, Any] = {}
        try:
            for field, compose in due:
                mailer.send(compose())
                sent[field] = self.clock()
                log.info("lead %s: %s sent", lead_id, "notification" if field == "NotifiedAt" else "failure alert")
        except Exception:
            self.table.update(lead_id, sent | {CLAIM: ""})  # the next delivery sends what is still missing
            raise
        return sent

    def _note_error(self, lead_id: str, error: Exception) -> None:
        """Keep what went wrong on the entity (for `status` and the poison handler); never raises."""
        kind = (
            "Dataverse" if isinstance(error, DataverseUnavailable) else "mail" if isinstance(error, MailError) else ""
        )
        text = f"{kind + ': ' if kind else ''}{_error_text(error)}"
        log.warning("lead %s will be retried: %s", lead_id, text)
        try:
            self.table.update(lead_id, {"LastError": text[:MAX_ERROR_CHARS], "UpdatedAt": self.clock()})
        except Exception:
            log.warning("lead %s: could not record the error", lead_id, exc_info=True)


def _without_personal_data(text: str, lead: Lead) -> str:
    """An error to keep or mail, with the lead's own contact values and any address taken out."""
    for value in sorted(vars(lead.contact).values(), key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, "[redacted]")
    return without_addresses(text)


def _error_text(error: Exception) -> str:
    return f"{error.__class__.__name__}: {error}"[:MAX_ERROR_CHARS]
