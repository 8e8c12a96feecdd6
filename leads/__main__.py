"""Command line: ``python -m leads <command>``; ``python -m leads <command> --help`` for each.

Settings come from the environment, else from ``local.settings.json`` (as the app itself sees them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from leads.core import clock
from leads.core.export_rows import FIELDS
from leads.core.imported import parse_time
from leads.core.lead_row import Status
from leads.settings import (
    DEFAULT_TABLE,
    SettingsError,
    StorageSettings,
    load_marketplace_table,
    load_storage,
    local_file,
)


def load_local_settings(path: Path) -> None:
    """Values from local.settings.json (else the sample beside it) fill what the environment does not set,
    as `func start` and `python -m leads serve` do."""
    found = path if path.exists() else local_file.find(path.parent)
    if found is not None:
        local_file.apply(found)


def serve(argv: list[str]) -> int:
    """The development host lives in devtools/, which is not deployed: say so rather than fail obscurely."""
    try:
        from devtools import host
    except ImportError:
        print(
            "the development host (devtools/) is not here: it is part of the repository, not of the deployed app. "
            "Run `python -m leads serve` from a clone, or use `func start`.",
            file=sys.stderr,
        )
        return 2
    return host.main(argv)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m leads", description="Marketplace leads → Dynamics 365 + email.")
    parser.add_argument(
        "--settings",
        type=Path,
        default=Path("local.settings.json"),
        help="settings file whose Values fill in what the environment lacks (default: %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("serve", help="run the app locally: a small development host (`func start` works too)")
    checking = sub.add_parser(
        "check", help="check the configuration against the live services, with advice for each failure"
    )
    checking.add_argument(
        "--teams-test-card",
        action="store_true",
        help="also post a test card to each Teams channel (it shows in the channel)",
    )
    routed = sub.add_parser(
        "route", help="show the rule a marketplace payload matches, its Dynamics body and recipients (sends nothing)"
    )
    routed.add_argument("payload", type=Path, metavar="FILE.json", help="a marketplace lead as the endpoint gets it")

    test = sub.add_parser("send-test-lead", help="post a marketplace test lead (MSFT_TEST_…) and follow it")
    test.add_argument("--url", default="http://127.0.0.1:7071/api/leads", help="endpoint (default: %(default)s)")
    test.add_argument("--code", help="function key (the ?code= of the endpoint URL)")
    test.add_argument("--wait", type=float, default=60, help="seconds to follow the lead (default: %(default)s)")

    show = sub.add_parser(
        "status",
        help="counts per status, the oldest unfinished lead, recent failures, speed to lead (p50/p95/max), "
        "leads per offer and action, and the recent leads with their Dynamics links",
    )
    show.add_argument("--since", help="only leads received since: 30m, 12h, 7d or an ISO date")
    show.add_argument("--status", choices=[status.value for status in Status], help="list leads in this status")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.add_argument("--show-contact", action="store_true", help="include names and emails (personal data)")
    show.add_argument("--limit", type=int, default=20, help="leads listed (default: %(default)s)")

    again = sub.add_parser("replay", help="enqueue leads again (idempotent: done leads stay done)")
    again.add_argument("lead_ids", nargs="*", metavar="LEAD_ID")
    again.add_argument("--failed", action="store_true", help="every failed lead")
    again.add_argument("--held", action="store_true", help="every held lead (after DYNAMICS_ENABLED is turned on)")
    add_import(sub)
    add_forget(sub)
    return parser


def add_import(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    intake = sub.add_parser(
        "import",
        help="bring in leads the endpoint missed: Partner Center's export, or Microsoft's Azure Table destination",
        description="Reports by default (nothing is stored); --apply stores the new leads and sends them through "
        "the queue. Leads already here (same lead, or same email, offer, action and day) are left alone.",
    )
    intake.add_argument("file", nargs="?", type=Path, metavar="FILE", help="the export (.csv or .xlsx)")
    intake.add_argument("--from-table", action="store_true", help="read Microsoft's Azure Table destination instead")
    intake.add_argument("--table", default="", help=f"its table (default: MARKETPLACE_TABLE, else {DEFAULT_TABLE})")
    intake.add_argument("--apply", action="store_true", help="store the new leads and send them through the queue")
    intake.add_argument("--no-notify", action="store_true", help="no mail to the contacts for the imported leads")
    intake.add_argument("--since", help="only leads created on or after this date (YYYY-MM-DD or ISO 8601)")
    fields = ", ".join(FIELDS)
    intake.add_argument("--column", action="append", default=[], metavar="HEADER=FIELD",
                        help=f"read this column as this field (or - to ignore it); fields: {fields}")  # fmt: skip
    intake.add_argument("--show-contact", action="store_true", help="include names and emails (personal data)")
    intake.add_argument(
        "--include-erased", action="store_true", help="also import leads of people erased with `forget` (if asked)"
    )


def add_forget(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    erase = sub.add_parser(
        "forget",
        help="erase a person's personal data on request (a dry run unless --apply); says what remains elsewhere",
        description="Finds every lead of these addresses in the lead table and lists them with their Dynamics leads. "
        "--apply removes their personal data (the rows keep ids, status, times, offer and hashed keys) and records a "
        "hashed tombstone so imports do not bring them back. Addresses are never printed or logged.",
    )
    erase.add_argument("addresses", nargs="+", metavar="EMAIL")
    erase.add_argument("--apply", action="store_true", help="erase (without it, nothing is changed)")
    erase.add_argument(
        "--dynamics",
        choices=["delete", "anonymise"],
        default="",
        help="also delete or anonymise the Dynamics leads this app created (the privilege is checked first)",
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        return serve(argv[1:])
    cli = parser()
    args = cli.parse_args(argv)
    if args.command == "replay" and not (args.lead_ids or args.failed or args.held):
        cli.error("replay needs lead ids, --failed or --held")
    if args.command == "import" and (args.file is None) == (not args.from_table):
        cli.error("import needs a FILE or --from-table (one of them)")
    try:
        load_local_settings(args.settings)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    return run(args)


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.command == "check":
        from leads.ops.check import check

        return check(out=out, teams_test_card=args.teams_test_card)
    if args.command == "route":
        from leads.ops.route import route

        return route(args.payload, out)
    if args.command == "send-test-lead":
        from leads.ops.send_test_lead import send_test_lead

        return send_test_lead(args.url, args.code, out, follow_seconds=args.wait)
    try:
        storage = load_storage()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    from leads.ops.common import open_queue, open_table

    if args.command == "import":
        return run_import(args, storage, out)
    if args.command == "forget":
        from leads.ops.forget import ForgetOptions, forget

        options = ForgetOptions(apply=args.apply, dynamics=args.dynamics)
        return forget(args.addresses, open_table(storage), out, options)
    if args.command == "status":
        from leads.ops.status import dynamics_record_link, parse_since, status

        since = parse_since(args.since, clock.now()) if args.since else None
        return status(open_table(storage), out, since=since, only=args.status, as_json=args.json,
                      show_contact=args.show_contact, limit=args.limit,
                      record_link=dynamics_record_link())  # fmt: skip
    from leads.ops.replay import replay

    statuses = [status for flag, status in ((args.failed, "failed"), (args.held, "held")) if flag]
    return replay(open_table(storage), open_queue(storage), args.lead_ids, statuses, out)


def run_import(args: argparse.Namespace, storage: StorageSettings, out: TextIO) -> int:
    from leads.ops.import_leads import Choices, import_file, import_table

    try:
        since = parse_time(args.since) if args.since else None
    except ValueError:
        print(f"--since {args.since!r}: give a date (YYYY-MM-DD) or an ISO 8601 time", file=sys.stderr)
        return 2
    choices = Choices(apply=args.apply, notify=not args.no_notify, since=since, show_contact=args.show_contact,
                      include_erased=args.include_erased)  # fmt: skip
    if args.file is not None:
        return import_file(args.file, args.column, storage, choices, out)
    try:
        source = load_marketplace_table(table=args.table, default_table=DEFAULT_TABLE)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    return import_table(source, storage, choices, out)


if __name__ == "__main__":
    raise SystemExit(main())
