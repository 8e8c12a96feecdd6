"""Command line: ``python -m leads <command>``; ``python -m leads <command> --help`` for each.

Settings come from the environment, else from ``local.settings.json`` (as the app itself sees them). Every command
answers in words: what cannot be done ends with a sentence and an exit code (leads/ops/failures.py), never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from leads.core import clock
from leads.core.export_rows import FIELDS
from leads.core.imported import parse_time
from leads.core.lead_row import Status
from leads.ops import failures
from leads.settings import (
    DEFAULT_TABLE,
    SettingsError,
    StorageSettings,
    load_marketplace_table,
    load_storage,
    local_file,
)

DEFAULT_SETTINGS = Path(local_file.FILE_NAME)
APP_ROOT = Path(__file__).resolve().parent.parent
SINCE_FORMS = "30m, 12h, 7d, 1w, today, yesterday, or a date or time such as 2026-11-21 or 2026-11-21T09:30 (UTC)"


def load_local_settings(path: Path | None) -> None:
    """Values from the settings file fill what the environment does not set, as `func start` and the development
    host do: ``--settings FILE`` (which must exist), else local.settings.json, else the sample beside it."""
    if path is not None and not path.is_file():
        raise SettingsError([f"--settings {path}: no such file"])
    path = path or DEFAULT_SETTINGS
    found = path if path.exists() else local_file.find(path.parent)
    if found is not None:
        local_file.apply(found)


def serve(argv: list[str]) -> int:
    """The development host is a program of its own in devtools/, which is not deployed: run it from a clone."""
    if (APP_ROOT / "devtools" / "host" / "__main__.py").is_file():
        os.execv(sys.executable, [sys.executable, "-m", "devtools.host", *argv])  # noqa: S606  # replaces this process
    print(
        "the development host (devtools/) is not here: it is part of the repository, not of the deployed app. "
        "From a clone run `python -m devtools.host` (or `make run`); otherwise use `func start`.",
        file=sys.stderr,
    )
    return failures.UNUSABLE


def since(text: str) -> datetime:
    """``--since``: what people type (30m, 7d, 1w, today, an ISO date…); the forms named when it is none of them."""
    from leads.ops.status import parse_since

    try:
        return parse_since(text, clock.now())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: give {SINCE_FORMS}") from None


def positive(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to 3600")
    return value


def endpoint(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an endpoint URL: give http://127.0.0.1:7071/api/leads or the LEADS_ENDPOINT_URL azd "
            "printed (https://<app>.azurewebsites.net/api/leads)"
        )
    return text


class Formatter(argparse.HelpFormatter):
    """Descriptions wrap to the terminal's width; the table of exit codes keeps its lines."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("exit codes:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str | None = None,
    epilog: str = failures.EXIT_CODES,
) -> argparse.ArgumentParser:
    """A command whose --help ends with its exit codes."""
    return sub.add_parser(name, help=summary, description=description, epilog=epilog, formatter_class=Formatter)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m leads",
        description="Marketplace leads → Dynamics 365 + email.",
        epilog=failures.EXIT_CODES,
        formatter_class=Formatter,
    )
    parser.add_argument(
        "--settings",
        type=Path,
        help=f"settings file whose Values fill in what the environment lacks (default: {DEFAULT_SETTINGS}, else "
        "the sample)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("serve", help="run the app locally: the development host, `python -m devtools.host` (from a clone)")
    checking = command(sub, "check", "check the configuration against the live services, with advice for each failure")
    checking.add_argument(
        "--teams-test-card",
        action="store_true",
        help="also post a test card to each Teams channel (it shows in the channel)",
    )
    routed = command(
        sub, "route", "show the rule a marketplace payload matches, its Dynamics body and recipients (sends nothing)"
    )
    routed.add_argument(
        "payload", type=Path, nargs="?", metavar="FILE.json", help="a marketplace lead as the endpoint gets it"
    )
    routed.add_argument("--example", action="store_true", help="route a built-in example lead instead of a file")

    test = command(sub, "send-test-lead", "post a marketplace test lead (MSFT_TEST_…) and follow it")
    test.add_argument("--url", type=endpoint, default="http://127.0.0.1:7071/api/leads",
                      help="endpoint (default: %(default)s)")  # fmt: skip
    test.add_argument("--code", help="function key (the ?code= of the endpoint URL)")
    test.add_argument("--wait", type=seconds, default=60, help="seconds to follow the lead (default: %(default)s)")

    show = command(
        sub,
        "status",
        "counts per status, the oldest unfinished lead, recent failures, speed to lead (p50/p95/max), "
        "leads per offer and action, and the recent leads with their Dynamics links",
    )
    show.add_argument("--since", type=since, help=f"only leads received since: {SINCE_FORMS}")
    show.add_argument("--status", choices=[status.value for status in Status], help="list leads in this status")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.add_argument("--show-contact", action="store_true", help="include names and emails (personal data)")
    show.add_argument("--limit", type=positive, default=20, help="leads listed (default: %(default)s)")

    again = command(sub, "replay", "enqueue leads again (idempotent: done leads stay done)")
    again.add_argument("lead_ids", nargs="*", metavar="LEAD_ID")
    again.add_argument("--failed", action="store_true", help="every failed lead")
    again.add_argument("--held", action="store_true", help="every held lead (after DYNAMICS_ENABLED is turned on)")
    add_import(sub)
    add_forget(sub)
    return parser


IMPORT_EXIT_CODES = """exit codes:
  0    every row is a new lead (stored with --apply) or already here
  1    some rows are unusable (listed, with why); the others were stored (--apply) or would be (a dry run)
  2    nothing was done: the file cannot be read or its columns mapped, or the table refused access
  3    storage or the marketplace's table could not be reached: run the same command again (nothing is stored
       twice)"""


def add_import(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    intake = command(
        sub,
        "import",
        "bring in leads the endpoint missed: Partner Center's export, or Microsoft's Azure Table destination",
        description="Reports by default (nothing is stored); --apply stores the new leads and sends them through "
        "the queue. Leads already here (same lead, or same email, offer, action and day) are left alone.",
        epilog=IMPORT_EXIT_CODES,
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
    """Run a command; whatever stops it is answered in words on stderr, with an exit code (failures.EXIT_CODES)."""
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:
        _stop_writing_to_stdout()
        return failures.CLOSED_PIPE
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return failures.INTERRUPTED
    except Exception as exc:
        message, code = failures.in_words(exc)
        _flush_stdout()
        print(message, file=sys.stderr)
        return code


def _main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        return serve(argv[1:])
    cli = parser()
    args = cli.parse_args(argv)
    if args.command == "replay" and not (args.lead_ids or args.failed or args.held):
        cli.error("replay needs lead ids, --failed or --held")
    if args.command == "route" and (args.payload is None) == (not args.example):
        cli.error("route needs a FILE.json or --example (one of them)")
    if args.command == "import" and (args.file is None) == (not args.from_table):
        cli.error("import needs a FILE or --from-table (one of them)")
    load_local_settings(args.settings)
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
    storage = load_storage()
    from leads.ops.common import open_queue, open_table

    if args.command == "import":
        return run_import(args, storage, out)
    if args.command == "forget":
        from leads.ops.forget import ForgetOptions, forget

        options = ForgetOptions(apply=args.apply, dynamics=args.dynamics)
        return forget(args.addresses, open_table(storage), out, options)
    if args.command == "status":
        from leads.ops.status import dynamics_record_link, status

        return status(open_table(storage), out, since=args.since, only=args.status, as_json=args.json,
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
        return failures.UNUSABLE
    choices = Choices(apply=args.apply, notify=not args.no_notify, since=since, show_contact=args.show_contact,
                      include_erased=args.include_erased)  # fmt: skip
    if args.file is not None:
        return import_file(args.file, args.column, storage, choices, out)
    source = load_marketplace_table(table=args.table, default_table=DEFAULT_TABLE)
    return import_table(source, storage, choices, out)


def _flush_stdout() -> None:
    """What was printed goes out before the error message (a pipe may have closed: then nothing does)."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _stop_writing_to_stdout()


def _stop_writing_to_stdout() -> None:
    """After a closed pipe, Python's last flush at exit would fail too: point stdout at /dev/null (Python's
    documented recipe, docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (a test's captured output): nothing to flush at exit
        pass


if __name__ == "__main__":
    raise SystemExit(main())
