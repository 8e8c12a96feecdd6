"""What an operator runs: check the setup, send a test lead, see every lead's state, replay leads.

Output names leads by id; personal data appears only when asked for (``status --show-contact``).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TextIO

import requests

from leads.adapters.dataverse import Dataverse, DataverseError
from leads.adapters.lead_queue import LeadQueue
from leads.adapters.lead_table import LeadTable
from leads.adapters.mail import MailError, new_mailer
from leads.adapters.signin import SignInError, token_source
from leads.adapters.storage import StorageUnavailable
from leads.core import lead_row
from leads.core.lead_row import Status
from leads.settings import (
    SettingsError,
    load_dynamics,
    load_mail,
    load_reconcile,
    load_storage,
    parse_addresses,
)

PASS, FAIL, SKIP = "✓", "✗", "-"
UNFINISHED = (Status.RECEIVED.value, Status.HELD.value)


# --- check --------------------------------------------------------------------------------------


@dataclass
class Check:
    ok: bool | None  # None: not checked (an earlier check failed, or it does not apply)
    name: str
    detail: str


def check(env: dict[str, str] | None = None, out: TextIO | None = None) -> int:
    """Validate the configuration against the live services; exit code 0 only when every check passes."""
    results: list[Check] = []

    def report(ok: bool | None, name: str, detail: str) -> None:
        results.append(Check(ok, name, detail))
        if out is not None:
            mark = PASS if ok else SKIP if ok is None else FAIL
            print(f"{mark} {name}: {detail}", file=out, flush=True)

    storage = dynamics = mail = None
    for name, loader in (
        ("storage settings", load_storage),
        ("Dynamics settings", load_dynamics),
        ("mail settings", load_mail),
        ("reconciliation settings", load_reconcile),
    ):
        try:
            loaded: Any = loader(env)
        except SettingsError as exc:
            report(False, name, "; ".join(exc.problems))
            continue
        report(True, name, "parsed")
        storage = loaded if loader is load_storage else storage
        dynamics = loaded if loader is load_dynamics else dynamics
        mail = loaded if loader is load_mail else mail

    if storage is not None:
        _check_storage(storage, report)
    if dynamics is not None:
        _check_dynamics(dynamics, report)
    raw_contacts = (os.environ if env is None else env).get("NOTIFY_TO", "")
    valid, invalid = parse_addresses(raw_contacts)
    if invalid:
        report(False, "contacts", f"not email addresses: {', '.join(invalid)} (NOTIFY_TO, separated by semicolons)")
    elif valid:
        report(True, "contacts", f"{len(valid)} address(es) parse")
    else:
        report(None, "contacts", "NOTIFY_TO is empty: no notification emails will be sent")
    if mail is not None:
        _check_mail(mail, dynamics, report)
    failed = [result for result in results if result.ok is False]
    if out is not None:
        print(
            f"\n{len(results) - len(failed)} passed, {len(failed)} failed" if failed else "\nall checks passed",
            file=out,
        )
    return 1 if failed else 0


def _check_storage(storage: Any, report: Callable[[bool | None, str, str], None]) -> None:
    try:
        table = LeadTable(storage)
        count = sum(1 for _ in table.query("PartitionKey ge @low", {"low": ""}, select=["RowKey"]))
        queue = LeadQueue(storage)
        depth = queue.client.get_queue_properties().approximate_message_count
    except StorageUnavailable as exc:
        report(
            False,
            "storage",
            f"unreachable ({exc}); check AzureWebJobsStorage and that the account (or Azurite) is running",
        )
        return
    except Exception as exc:
        if "QueueNotFound" in str(exc):
            report(
                True,
                "storage",
                f"table {storage.table_name} has {count} lead(s); queue {storage.queue_name} "
                "will be created with the first lead",
            )
            return
        report(False, "storage", f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}; check AzureWebJobsStorage")
        return
    report(
        True,
        "storage",
        f"table {storage.table_name} has {count} lead(s), queue {storage.queue_name} holds {depth} message(s)",
    )


def _check_dynamics(dynamics: Any, report: Callable[[bool | None, str, str], None]) -> None:
    if not dynamics.enabled:
        report(None, "Dynamics", "DYNAMICS_ENABLED is false: leads are kept as held, nothing is sent")
        return
    report(True, "Dynamics URL", dynamics.url)
    tokens = token_source(dynamics)
    dataverse = Dataverse(dynamics, tokens, requests.Session())
    try:
        tokens.token(dataverse.scope)
    except SignInError as exc:
        report(False, f"sign-in ({dynamics.auth})", str(exc))
        return
    except Exception as exc:
        report(
            False,
            f"sign-in ({dynamics.auth})",
            f"Entra ID could not be reached ({exc.__class__.__name__}); check AZURE_AUTHORITY_HOST and the network",
        )
        return
    report(True, f"sign-in ({dynamics.auth})", f"token for {dataverse.scope}")
    try:
        me = dataverse.who_am_i()
    except DataverseError as exc:
        report(False, "WhoAmI", _dataverse_advice(exc))
        return
    report(True, "WhoAmI", f"user {me.get('UserId')} in organisation {me.get('OrganizationId')}")
    try:
        privileges = dataverse.privileges(str(me.get("UserId")))
    except DataverseError as exc:
        report(False, "create leads", f"could not read the user's privileges: {_dataverse_advice(exc)}")
        return
    if "prvCreateLead" in privileges:
        report(
            True,
            "create leads",
            "the user holds prvCreateLead (column-level security on leadsourcecode is not "
            "checked without writing a lead: send-test-lead does that)",
        )
    else:
        report(False, "create leads", "the user lacks prvCreateLead: give its security role Create on Lead")


def _dataverse_advice(error: DataverseError) -> str:
    if error.status == 403 or error.status == 401:
        return (
            f"{error} — create an application user in Dynamics (Power Platform admin center → Environments → "
            "Settings → Users + permissions → Application users) with the client id AZURE_CLIENT_ID and a "
            "security role that can create leads"
        )
    if error.status == 404:
        return f"{error} — DYNAMICS_URL or DYNAMICS_API_VERSION does not point at a Dataverse Web API"
    return str(error)


def _check_mail(mail: Any, dynamics: Any, report: Callable[[bool | None, str, str], None]) -> None:
    if not mail.enabled:
        report(None, "mail", "no notifications (NOTIFY_TO empty or MAIL_TRANSPORT=none)")
        return
    if mail.transport == "graph" and dynamics is None:
        report(None, "mail (graph)", "not checked: Graph signs in with the Dynamics settings, which need fixing first")
        return
    try:
        tokens = token_source(dynamics) if mail.transport == "graph" else None
        mailer = new_mailer(mail, tokens, requests.Session())
        assert mailer is not None
        detail = mailer.check()
    except MailError as exc:
        report(False, f"mail ({mail.transport})", str(exc))
        return
    report(True, f"mail ({mail.transport})", detail)


# --- send-test-lead -----------------------------------------------------------------------------


def test_lead_payload(ticks: int) -> dict[str, Any]:
    """A lead shaped like the one Partner Center sends when the publisher presses Validate."""
    name = f"MSFT_TEST_{ticks}"
    return {
        "UserDetails": {
            "FirstName": name,
            "LastName": name,
            "Email": f"{name}@test.com",
            "Phone": "1234567890",
            "Country": "US",
            "Company": name,
            "Title": name,
        },
        "LeadSource": "AzureMarketplace",
        "ActionCode": "INS",
        "OfferTitle": "Contoso Test",
        "Description": name,
    }


def dotnet_ticks(moment: datetime) -> int:
    """.NET ticks (100 ns since 0001-01-01), as Microsoft's test lead names use."""
    return int((moment.replace(tzinfo=None) - datetime(1, 1, 1)).total_seconds() * 10_000_000)


