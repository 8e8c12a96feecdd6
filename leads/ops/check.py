"""`check`: the configuration against the live services, with advice for each failure. Writes nothing."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import requests

from leads.adapters.dataverse import Dataverse
from leads.adapters.lead_queue import LeadQueue
from leads.adapters.lead_table import LeadTable
from leads.adapters.mailers import new_mailer
from leads.adapters.signin import token_source
from leads.adapters.trust import trust_loopback
from leads.core.addresses import parse_addresses
from leads.core.errors import DataverseError, MailError, SignInError, StorageUnavailable
from leads.core.lead_row import LEAD_PARTITION_BOUNDS, LEAD_PARTITIONS
from leads.core.privileges import EVERY, LEADS, for_duplicates
from leads.ops.check_routing import check_routing
from leads.ops.check_teams import check_teams
from leads.ops.common import FAIL, PASS, SKIP
from leads.ops.failures import STORAGE_ADVICE
from leads.settings import SettingsError, load_dynamics, load_mail, load_reconcile, load_retention, load_storage


@dataclass
class Check:
    ok: bool | None  # None: not checked (an earlier check failed, or it does not apply)
    name: str
    detail: str


def check(env: dict[str, str] | None = None, out: TextIO | None = None, teams_test_card: bool = False) -> int:
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
        ("retention settings", load_retention),
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
    connected = _check_dynamics(dynamics, report) if dynamics is not None else None
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
    check_routing(env, connected, mail, report)
    check_teams(env, teams_test_card, report)
    failed = [result for result in results if result.ok is False]
    if out is not None:
        passed, skipped = (sum(1 for result in results if result.ok is value) for value in (True, None))
        unchecked = f", {skipped} not checked or not configured" if skipped else ""
        print(f"\n{passed} passed, {len(failed)} failed{unchecked}" if failed else "\nall checks passed", file=out)
    return 1 if failed else 0


def _check_storage(storage: Any, report: Callable[[bool | None, str, str], None]) -> None:
    try:
        table = LeadTable(storage)
        count = sum(1 for _ in table.query(LEAD_PARTITIONS, dict(LEAD_PARTITION_BOUNDS), select=["RowKey"]))
        queue = LeadQueue(storage)
        depth = queue.client.get_queue_properties().approximate_message_count
    except StorageUnavailable as exc:
        report(False, "storage", f"unreachable ({exc}); {STORAGE_ADVICE}")
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


def _check_dynamics(
    dynamics: Any, report: Callable[[bool | None, str, str], None]
) -> tuple[Dataverse, set[str]] | None:
    """Sign-in, WhoAmI and the privileges on leads; the client and the privileges the user holds (of those any
    feature needs, including privileges held through a team) when those work."""
    if not dynamics.enabled:
        report(None, "Dynamics", "DYNAMICS_ENABLED is false: leads are kept as held, nothing is sent")
        return None
    report(True, "Dynamics URL", dynamics.url)
    tokens = token_source(dynamics)
    dataverse = Dataverse(dynamics, tokens, trust_loopback(requests.Session()))
    try:
        tokens.token(dataverse.scope)
    except SignInError as exc:
        report(False, f"sign-in ({dynamics.auth})", str(exc))
        return None
    except Exception as exc:
        report(
            False,
            f"sign-in ({dynamics.auth})",
            f"Entra ID could not be reached ({exc.__class__.__name__}); check AZURE_AUTHORITY_HOST and the network",
        )
        return None
    report(True, f"sign-in ({dynamics.auth})", f"token for {dataverse.scope}")
    try:
        me = dataverse.who_am_i()
    except DataverseError as exc:
        report(False, "WhoAmI", _dataverse_advice(exc))
        return None
    report(True, "WhoAmI", f"user {me.get('UserId')} in organisation {me.get('OrganizationId')}")
    try:
        privileges = dataverse.privileges_held(str(me.get("UserId")), (needed.privilege for needed in EVERY))
    except DataverseError as exc:
        report(False, "create leads", f"could not read the user's privileges: {_dataverse_advice(exc)}")
        return None
    if "prvCreateLead" in privileges:
        report(
            True,
            "create leads",
            "the user holds prvCreateLead (column-level security on leadsourcecode is not "
            "checked without writing a lead: send-test-lead does that)",
        )
    else:
        report(False, "create leads", "the user lacks prvCreateLead: give its security role Create on Lead")
    for needed in (*LEADS[1:], *for_duplicates(dynamics.duplicates)):
        holds = needed.privilege in privileges
        report(holds, needed.label, f"the user holds {needed.privilege}" if holds else needed.advice())
    return dataverse, privileges


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
        mailer = new_mailer(mail, tokens, trust_loopback(requests.Session()))
        assert mailer is not None
        detail = mailer.check()
    except MailError as exc:
        report(False, f"mail ({mail.transport})", str(exc))
        return
    report(True, f"mail ({mail.transport})", detail)
