"""`replay`: enqueue leads again. Idempotent: a lead that is done stays done."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from leads.core import clock, lead_row
from leads.ops.common import FAIL, PASS, SKIP
from leads.steps.ports import LeadQueue, LeadStore


def replay(table: LeadStore, queue: LeadQueue, lead_ids: Iterable[str], statuses: Iterable[str], out: TextIO) -> int:
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
        changes = lead_row.replayed(entity, clock.now())
        if changes is None:
            why = "personal data removed" if entity.get(lead_row.SCRUBBED_AT) else "already done"
            print(f"{SKIP} {lead_id}: {why}, nothing to replay", file=out)
            unchanged += 1
            continue
        table.update(lead_id, changes)
        queue.send(lead_row.queue_message(lead_id))
        replayed += 1
        if len(chosen) > 10 and (index % 50 == 0 or index == len(chosen)):
            print(f"  {index}/{len(chosen)}", file=out, flush=True)
        elif len(chosen) <= 10:
            print(f"{PASS} {lead_id}: enqueued again (was {entity.get('Status')})", file=out)
    print(f"replayed {replayed}, already done {unchanged}, not found {missing}", file=out)
    return 1 if missing else 0
