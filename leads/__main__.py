"""Command line: ``python -m leads <command>``; ``--help`` lists the commands."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m leads", description="Marketplace leads → Dynamics 365.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("serve", help="run the app locally (a small development host; Core Tools' `func start` works too)",
                        add_help=False)
    known, rest = parser.parse_known_args(argv)
    if known.command == "serve":
        from leads import host  # the host is only for local runs: imported when asked for

        return host.main(rest)
    parser.error(f"unknown command {known.command}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
