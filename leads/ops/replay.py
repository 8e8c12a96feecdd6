"""`replay`: enqueue leads again. Idempotent: a lead that is done stays done."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TextIO

from leads.core import clock, lead_row
from leads.core.errors import StorageUnavailable
from leads.ops import failures
from leads.ops.common import FAIL, PASS, SKIP
from leads.steps.notify import Stop, write_decided
from leads.steps.ports import LeadQueue, LeadStore


def replay(
    table: LeadStore,
    queue: LeadQueue,
    lead_ids: Iterable[str],
    statuses: Iterable[str],
    out: TextIO,
    now: Callable[[], datetime] = clock.now,
) -> int:
    """Enqueue the chosen leads again. Idempotent: a lead that is done is left as it is. Storage that cannot be
    reached stops it, saying how far it got (running the same command again is safe)."""
    chosen = list(dict.fromkeys(lead_ids))
    replayed = unchanged = missing = 0
    try:
        for wanted in statuses:
            found = table.query("Status eq @status", {"status": wanted}, select=["RowKey"])
            chosen.extend(entity["RowKey"] for entity in found)
        for index, lead_id in enumerate(chosen, start=1):
            if not lead_row.is_lead_id(lead_id):
                print(f"{FAIL} {lead_id!r}: not a lead id (8 to 64 letters and digits, as `status` shows them)",
                      file=out)  # fmt: skip
                missing += 1
                continue
            entity = table.get(lead_id)
            if entity is None:
                print(f"{FAIL} {lead_id}: no such lead", file=out)
                missing += 1
                continue
            if not _back_to_received(table, lead_id, entity, now):
                why = "personal data removed" if entity.get(lead_row.SCRUBBED_AT) else "already done"
                print(f"{SKIP} {lead_id}: {why}, nothing to replay", file=out)
                unchanged += 1
                continue
            queue.send(lead_row.queue_message(lead_id))
            replayed += 1
            if len(chosen) > 10 and (index % 50 == 0 or index == len(chosen)):
                print(f"  {index}/{len(chosen)}", file=out, flush=True)
            elif len(chosen) <= 10:
                print(f"{PASS} {lead_id}: enqueued again (was {entity.get('Status')})", file=out)
    except StorageUnavailable as exc:
        print(f"stopped after replaying {replayed}: {failures.storage_unreachable(exc)}. Run the same command again "
              "once it is back (done leads stay done).", file=out)  # fmt: skip
        return failures.UNREACHABLE
    print(f"replayed {replayed}, already done {unchanged}, not found {missing}", file=out)
    return failures.ATTENTION if missing else failures.OK


def _back_to_received(table: LeadStore, lead_id: str, entity: dict[str, Any], now: Callable[[], datetime]) -> bool:
    """Set the lead back to received under its ETag: a lead that a worker finishes meanwhile is read again, and left
    done (False)."""

    def back_to_received(current: dict[str, Any]) -> dict[str, Any]:
        changes = lead_row.replayed(current, now())
        if changes is None:
            raise Stop  # done, perhaps since it was chosen
        return changes

    try:
        write_decided(table, lead_id, entity, back_to_received)
    except Stop:
        return False
    return True