def send_test_lead(
    url: str, code: str | None, out: TextIO, follow_seconds: float = 60.0, env: dict[str, str] | None = None
) -> int:
    payload = test_lead_payload(dotnet_ticks(lead_row.now()))
    params = {"code": code} if code else None
    print(f"POST {url} (lead {payload['UserDetails']['FirstName']})", file=out, flush=True)
    try:
        response = requests.post(url, json=payload, params=params, timeout=30)
    except requests.RequestException as exc:
        print(
            f"{FAIL} the endpoint did not answer ({exc.__class__.__name__}); is the app running (make run)?", file=out
        )
        return 1
    print(f"{PASS if response.status_code == 202 else FAIL} {response.status_code} {response.text}", file=out)
    if response.status_code != 202:
        return 1
    lead_id = response.json()["id"]
    try:
        table = LeadTable(load_storage(env))
    except SettingsError:
        print(
            f"{SKIP} the lead table is not configured here; follow lead {lead_id} with `status` where it is", file=out
        )
        return 0
    return follow(table, lead_id, out, follow_seconds)


def follow(table: LeadTable, lead_id: str, out: TextIO, seconds: float) -> int:
    """Print each step the lead takes until it is done, held or failed."""
    steps = [("Status", "stored"), ("DynamicsLeadId", "in Dynamics as"), ("NotifiedAt", "contacts notified at")]
    shown: set[str] = set()
    entity: dict[str, Any] | None = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            entity = table.get(lead_id)
        except StorageUnavailable:
            entity = None
        for field, label in steps:
            if entity and entity.get(field) and field not in shown:
                shown.add(field)
                value = entity[field]
                print(f"{PASS} {label} {value if field != 'Status' else ''}".rstrip(), file=out, flush=True)
        if entity and entity.get("Status") in (Status.DONE, Status.HELD, Status.FAILED):
            ok = entity["Status"] != Status.FAILED
            error = f": {entity.get('LastError')}" if not ok else ""
            print(f"{PASS if ok else FAIL} lead {lead_id} is {entity['Status']}{error}", file=out)
            return 0 if ok else 1
        time.sleep(0.5)
    if entity is None:
        print(f"{FAIL} lead {lead_id} is not in the table configured here (AzureWebJobsStorage, LEADS_TABLE): "
              "follow it with `status` where the endpoint's settings are", file=out)  # fmt: skip
    else:
        print(f"{FAIL} lead {lead_id} is still {entity.get('Status')} after {seconds:.0f}s; is the queue function "
              "running?", file=out)  # fmt: skip
    return 1


