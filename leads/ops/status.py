"""`status`: counts per status, the oldest unfinished lead, recent failures, speed to lead, leads per offer and
action, and the recent leads (status_view.py formats those). Personal data only when asked."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from leads.core.lead_row import ERASED_AT, LEAD_PARTITION_BOUNDS, LEAD_PARTITIONS, SCRUBBED_AT, Status
from leads.core.returning import RETURNING
from leads.core.speed import NOTIFICATION_FIELDS, timings
from leads.ops import status_view
from leads.ops.common import UNFINISHED
from leads.settings import SettingsError, load_dynamics
from leads.steps.ports import LeadStore

RecordLink = Callable[[str], str]
_AGO = re.compile(r"(\d{1,9})\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

SUMMARY_COLUMNS = [
    "RowKey",
    "Status",
    "ReceivedAt",
    "UpdatedAt",
    "LastError",
    "IsTest",
    "OfferTitle",
    "OfferId",
    "Action",
    "DynamicsLeadId",
    "DynamicsAt",
    "Origin",
    *NOTIFICATION_FIELDS,
    SCRUBBED_AT,
    ERASED_AT,
    RETURNING,
]


def status(
    table: LeadStore,
    out: TextIO,
    since: datetime | None = None,
    only: str | None = None,
    as_json: bool = False,
    show_contact: bool = False,
    limit: int = 20,
    record_link: RecordLink | None = None,
) -> int:
    """``record_link``: a lead's address in Dynamics from its Dynamics id (dynamics_record_link())."""
    leads = _leads(table, since, only, show_contact, record_link)
    counts = Counter(lead["status"] for lead in leads)
    unfinished = [lead for lead in leads if lead["status"] in UNFINISHED]
    oldest = min(unfinished, key=lambda lead: lead["received"] or "") if unfinished else None
    failures = [lead for lead in leads if lead["status"] == Status.FAILED][:limit]
    speeds, groups = status_view.speeds(leads), status_view.per_offer_and_action(leads)
    returning = status_view.returning_count(leads)
    if as_json:
        document = {
            "counts": dict(counts),
            "total": len(leads),
            "oldest_unfinished": oldest,
            "failures": failures,
            "leads": leads[:limit] if only else [],
            "speed": {name: asdict(found) if found else None for name, found in speeds.items()},
            "per_offer_action": groups,
            "recent": leads[:limit],
            "returning": returning,
        }
        json.dump(document, out, indent=2, default=str)
        print(file=out)
        return 0
    lines = [f"{len(leads)} lead(s)" + "".join(f" · {name} {count}" for name, count in sorted(counts.items()))]
    lines += status_view.returning_lines(returning)
    if oldest:
        lines.append(f"oldest unfinished: {oldest['id']} ({oldest['status']}, received {oldest['received']})")
    if failures:
        lines += ["recent failures:", *(f"  {lead['id']}  {lead['received']}  {lead['error']}" for lead in failures)]
    if only:
        lines += [f"{only} leads (newest first):", *(_line(lead) for lead in leads[:limit])]
    lines += status_view.speed_lines(speeds) + status_view.offer_lines(groups)
    if not only:  # with --status, the list above is the recent leads
        lines += status_view.recent_lines(leads[:limit], show_contact)
    for line in lines:
        print(line, file=out)
    return 0


def _leads(
    table: LeadStore, since: datetime | None, only: str | None, show_contact: bool, record_link: RecordLink | None
) -> list[dict[str, Any]]:
    """The leads in the window (and status), newest first, as summaries."""
    conditions: list[str] = []
    parameters: dict[str, Any] = {}
    if since is not None:
        conditions.append("ReceivedAt ge @since")
        parameters["since"] = since
    if only:
        conditions.append("Status eq @status")
        parameters["status"] = only
    query = " and ".join(conditions) or LEAD_PARTITIONS  # not the rows of our own beside the leads (watermarks)
    parameters = parameters or dict(LEAD_PARTITION_BOUNDS)
    columns = [*SUMMARY_COLUMNS, "CustomerInfo"] if show_contact else SUMMARY_COLUMNS
    leads = [_summary(entity, show_contact, record_link) for entity in table.query(query, parameters, select=columns)]
    leads.sort(key=lambda lead: lead["received"] or "", reverse=True)
    return leads


def dynamics_record_link() -> RecordLink | None:
    """Links to the leads in Dynamics when DYNAMICS_URL is set and valid; otherwise the table shows each lead's
    Dynamics id instead. A link needs only the address: the sign-in settings are not required (as if Dynamics
    were off), so an operator's machine with DYNAMICS_URL alone gets links."""
    try:
        dynamics = load_dynamics({**os.environ, "DYNAMICS_ENABLED": "false"})
    except SettingsError:
        return None
    return dynamics.record_link if dynamics.url else None


def _summary(entity: dict[str, Any], show_contact: bool, record_link: RecordLink | None) -> dict[str, Any]:
    spent = timings(entity)
    dynamics_lead_id = entity.get("DynamicsLeadId") or None
    summary = {
        "id": entity["RowKey"],
        "status": entity.get("Status"),
        "received": _iso(entity.get("ReceivedAt")),
        "updated": _iso(entity.get("UpdatedAt")),
        "test": bool(entity.get("IsTest")),
        "offer": entity.get("OfferTitle"),
        "action": entity.get("Action"),
        "dynamics_lead_id": dynamics_lead_id,
        "notified": _iso(entity.get("NotifiedAt")),
        "error": entity.get("LastError") or None,
        # Added for speed to lead (the keys above are a public contract: add, never rename).
        "offer_id": entity.get("OfferId"),
        "dynamics_at": _iso(entity.get("DynamicsAt")),
        "seconds_to_dynamics": spent.to_dynamics,
        "seconds_to_notified": spent.to_notified,
        "dynamics_link": record_link(dynamics_lead_id) if record_link and dynamics_lead_id else None,
        # Added for retention and erasure: when the lead's personal data was removed (core/personal.py).
        "scrubbed": _iso(entity.get(SCRUBBED_AT)),
        "erased": _iso(entity.get(ERASED_AT)),
        # Added for returning customers: the event became a note on the person's open lead (dynamics_lead_id).
        "returning": bool(entity.get(RETURNING)),
    }
    if show_contact:
        summary["contact"] = json.loads(entity.get("CustomerInfo") or "{}")
    return summary


def _line(lead: dict[str, Any]) -> str:
    parts = [lead["id"], lead["status"], lead["received"] or "", lead["offer"] or ""]
    if lead.get("test"):
        parts.append("[test]")
    if lead.get("scrubbed"):
        parts.append("[personal data erased on request]" if lead.get("erased") else "[personal data removed]")
    if lead.get("contact"):
        contact = lead["contact"]
        parts.append(" ".join(filter(None, (contact.get("FirstName"), contact.get("LastName"), contact.get("Email")))))
    if lead.get("error"):
        parts.append(f"error: {lead['error']}")
    return "  " + "  ".join(str(part) for part in parts)


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else None


def parse_since(value: str, now: datetime) -> datetime:
    """What people type for "since" → the moment it names: ``30m``, ``12h``, ``7d``, ``1w`` before ``now``;
    ``today`` and ``yesterday`` (from midnight UTC); an ISO date or time (UTC unless it says otherwise). ValueError
    for anything else."""
    text = value.strip().lower()
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if text in ("today", "yesterday"):
        return midnight - timedelta(days=1 if text == "yesterday" else 0)
    if (found := _AGO.fullmatch(text)) is not None:
        try:
            return now - timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
        except OverflowError:
            raise ValueError(value) from None
    moment = datetime.fromisoformat(value.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
