"""The lead's structured events: one log record per state change, with fields (``extra=``) that become custom
dimensions in Application Insights (leads/adapters/telemetry.py says how). The alerts and the workbook in
infra/core/monitor/ query these names and fields; tests/test_infra.py checks that they match.

Pure: names and fields only. Never contact data: the fields are the lead id, offer id, action, status, origin, the
failure's class and durations (for leads received over HTTPS only), nothing the customer typed (no name, email,
phone, company or description).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leads.core import lead_row
from leads.core.lead_row import Status
from leads.core.speed import measures_speed

EVENT = "lead_event"  # the custom dimension holding the event's name

RECEIVED = "lead.received"  # stored, enqueued
IN_DYNAMICS = "lead.in_dynamics"  # created in Dynamics (seconds_to_dynamics)
NOTIFIED = "lead.notified"  # the contacts' mail went out (seconds_to_notified)
ALERTED = "lead.alerted"  # the failure mail went out
DONE = "lead.done"
HELD = "lead.held"
FAILED = "lead.failed"  # reason: the failure's class
POISONED = "lead.poisoned"  # its message reached the poison queue (retries exhausted)
REENQUEUED = "lead.reenqueued"  # still received after the grace period; the timer enqueued it again

FINISHED = {Status.DONE: DONE, Status.HELD: HELD, Status.FAILED: FAILED}
ALL = (RECEIVED, IN_DYNAMICS, NOTIFIED, ALERTED, DONE, HELD, FAILED, POISONED, REENQUEUED)

# "DataverseRejected: 400 ..." (steps/processing.py's error text): the class is the CamelCase word before a colon.
_ERROR_CLASS = re.compile(r"\b([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+):")
_LABEL = re.compile(r"^([a-z][a-z ]{0,20}):")  # "mail: ..." or "gave up: ..." when no class is named


def received(entity: Mapping[str, Any]) -> dict[str, Any]:
    return _about(RECEIVED, entity)


def in_dynamics(entity: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    return _about(IN_DYNAMICS, entity) | _seconds_since_received("seconds_to_dynamics", entity, at)


def sent(entity: Mapping[str, Any], field: str, at: datetime) -> dict[str, Any]:
    """``field`` is the entity field recording the message: NotifiedAt / TeamsNotifiedAt (the lead, by mail or in
    Teams) or AlertedAt / TeamsAlertedAt (the failure alert). ``channel`` says which."""
    channel = {"channel": lead_row.channel_of(field)}
    if field.endswith("NotifiedAt"):
        return _about(NOTIFIED, entity) | channel | _seconds_since_received("seconds_to_notified", entity, at)
    return _about(ALERTED, entity) | channel


def finished(entity: Mapping[str, Any], status: Status, last_error: str = "") -> dict[str, Any]:
    dimensions = _about(FINISHED[status], entity)
    if status == Status.FAILED:
        dimensions["reason"] = reason(last_error)
    return dimensions


def poisoned(entity: Mapping[str, Any]) -> dict[str, Any]:
    return _about(POISONED, entity) | {"reason": reason(str(entity.get("LastError") or ""))}


def reenqueued(entity: Mapping[str, Any]) -> dict[str, Any]:
    return _about(REENQUEUED, entity)


def reason(last_error: str) -> str:
    """The failure's class from a LastError text, never the text itself (it may quote what Dataverse refused).
    After "last error:" (a lead given up on, lead_row.gave_up) the last error's class counts."""
    text = last_error.rpartition("last error: ")[2] or last_error
    for candidate in (text, last_error):
        if found := _ERROR_CLASS.search(candidate):
            return found.group(1)
    label = _LABEL.match(text) or _LABEL.match(last_error)
    return label.group(1) if label else "unknown"


def _about(event: str, entity: Mapping[str, Any]) -> dict[str, Any]:
    status = entity.get("Status") or ""
    if event in FINISHED.values():
        status = event.removeprefix("lead.")
    return {
        EVENT: event,
        "lead_id": str(entity.get("LeadId") or entity.get("RowKey") or ""),
        "offer_id": str(entity.get("OfferId") or ""),
        "action": str(entity.get("Action") or ""),
        "status": str(status),
        "is_test": bool(entity.get("IsTest", False)),
        # Where the lead came from (https, import, table): imported leads carry no durations (speed.measures_speed).
        "origin": str(entity.get("Origin") or lead_row.ORIGIN_ENDPOINT),
    }


def _seconds_since_received(name: str, entity: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    received_at = entity.get("ReceivedAt")
    if not isinstance(received_at, datetime) or not measures_speed(entity):  # imported: received days before
        return {}
    return {name: round((at - received_at).total_seconds(), 3)}
