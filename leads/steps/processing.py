"""Processing a lead from the queue: Dynamics first, then the notifications (mail, Teams), each exactly once.

A queue message can arrive more than once, and several workers run at once. What has been done is
recorded on the lead's table entity, so every delivery resumes at the step that is missing:

    DynamicsLeadId  set once the lead exists in Dynamics (creating it again is harmless: If-None-Match); for a
                    returning customer's event (DYNAMICS_DUPLICATES), the open lead it became a note on (Returning)
    DynamicsAt      when that was confirmed, written with DynamicsLeadId (speed to lead: `status`)
    NotifiedAt      set once the mail went out; sending is claimed first (MailClaim, see steps/notify.py)
    AlertedAt       set once the failure alert went out (same claim)
    TeamsNotifiedAt, TeamsAlertedAt   the same for the Teams channel (same claim; each channel on its own)
    RoutingNotes    what routing asked for and could not apply (the lead was created without it; also in LastError)
    Status          received → done | held | failed

A lead told on one channel costs one read and two writes (the claim, which also records DynamicsLeadId, and the
final state, which records the message that went out); each further channel adds the write recording its message
as soon as it went out (steps/notify.py says why); without any channel, one read and one write. One rule decides
every failure: TryAgainLater raises, so the queue delivers the message again later (LastError says what it
was); RetryCannotHelp fails the lead. Dynamics itself is steps/into_dynamics.py.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from leads.core import campaign, deadline, events, lead_row
from leads.core.addresses import without_addresses
from leads.core.clock import now
from leads.core.errors import (
    ClaimBusy,
    DeliveryFailed,
    LeadsError,
    MailError,
    PersonBusy,
    RetryCannotHelp,
    TeamsError,
    TeamsRefused,
    TryAgainLater,
)
from leads.core.lead_row import MAX_ERROR_CHARS, Status
from leads.core.messages import DynamicsState, Email, failure_alert, lead_notification
from leads.core.payload import Lead
from leads.core.service_text import error_text, without_lead_values
from leads.core.teams_card import failure_card, lead_card
from leads.settings import DynamicsSettings, SettingsError
from leads.steps.into_dynamics import IntoDynamics
from leads.steps.notify import Delivery, Due, Stop, first_error, write_decided
from leads.steps.ports import CardPoster, Crm, LeadStore, Mailer
from leads.steps.returning import ReturningCustomers
from leads.steps.routing import LeadRouter

log = logging.getLogger(__name__)


@dataclass
class LeadProcessor:
    """The lead's way through Dynamics and mail, given the store and the services. Settings and clients come
    through functions called on first use, so a mistake in the Dynamics or mail settings cannot stop a failed
    lead from being marked failed."""

    store: LeadStore
    dynamics_settings: Callable[[], DynamicsSettings]
    crm: Callable[[], Crm]
    mailer: Callable[[], Mailer | None]
    clock: Callable[[], datetime] = now
    router: Callable[[], LeadRouter | None] = lambda: None  # no routing rules, no contact linking
    teams: Callable[[str], CardPoster | None] = lambda setting: None  # the channel an app setting names ("": default)
    sleep: Callable[[float], None] = time.sleep  # between attempts to record a sent message (steps/notify.py)
    budget: float = deadline.DELIVERY_BUDGET_SECONDS  # one delivery's time (core/deadline.py)
    # DYNAMICS_DUPLICATES attach or rules (steps/returning.py); None: every lead is created (the default)
    returning: Callable[[], ReturningCustomers | None] = lambda: None

    def process_message(self, text: str) -> None:
        try:
            lead_id = lead_row.lead_id_from_message(text)
        except ValueError as exc:
            # Not ours; retrying cannot help, so the message is completed and the reason logged.
            log.error("ignoring queue message: %s", exc)
            return
        self.process(lead_id)

    def process(self, lead_id: str) -> None:
        entity = self.store.get(lead_id)
        if entity is None:
            log.error("lead %s: no such lead in the table; message ignored", lead_id)
            return
        if lead_row.is_finished(entity):
            log.info("lead %s is already %s; nothing to do", lead_id, entity["Status"])
            return
        failure: LeadsError | None = None
        try:
            with deadline.within(self.budget):
                self._process(lead_id, entity)
        except Stop:
            log.info("lead %s: finished by another worker meanwhile; nothing to do", lead_id)
        except PersonBusy as exc:  # another lead of the same person is going into Dynamics (steps/returning.py)
            log.info("lead %s: %s; the queue tries again later", lead_id, str(exc).partition(": ")[2])
            raise PersonBusy(str(exc)) from None
        except ClaimBusy:
            # Not an error of the lead's: another worker is sending. The queue delivers this message again later,
            # when that worker has finished the lead (or its claim expired).
            log.info("lead %s: another worker is sending its notifications; the queue tries again later", lead_id)
            failure = ClaimBusy(f"lead {lead_id}: another worker is sending its notifications")
        except Exception as exc:
            failure = DeliveryFailed(f"lead {lead_id}: {self._note_error(lead_id, exc, entity)}")
        if failure is not None:
            # The host logs what leaves the function, with its traceback and chained exceptions: only the redacted
            # text leaves, raised out here so that not even __context__ holds the original (which may quote values).
            raise failure

    def _process(self, lead_id: str, entity: dict[str, Any]) -> None:
        lead = lead_row.lead_from_entity(entity)
        received_at: datetime = entity.get("ReceivedAt") or self.clock()
        facts: dict[str, Any] = {}  # what was learnt (the Dynamics id…): written with the claim, or at the end
        status, state, entity = self._into_dynamics().run(lead_id, lead, received_at, entity, facts)
        error = state.error
        dues = self._dues(lead_id, lead, received_at, state, alert=status == Status.FAILED)
        delivery = Delivery(self.store, self.clock, lead_id, entity, sleep=self.sleep)
        if any(lead_row.notification_due(entity, due.field) for due in dues):
            due = delivery.claim(dues, facts, wanted=_still_to_tell)
            if errors := delivery.send(due):
                failure = first_error(errors)
                if not isinstance(failure, RetryCannotHelp):
                    delivery.release()  # what went out is recorded; the next delivery sends what is missing
                    raise failure
                # A mail or Teams setting is wrong (permission, mailbox, deleted workflow): retrying cannot help
                # until someone fixes it. The lead fails, `status` says why, and `replay --failed` sends what is
                # missing once it is fixed (never Dynamics again, nor a channel that already had it).
                status, error = Status.FAILED, without_lead_values(f"{_channel(failure)}: {failure}", lead)
                log.error("lead %s: a notification could not be sent and will not be retried: %s", lead_id, error)
                alerts = self._alerts_elsewhere(lead_id, lead, received_at, state, error, _channel(failure), delivery)
                trouble = [problem for problem in delivery.send(alerts) if isinstance(problem, TryAgainLater)]
                if trouble:  # the alert must go out: the queue tries again later (the lead stays received)
                    delivery.release()
                    raise trouble[0]
        notes = state.notes

        def settle(current: dict[str, Any]) -> dict[str, Any]:
            if current.get(lead_row.ERASED_AT):
                return {}  # erased meanwhile (`forget`): it stays as erasing left it
            changes = lead_row.finished(status, self.clock())
            if status == Status.FAILED:
                changes["LastError"] = error[:MAX_ERROR_CHARS]
            elif notes:  # created, but without something routing asked for
                changes["LastError"] = ("routing: " + "; ".join(notes))[:MAX_ERROR_CHARS]
            return changes

        delivery.finish(facts, settle)
        final = delivery.entity
        log.info(
            "lead %s %s",
            lead_id,
            final.get("Status", status.value),
            extra=events.finished(final, Status(final.get("Status") or status), final.get("LastError", "")),
        )

    def _into_dynamics(self) -> IntoDynamics:
        return IntoDynamics(self.store, self.dynamics_settings, self.crm, self.router, self.returning, self.clock)

    def _notification(self, lead: Lead, received_at: datetime, state: DynamicsState) -> Email:
        """The lead's mail, to the recipients its routing rule names (none: NOTIFY_TO)."""
        router = self.router()
        recipients = router.recipients(lead) if router is not None else ()
        return replace(lead_notification(lead, received_at, state), to=recipients)

    def give_up(self, lead_id: str, reason: str) -> None:
        """For the poison queue: the lead exhausted its retries. Mark it failed, and make sure the contacts hear
        of it: the lead itself (if it has not gone out yet: they must not miss it) and the failure alert.

        A poison message can be stale: another message for the same lead (the reconcile's, a replay's) may have
        finished it, or be sending it right now. A lead that is done is left done; while another worker's claim is
        live, ClaimBusy is raised, so the host tries this message again later (by then that worker has finished
        the lead, or its claim has expired). Trouble worth retrying (storage, a service) is raised the same way;
        a setting that is wrong is logged, and `status` shows the lead."""
        entity = self.store.get(lead_id)
        if entity is None:
            log.error("poison message for unknown lead %s", lead_id)
            return
        log.warning("lead %s: retries exhausted (poison queue)", lead_id, extra=events.poisoned(entity))
        if entity.get("Status") == Status.DONE or entity.get(lead_row.ERASED_AT):
            return  # done, or erased on request (`forget`): nobody is to be told about it any more
        now = self.clock()
        if entity.get("Status") == Status.FAILED:
            error = entity.get("LastError") or reason  # a second poison message: the first one said why
        else:
            error = lead_row.gave_up(reason, entity.get("LastError") or "", now)["LastError"]
        failure: DeliveryFailed | None = None
        try:
            with deadline.within(self.budget):
                self._fail_and_alert(lead_id, entity, reason, error)
        except Stop:
            log.info("lead %s: done meanwhile; the poison message is left alone", lead_id)
        except RetryCannotHelp as exc:
            log.error("lead %s: the failure alert could not be sent (%s); `status` shows the lead", lead_id, _name(exc))
        except Exception as exc:
            text = _redacted(exc, entity)
            log.warning("lead %s: the poison message will be tried again: %s", lead_id, text)
            failure = DeliveryFailed(f"lead {lead_id}: {text}")
        if failure is not None:  # raised out here: not even __context__ holds the original
            raise failure

    def _fail_and_alert(self, lead_id: str, entity: dict[str, Any], reason: str, error: str) -> None:
        lead = lead_row.lead_from_entity(entity)
        received_at = entity.get("ReceivedAt") or self.clock()
        if entity.get("DynamicsLeadId"):
            state = DynamicsState("created", link=self.dynamics_settings().record_link(entity["DynamicsLeadId"]))
        else:
            state = DynamicsState("failed", error=error)
        dues = self._dues(lead_id, lead, received_at, state, alert=True)
        delivery = Delivery(self.store, self.clock, lead_id, entity, sleep=self.sleep)

        def failed(current: dict[str, Any]) -> dict[str, Any]:
            if current.get("Status") == Status.FAILED:
                return {}
            return lead_row.gave_up(reason, current.get("LastError") or "", self.clock())

        due = delivery.claim(dues, {}, wanted=_still_to_tell, status=failed)
        log.error("lead %s failed: %s", lead_id, reason, extra=events.finished(entity, Status.FAILED, error))
        errors = delivery.send(due)
        delivery.release()
        if errors:
            raise first_error(errors)

    def _alerts_elsewhere(
        self,
        lead_id: str,
        lead: Lead,
        received_at: datetime,
        state: DynamicsState,
        error: str,
        broken: str,
        delivery: Delivery,
    ) -> list[Due]:
        """A channel's setting is wrong: the failure alert goes out on the channels that still work, so someone
        hears of it (with none left, `status` and the Azure Monitor alerts still show it). The alert says where
        the lead is: in Dynamics already (only a notification failed), or not."""
        state = replace(state, error=error) if state.kind == "created" else DynamicsState("failed", error=error)
        return [
            due
            for due in self._dues(lead_id, lead, received_at, state, alert=True, error=error)
            if due.field.endswith("AlertedAt")
            and lead_row.channel_of(due.field) != broken
            and lead_row.notification_due(delivery.entity, due.field)
        ]

    def _dues(
        self, lead_id: str, lead: Lead, received_at: datetime, state: DynamicsState, alert: bool, error: str = ""
    ) -> list[Due]:
        """Every message the lead's channels are owed: the lead itself, and the failure alert when ``alert``."""
        dues: list[Due] = []
        error = error or state.error or "see LastError (`python -m leads status --status failed`)"
        if (mailer := self.mailer()) is not None:
            dues.append(Due("NotifiedAt", lambda: mailer.send(self._notification(lead, received_at, state))))
            if alert:
                dues.append(Due("AlertedAt", lambda: mailer.send(_alert(lead_id, lead, error, received_at))))
        if (channel := self._teams_channel(lead)) is not None:
            found = campaign.summary(lead.campaign_parameters)
            dues.append(Due("TeamsNotifiedAt", lambda: channel.post(lead_card(lead, received_at, state, found))))
            if alert:
                card = failure_card(lead_id, lead, received_at, state)
                dues.append(Due("TeamsAlertedAt", lambda: channel.post(card)))
        return dues

    def _teams_channel(self, lead: Lead) -> CardPoster | None:
        """The lead's Teams channel. A malformed webhook URL fails that channel alone: its card is refused with
        the setting's problem, while the mail (and the other messages) still go out."""
        router = self.router()
        try:
            return self.teams(router.teams_setting(lead) if router is not None else "")
        except SettingsError as exc:
            return _Refusing(TeamsRefused("; ".join(exc.problems)))

    def _note_error(self, lead_id: str, error: Exception, entity: dict[str, Any]) -> str:
        """Keep what went wrong on the entity (for `status` and the poison handler), without the lead's contact
        details (a service's message may quote them), unless another worker finished the lead meanwhile; returns
        the text kept. Never raises."""
        text = _redacted(error, entity)
        if not isinstance(error, LeadsError):  # a bug: where it happened, without the message (it may quote values)
            where = "".join(traceback.format_tb(error.__traceback__))
            log.error("lead %s: unexpected %s\n%s", lead_id, type(error).__name__, where)
        log.warning("lead %s will be retried: %s", lead_id, text)

        def unless_finished(current: dict[str, Any]) -> dict[str, Any]:
            return {} if lead_row.is_finished(current) else {"LastError": text, "UpdatedAt": self.clock()}

        try:
            write_decided(self.store, lead_id, entity, unless_finished)
        except Exception:
            log.warning("lead %s: could not record the error (%s)", lead_id, type(error).__name__)
        return text


def _alert(lead_id: str, lead: Lead, error: str, received_at: datetime) -> Email:
    return failure_alert(lead_id, lead.offer_title, lead.is_test, error, received_at)


class _Refusing:
    """A channel that cannot be used: every post raises the reason."""

    def __init__(self, reason: TeamsRefused) -> None:
        self.reason = reason

    def post(self, message: dict[str, Any]) -> bool:
        raise self.reason


def _channel(error: Exception) -> str:
    return "teams" if isinstance(error, TeamsError) else "mail" if isinstance(error, MailError) else "notification"


def _redacted(error: Exception, entity: dict[str, Any]) -> str:
    """The error's text without the lead's contact values (from its row) or any address; never raises."""
    text = error_text(error)
    try:
        return without_lead_values(text, lead_row.lead_from_entity(entity))
    except Exception:  # a row without its payload (erased): addresses at least
        return without_addresses(text)


def _name(error: Exception) -> str:
    return type(error).__name__


def _still_to_tell(current: dict[str, Any]) -> bool:
    """Whether a lead's messages are still to go out: not when it is done, or was erased on request meanwhile."""
    return current.get("Status") != Status.DONE and not current.get(lead_row.ERASED_AT)
