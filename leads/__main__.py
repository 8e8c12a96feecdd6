"""Command line: ``python -m leads <command>``; ``python -m leads <command> --help`` for each.

Settings come from the environment, else from ``local.settings.json`` (as the app itself sees them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from leads.core import lead_row
from leads.ops import commands
from leads.settings import SettingsError, load_storage


def load_local_settings(path: Path) -> None:
    """Values from local.settings.json (else the sample) fill what the environment does not set, as
    `func start` and `python -m leads serve` do."""
    if not path.exists():
        path = path.with_name("local.settings.sample.json")
    if not path.exists():
        return
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    for name, value in values.items():
        os.environ.setdefault(name, str(value))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        from devtools import host  # the development host is only for local runs: imported when asked for

        return host.main(argv[1:])

    parser = argparse.ArgumentParser(prog="python -m leads", description="Marketplace leads → Dynamics 365 + email.")
    parser.add_argument(
        "--settings",
        type=Path,
        default=Path("local.settings.json"),
        help="settings file whose Values fill in what the environment lacks (default: %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("serve", help="run the app locally: a small development host (`func start` works too)")
    sub.add_parser("check", help="check the configuration against the live services, with advice for each failure")

    test = sub.add_parser("send-test-lead", help="post a marketplace test lead (MSFT_TEST_…) and follow it")
    test.add_argument("--url", default="http://127.0.0.1:7071/api/leads", help="endpoint (default: %(default)s)")
    test.add_argument("--code", help="function key (the ?code= of the endpoint URL)")
    test.add_argument("--wait", type=float, default=60, help="seconds to follow the lead (default: %(default)s)")

    show = sub.add_parser("status", help="counts per status, the oldest unfinished lead, recent failures")
    show.add_argument("--since", help="only leads received since: 30m, 12h, 7d or an ISO date")
    show.add_argument(
        "--status", choices=[status.value for status in lead_row.Status], help="list leads in this status"
    )
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.add_argument("--show-contact", action="store_true", help="include names and emails (personal data)")
    show.add_argument("--limit", type=int, default=20, help="leads listed (default: %(default)s)")

    again = sub.add_parser("replay", help="enqueue leads again (idempotent: done leads stay done)")
    again.add_argument("lead_ids", nargs="*", metavar="LEAD_ID")
    again.add_argument("--failed", action="store_true", help="every failed lead")
    again.add_argument("--held", action="store_true", help="every held lead (after DYNAMICS_ENABLED is turned on)")

    args = parser.parse_args(argv)
    load_local_settings(args.settings)
    out = sys.stdout
    if args.command == "check":
        return commands.check(out=out)
    if args.command == "send-test-lead":
        return commands.send_test_lead(args.url, args.code, out, follow_seconds=args.wait)
    try:
        storage = load_storage()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    from leads.adapters.lead_queue import LeadQueue
    from leads.adapters.lead_table import LeadTable

    table = LeadTable(storage)
    if args.command == "status":
        since = commands.parse_since(args.since, lead_row.now()) if args.since else None
        return commands.status(
            table,
            out,
            since=since,
            only=args.status,
            as_json=args.json,
            show_contact=args.show_contact,
            limit=args.limit,
        )
    # replay
    if not (args.lead_ids or args.failed or args.held):
        parser.error("replay needs lead ids, --failed or --held")
    statuses = [status for flag, status in ((args.failed, "failed"), (args.held, "held")) if flag]
    return commands.replay(table, LeadQueue(storage), args.lead_ids, statuses, out)


if __name__ == "__main__":
    raise SystemExit(main())
