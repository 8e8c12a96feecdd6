"""Receiving a lead over HTTP: validate, store, enqueue, answer 202."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import azure.functions as func

from leads import runtime
from leads.adapters.storage import StorageUnavailable
from leads.core import lead_row
from leads.core.payload import InvalidLead, decode_body, parse_lead
from leads.settings import SettingsError

if TYPE_CHECKING:  # the storage SDKs load on first use, not at cold start
    from leads.adapters.lead_queue import LeadQueue
    from leads.adapters.lead_table import LeadTable

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class Receipt:
    lead_id: str
    duplicate: bool


def receive(body: bytes, table: LeadTable, queue: LeadQueue, received_at: datetime) -> Receipt:
    """Store a new lead and enqueue it; a repeat of a stored lead is answered as a duplicate and changes nothing.

    Raises InvalidLead for what is not a lead and StorageUnavailable when it could not be stored.
    """
    lead = parse_lead(decode_body(body))
    if not table.insert(lead_row.new_entity(lead, received_at)):
        log.info("lead %s received again: duplicate, not stored twice", lead.lead_id)
        return Receipt(lead.lead_id, duplicate=True)
    try:
        queue.send(lead_row.queue_message(lead.lead_id))
    except StorageUnavailable:
        # The lead is safely stored: the reconciliation timer enqueues leads left in `received`.
        log.warning("lead %s stored but not enqueued (queue unavailable); reconciliation will enqueue it", lead.lead_id)
    log.info("lead %s received%s", lead.lead_id, " (marketplace test lead)" if lead.is_test else "")
    return Receipt(lead.lead_id, duplicate=False)


def handle(request: func.HttpRequest) -> func.HttpResponse:
    """The HTTP function: never raises, never answers 500."""
    try:
        receipt = receive(request.get_body(), runtime.lead_table(), runtime.lead_queue(), lead_row.now())
    except InvalidLead as exc:
        return _json(exc.status, {"error": str(exc)})
    except SettingsError as exc:
        log.error("cannot store leads: %s", exc)
        return _json(503, {"error": "the lead endpoint is misconfigured; its operator has been told"}, retry=True)
    except StorageUnavailable as exc:
        log.error("cannot store lead: storage unavailable (%s)", exc)
        return _json(503, {"error": "lead storage is unavailable; please retry"}, retry=True)
    except Exception:
        log.exception("unexpected error while receiving a lead")
        return _json(503, {"error": "the lead could not be stored; please retry"}, retry=True)
    return _json(202, {"id": receipt.lead_id, "duplicate": receipt.duplicate})


def _json(status: int, body: dict[str, Any], retry: bool = False) -> func.HttpResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if retry else None
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json", headers=headers)
