"""`status`: counts per status, the oldest unfinished lead, recent failures. Personal data only when asked."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, TextIO

from leads.core.lead_row import LEAD_PARTITION_BOUNDS, LEAD_PARTITIONS, Status
from leads.ops.common import UNFINISHED
from leads.steps.ports import LeadStore

SUMMARY_COLUMNS = [
    "RowKey",
    "Status",
    "ReceivedAt",
    "UpdatedAt",
    "LastError",
    "IsTest",
    "OfferTitle",
    "Action",
    "DynamicsLeadId",
    "NotifiedAt",
]


def status(
    table: LeadStore,
    out: TextIO,
    since: datetime | None = None,
    only: str | None = None,
    as_json: bool = False,
    show_contact: bool = False,
    limit: int = 20,
) -> int:
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
    leads = [_summary(entity, show_contact) for entity in table.query(query, parameters, select=columns)]
    leads.sort(key=lambda lead: lead["received"] or "", reverse=True)
    counts = Counter(lead["status"] for lead in leads)
    unfinished = [lead for lead in leads if lead["status"] in UNFINISHED]
    oldest = min(unfinished, key=lambda lead: lead["received"] or "") if unfinished else None
    failures = [lead for lead in leads if lead["status"] == Status.FAILED][:limit]
    if as_json:
        json.dump(
            {
                "counts": dict(counts),
                "total": len(leads),
                "oldest_unfinished": oldest,
                "failures": failures,
                "leads": leads[:limit] if only else [],
            },
            out,
            indent=2,
            default=str,
        )
        print(file=out)
        return 0
    print(f"{len(leads)} lead(s)" + "".join(f" · {name} {count}" for name, count in sorted(counts.items())), file=out)
    if oldest:
        print(f"oldest unfinished: {oldest['id']} ({oldest['status']}, received {oldest['received']})", file=out)
    if failures:
        print("recent failures:", file=out)
        for lead in failures:
            print(f"  {lead['id']}  {lead['received']}  {lead['error']}", file=out)
    if only:
        print(f"{only} leads (newest first):", file=out)
        for lead in leads[:limit]:
            print(_line(lead), file=out)
    return 0


def _summary(entity: dict[str, Any], show_contact: bool) -> dict[str, Any]:
    summary = {
        "id": entity["RowKey"],
        "status": entity.get("Status"),
        "received": _iso(entity.get("ReceivedAt")),
        "updated": _iso(entity.get("UpdatedAt")),
        "test": bool(entity.get("IsTest")),
        "offer": entity.get("OfferTitle"),
        "action": entity.get("Action"),
        "dynamics_lead_id": entity.get("DynamicsLeadId") or None,
        "notified": _iso(entity.get("NotifiedAt")),
        "error": entity.get("LastError") or None,
    }
    if show_contact:
        summary["contact"] = json.loads(entity.get("CustomerInfo") or "{}")
    return summary


def _line(lead: dict[str, Any]) -> str:
    parts = [lead["id"], lead["status"], lead["received"] or "", lead["offer"] or ""]
    if lead.get("test"):
        parts.append("[test]")
    if lead.get("contact"):
        contact = lead["contact"]
        parts.append(" ".join(filter(None, (contact.get("FirstName"), contact.get("LastName"), contact.get("Email")))))
    if lead.get("error"):
        parts.append(f"error: {lead['error']}")
    return "  " + "  ".join(str(part) for part in parts)


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else None


def parse_since(value: str, now: datetime) -> datetime:
    """``30m``, ``12h``, ``7d`` or an ISO date/time → the moment it names."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if value[-1:] in units and value[:-1].isdigit():
        return now - timedelta(**{units[value[-1]]: int(value[:-1])})
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