# --- status -------------------------------------------------------------------------------------

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
    table: LeadTable,
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
    query = " and ".join(conditions) or "PartitionKey ge @low"
    parameters = parameters or {"low": ""}
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


# --- replay -------------------------------------------------------------------------------------


def replay(table: LeadTable, queue: LeadQueue, lead_ids: Iterable[str], statuses: Iterable[str], out: TextIO) -> int:
    """Enqueue the chosen leads again. Idempotent: a lead that is done is left as it is."""
    chosen = list(dict.fromkeys(lead_ids))
    for wanted in statuses:
        chosen.extend(
            entity["RowKey"] for entity in table.query("Status eq @status", {"status": wanted}, select=["RowKey"])
        )
    replayed = unchanged = missing = 0
    for index, lead_id in enumerate(chosen, start=1):
        entity = table.get(lead_id)
        if entity is None:
            print(f"{FAIL} {lead_id}: no such lead", file=out)
            missing += 1
            continue
        if entity.get("Status") == Status.DONE:
            print(f"{SKIP} {lead_id}: already done, nothing to replay", file=out)
            unchanged += 1
            continue
        changes: dict[str, Any] = {"Status": Status.RECEIVED.value, "UpdatedAt": lead_row.now()}
        if entity.get("Status") == Status.FAILED:
            # A new failure may alert again; the notification, if it went out, is not sent twice.
            changes |= {"AlertedAt": "", "LastError": f"replayed after: {entity.get('LastError', '')}"[:1000]}
        table.update(lead_id, changes)
        queue.send(lead_row.queue_message(lead_id))
        replayed += 1
        if len(chosen) > 10 and (index % 50 == 0 or index == len(chosen)):
            print(f"  {index}/{len(chosen)}", file=out, flush=True)
        elif len(chosen) <= 10:
            print(f"{PASS} {lead_id}: enqueued again (was {entity.get('Status')})", file=out)
    print(f"replayed {replayed}, already done {unchanged}, not found {missing}", file=out)
    return 1 if missing else 0
