"""`replay`: enqueue leads again. Idempotent: a lead that is done stays done."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TextIO

from leads.core import clock, lead_row
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
        was = entity.get("Status")

        def back_to_received(current: dict[str, Any]) -> dict[str, Any]:
            changes = lead_row.replayed(current, now())
            if changes is None:
                raise Stop  # done, perhaps since it was chosen
            return changes

        try:  # under the ETag: a lead that a worker finishes meanwhile is read again, and left done
            write_decided(table, lead_id, entity, back_to_received)
        except Stop:
            print(f"{SKIP} {lead_id}: already done, nothing to replay", file=out)
            unchanged += 1
            continue
        queue.send(lead_row.queue_message(lead_id))
        replayed += 1
        if len(chosen) > 10 and (index % 50 == 0 or index == len(chosen)):
            print(f"  {index}/{len(chosen)}", file=out, flush=True)
        elif len(chosen) <= 10:
            print(f"{PASS} {lead_id}: enqueued again (was {was})", file=out)
    print(f"replayed {replayed}, already done {unchanged}, not found {missing}", file=out)
    return 1 if missing else 0
