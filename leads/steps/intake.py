"""Receiving a lead over HTTP: validate, store, enqueue, and the answer the marketplace gets.

Every accepted lead is stored before the 202; what is not a lead gets a 4xx with a JSON message; trouble on
our side gets a 503 with Retry-After (so the marketplace tries again), never a 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from leads.core import events, lead_row
from leads.core.errors import StorageRefused, StorageUnavailable
from leads.core.lead_row import Status
from leads.core.payload import InvalidLead, decode_body, parse_lead
from leads.settings import SettingsError
from leads.steps.ports import LeadQueue, LeadStore

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30
# A repeat of a lead that has waited in `received` this long enqueues it again: its first message was lost, or never
# sent (a lead is normally processed within seconds; reconciliation would find it only after its grace period).
STRANDED_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class Receipt:
    lead_id: str
    duplicate: bool


@dataclass(frozen=True)
class Answer:
    """The HTTP answer: status, JSON body, headers."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def receive(body: bytes, table: LeadStore, queue: LeadQueue, received_at: datetime) -> Receipt:
    """Store a new lead and enqueue it; a repeat of a stored lead is answered as a duplicate and changes nothing.

    Raises InvalidLead for what is not a lead and StorageUnavailable when it could not be stored.
    """
    lead = parse_lead(decode_body(body))
    entity = lead_row.new_entity(lead, received_at)
    if not admit(lead.lead_id, entity, table, queue):
        log.info("lead %s received again: duplicate, not stored twice", lead.lead_id)
        return Receipt(lead.lead_id, duplicate=True)
    test = " (marketplace test lead)" if lead.is_test else ""
    log.info("lead %s received%s", lead.lead_id, test, extra=events.received(entity))
    return Receipt(lead.lead_id, duplicate=False)


def admit(lead_id: str, entity: dict[str, Any], table: LeadStore, queue: LeadQueue) -> bool:
    """Store a lead's row and enqueue it: False when the lead was stored already (a repeat).
    StorageUnavailable when it could not be stored; a queue that is down is left to reconciliation.

    A row that is there already can be our own: an insert that went through but whose answer was lost (a 500, a
    time-out) is retried by the storage SDK, and the retry gets 409. The row then carries this entity's own times.
    Either way, a lead still waiting in `received` whose message may never have been sent (that lost answer, a
    crash before enqueueing, a queue that was down) is enqueued now rather than at the next reconciliation."""
    if table.insert(entity):
        _enqueue(lead_id, queue)
        return True
    existing = table.get(lead_id)
    if existing is None:  # removed meanwhile (erased): nothing to enqueue
        return False
    ours = all(existing.get(name) == entity[name] for name in ("ReceivedAt", "UpdatedAt"))
    waiting = existing.get("Status") == Status.RECEIVED and existing.get("UpdatedAt") is not None
    if ours or (waiting and entity["UpdatedAt"] - existing["UpdatedAt"] > STRANDED_AFTER):
        _enqueue(lead_id, queue)
    return ours


def _enqueue(lead_id: str, queue: LeadQueue) -> None:
    try:
        queue.send(lead_row.queue_message(lead_id))
    except StorageUnavailable:
        # The lead is safely stored: the reconciliation timer enqueues leads left in `received`.
        log.warning("lead %s stored but not enqueued (queue unavailable); reconciliation will enqueue it", lead_id)


def answer(
    body: bytes, table: Callable[[], LeadStore], queue: Callable[[], LeadQueue], received_at: datetime
) -> Answer:
    """The HTTP function's answer; never raises. The store and queue come through functions, so a storage
    setting that is wrong is answered (503), not raised."""
    try:
        receipt = receive(body, table(), queue(), received_at)
    except InvalidLead as exc:
        return _json(exc.status, {"error": str(exc)})
    except SettingsError as exc:
        log.error("cannot store leads: %s", exc)
        return _json(503, {"error": "the lead endpoint is misconfigured; its operator has been told"}, retry=True)
    except StorageRefused as exc:
        # A bug to report (the entity is wrong), not an outage: still 503, because the marketplace trying again
        # after a fixed app is deployed is the only way this lead can still arrive.
        log.error("cannot store lead: storage refused it for good (%s); this is a bug: report it", exc)
        return _json(503, {"error": "the lead could not be stored; its operator has been told"}, retry=True)
    except StorageUnavailable as exc:
        log.error("cannot store lead: storage unavailable (%s)", exc)
        return _json(503, {"error": "lead storage is unavailable; please retry"}, retry=True)
    except Exception:
        log.exception("unexpected error while receiving a lead")
        return _json(503, {"error": "the lead could not be stored; please retry"}, retry=True)
    return _json(202, {"id": receipt.lead_id, "duplicate": receipt.duplicate})


def _json(status: int, body: dict[str, object], retry: bool = False) -> Answer:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if retry else {}
    return Answer(status, json.dumps(body), headers)
