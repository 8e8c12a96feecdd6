"""`forget EMAIL…`: erase a person's personal data on request (GDPR Art. 17), and say what remains elsewhere.

A dry run by default: it lists the person's leads in the lead table and changes nothing. ``--apply`` removes their
personal data from the table (each row keeps its id, status, times, offer, action, Dynamics id and hashed keys, so a
redelivery is still recognised and never reaches Dynamics again) and records a tombstone per address, its hash, so
`import` and the table follower do not bring the person back. ``--dynamics delete|anonymise`` also acts on the
Dynamics leads this app created, once the application user is known to hold the privileges that takes.

Addresses are never printed or logged: the start of each one's hash names it (steps/erasure.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

import requests

from leads.adapters.dataverse import Dataverse
from leads.adapters.signin import token_source
from leads.core import personal
from leads.core.clock import now
from leads.core.errors import DataverseError, SignInError, TryAgainLater
from leads.core.returning import dataverse_note_id
from leads.ops.common import FAIL, PASS, SKIP
from leads.ops.status import dynamics_record_link
from leads.settings import SettingsError, load_dynamics
from leads.steps.erasure import ErasureReport, PersonRow, address_hashes, erase, find_rows, short
from leads.steps.ports import ScrubbableStore

# What each --dynamics action needs the application user to hold (reading the lead first, then acting on it).
PRIVILEGES = {
    "delete": ("prvReadLead", "prvDeleteLead"),
    "anonymise": ("prvReadLead", "prvWriteLead", "prvReadNote", "prvDeleteNote"),
}
STATES = {0: "open", 1: "qualified", 2: "disqualified"}


@dataclass(frozen=True)
class ForgetOptions:
    apply: bool = False
    dynamics: str = ""  # "", "delete" or "anonymise"


def forget(
    addresses: list[str],
    table: ScrubbableStore,
    out: TextIO,
    options: ForgetOptions,
    clock: Callable[[], datetime] = now,
) -> int:
    """0 when done (or, dry run, when it could be); 1 when Dynamics could not finish (run it again); 2 when the
    addresses, the settings or the privileges are wrong (nothing was changed)."""
    # Lenient: the address is whatever the customer typed, so anything with an @ may be one (never printed).
    unlike = [str(number) for number, address in enumerate(addresses, start=1) if "@" not in address]
    if unlike or not addresses:
        which = f" (argument {', '.join(unlike)} is not one)" if unlike else ""
        print(f"forget needs email addresses{which}; nothing was changed", file=out)
        return 2
    hashes = address_hashes(addresses)
    rows = find_rows(table, hashes)
    dataverse: Dataverse | None = None
    if options.dynamics:
        # A returning customer's event is a note on their open lead (DYNAMICS_DUPLICATES): deleting it takes
        # Delete on Note whichever action.
        notes = ("prvDeleteNote",) if any(row.returning for row in rows) else ()
        connected = _connect(options.dynamics, out, notes)
        if connected is None:
            return 2
        dataverse = connected
    _print_rows(hashes, rows, options, out)
    if options.apply:
        _print_erased(erase(table, hashes, rows, clock), out)
    code = _dynamics_part(rows, dataverse, options, out, clock)
    _print_beyond_reach(rows, out)
    return code


def _connect(action: str, out: TextIO, extra: tuple[str, ...] = ()) -> Dataverse | None:
    """Dynamics, signed in, with the privileges ``action`` needs; None (having said why) otherwise."""
    try:
        settings = load_dynamics()
    except SettingsError as exc:
        print(f"{FAIL} Dynamics settings: {'; '.join(exc.problems)}; nothing was changed", file=out)
        return None
    if not settings.url:
        print(f"{FAIL} --dynamics needs DYNAMICS_URL and the sign-in settings; nothing was changed", file=out)
        return None
    dataverse = Dataverse(settings, token_source(settings), requests.Session())
    needed = tuple(dict.fromkeys((*PRIVILEGES[action], *extra)))
    try:
        user = str(dataverse.who_am_i().get("UserId"))
        held = dataverse.privileges(user)
    except (DataverseError, SignInError) as exc:
        print(f"{FAIL} Dynamics: {exc}; nothing was changed", file=out)
        return None
    missing = [name for name in needed if name not in held]
    if missing:
        print(
            f"{FAIL} the application user lacks {', '.join(missing)}: give its security role "
            f"{_rights(missing)} to --dynamics {action} (or run without --dynamics and act in Dynamics by hand); "
            "nothing was changed",
            file=out,
        )
        return None
    print(f"{PASS} the application user holds {', '.join(needed)}", file=out)
    return dataverse


def _rights(privileges: list[str]) -> str:
    """``prvDeleteLead`` → ``Delete on Lead``: how the security role editor names it."""
    names = []
    for privilege in privileges:
        for verb in ("Read", "Write", "Delete"):
            if privilege.startswith(f"prv{verb}"):
                names.append(f"{verb} on {privilege.removeprefix(f'prv{verb}')}")
    return ", ".join(names)


def _print_rows(hashes: list[str], rows: list[PersonRow], options: ForgetOptions, out: TextIO) -> None:
    print(f"forget {len(hashes)} address(es): {', '.join(short(h) for h in hashes)} (the start of each one's "
          "SHA-256; addresses are not printed)", file=out)  # fmt: skip
    if not options.apply:
        print("dry run: nothing is changed. Run again with --apply to erase.", file=out)
    link = dynamics_record_link()
    print(f"\nlead table: {len(rows)} lead(s)", file=out)
    for row in rows:
        received = row.received.isoformat(timespec="minutes") if row.received else "?"
        where = (link(row.dynamics_lead_id) if link else row.dynamics_lead_id) if row.dynamics_lead_id else "—"
        state = "erased before" if row.erased else "scrubbed (retention)" if row.scrubbed else "personal data here"
        print(f"  {short(row.address_hash)}  lead {row.lead_id}  {row.status:<8}  received {received}  "
              f"Dynamics {where}  {state}", file=out)  # fmt: skip
    for address_hash in hashes:
        if not any(row.address_hash == address_hash for row in rows):
            print(f"  {short(address_hash)}  no lead in the table", file=out)
    if not options.apply:
        waiting = [row for row in rows if not row.erased and row.status in ("received", "held")]
        print("would erase: the contact details, description and raw payload of "
              f"{sum(1 for row in rows if not row.erased)} lead(s); each keeps its id, status, times, offer, action, "
              "Dynamics id and hashed keys", file=out)  # fmt: skip
        if waiting:
            print(f"would stop {len(waiting)} unprocessed lead(s): marked failed, never sent on", file=out)
        print("would record: a tombstone per address (its hash), so `import` and the table follower do not bring "
              "these leads back", file=out)  # fmt: skip


def _print_erased(report: ErasureReport, out: TextIO) -> None:
    print(f"{PASS} erased: the personal data of {len(report.erased)} lead(s) removed ({len(report.already)} "
          "erased before)", file=out)  # fmt: skip
    print(f"{PASS} tombstones: {report.tombstones} address(es); `import` and the table follower will not bring "
          "their earlier leads back (`import --include-erased` does)", file=out)  # fmt: skip


def _dynamics_part(
    rows: list[PersonRow],
    dataverse: Dataverse | None,
    options: ForgetOptions,
    out: TextIO,
    clock: Callable[[], datetime],
) -> int:
    link = dynamics_record_link() or (lambda lead_id: lead_id)
    if dataverse is None:
        recorded = [row for row in rows if row.dynamics_lead_id and not row.returning]
        notes = [row for row in rows if row.dynamics_lead_id and row.returning]
        print(f"\nDynamics 365: {len(recorded)} lead(s) created by this app", file=out)
        for row in recorded:
            print(f"  lead {row.lead_id} → {link(row.dynamics_lead_id)}", file=out)
        for row in notes:
            print(f"  lead {row.lead_id} → a note (returning customer) on {link(row.dynamics_lead_id)}", file=out)
        if recorded or notes:
            print("  not changed: add --dynamics delete or --dynamics anonymise (or act on them in Dynamics)", file=out)
        return 0
    print(f"\nDynamics 365 (--dynamics {options.dynamics}):", file=out)
    own = {row.possible_dynamics_lead_id for row in rows if not row.returning}
    try:
        for row in rows:
            if row.returning:
                _note(row, dataverse, options, link(row.dynamics_lead_id), row.dynamics_lead_id in own, out)
                continue
            _act(row, dataverse, options, link, out, clock)
    except (DataverseError, SignInError) as exc:
        again = " It may pass on its own: run the same command again." if isinstance(exc, TryAgainLater) else ""
        print(f"{FAIL} stopped: {exc}.{again} What was done stays done; running again picks up the rest.", file=out)
        return 1
    return 0


def _act(
    row: PersonRow,
    dataverse: Dataverse,
    options: ForgetOptions,
    link: Callable[[str], str],
    out: TextIO,
    clock: Callable[[], datetime],
) -> None:
    dynamics_lead_id = row.possible_dynamics_lead_id
    found = dataverse.read_lead(dynamics_lead_id)
    if found is None:
        print(f"  {SKIP} lead {row.lead_id}: not in Dynamics", file=out)
        return
    code = found.get("statecode")
    state = STATES.get(code, str(code)) if isinstance(code, int) else "state unknown"
    where = f"lead {row.lead_id} ({state}) {link(dynamics_lead_id)}"
    if not options.apply:
        print(f"  {SKIP} {where}: would {options.dynamics}", file=out)
    elif options.dynamics == "delete":
        done = dataverse.delete_lead(dynamics_lead_id)
        print(f"  {PASS} {where}: {'deleted, with its notes' if done else 'gone already'}", file=out)
    else:
        notes = dataverse.note_ids(dynamics_lead_id)
        done = dataverse.update_lead(dynamics_lead_id, personal.anonymised(row.lead_id, clock()))
        for note in notes:
            dataverse.delete_note(note)
        print(f"  {PASS} {where}: {'anonymised' if done else 'gone already'}, {len(notes)} note(s) deleted", file=out)
    if code == 1:
        print("      qualified: the contact, account or opportunity made from it are not this app's; erase them in "
              "Dynamics", file=out)  # fmt: skip
    if found.get("_parentcontactid_value"):
        print("      linked to an existing contact (DYNAMICS_LINK_CONTACTS): that contact is not this app's", file=out)


def _note(row: PersonRow, dataverse: Dataverse, options: ForgetOptions, where: str, ours: bool, out: TextIO) -> None:
    """A returning customer's event: its note on the person's open lead goes, whichever action (the lead is acted on
    through the row that created it, or is not this app's)."""
    what = f"lead {row.lead_id}: its note (returning customer) on {where}"
    if not options.apply:
        print(f"  {SKIP} {what}: would delete the note", file=out)
    else:
        done = dataverse.delete_note(dataverse_note_id(row.lead_id))
        print(f"  {PASS} {what}: {'note deleted' if done else 'note gone already'}", file=out)
    if not ours:
        print("      that lead was not created by this app for this address: erase it in Dynamics", file=out)


def _print_beyond_reach(rows: list[PersonRow], out: TextIO) -> None:
    notified = sum(1 for row in rows if row.notified)
    print("\nbeyond this app's reach:", file=out)
    for line in (
        f"{notified} lead(s) were announced by mail or Teams card: those messages stay in the recipients' mailboxes "
        "and channels (ask them to delete them)",
        "Partner Center keeps the leads (Referrals → Marketplace leads); requests about it go to Microsoft",
        "Microsoft's Azure Table destination, if your offer writes there too: delete the person's rows in that table",
        "Dynamics records this app did not create (contacts, accounts, opportunities, leads entered by hand): search "
        "Dynamics for the address",
        "Partner Center exports you saved, and copies of the lead table",
    ):
        print(f"  - {line}", file=out)
    print("the app's logs and Application Insights hold no personal data (lead ids only)", file=out)
