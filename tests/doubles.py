"""In-memory doubles of the steps' ports, for fast unit tests of pure state logic. They keep the real
services' semantics that the steps rely on; the Azurite and stand-in tests check the adapters themselves."""

from __future__ import annotations

import copy
import operator
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from leads.core.errors import DataverseRejected, DuplicateFound, LeadChanged, StorageUnavailable
from leads.core.lead_row import keys_for
from leads.core.messages import Email
from leads.core.personal import tombstone
from leads.core.returning import FILLABLE, OpenLead

_CONDITION = re.compile(r"^\s*(\w+)\s+(eq|ne|lt|le|gt|ge)\s+@(\w+)\s*$")
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}  # fmt: skip


class MemoryLeadStore:
    """Azure Table semantics the state machine depends on: insert refuses an existing key, update merges,
    an update with a stale ETag fails (LeadChanged), every write gives a new ETag. ``query`` understands the
    filters the app writes: conditions ``Column op @param`` joined by ``and``."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes = 0
        self._version = 0
        self._lock = threading.Lock()
        # Faults, as storage and the SDK produce them. ``unavailable``: the next writes fail before reaching the
        # table (StorageUnavailable, as the adapter raises once the SDK's retries are spent). ``answers_lost``: the
        # next writes go through but their answer is lost, so the SDK sends them again: an insert then meets 409
        # (False), a conditional update 412 (LeadChanged), an unconditional one simply succeeds again.
        self.unavailable = 0
        self.answers_lost = 0
        self.after_get: Callable[[], None] | None = None  # runs once, after the next get (another worker acting)

    def insert(self, entity: dict[str, Any]) -> bool:
        with self._lock:
            self._maybe_unavailable()
            key = (entity["PartitionKey"], entity["RowKey"])
            if key in self.rows:
                return False
            self.rows[key] = self._stamped(entity)
            return not self._answer_lost()

    def get(self, lead_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self.rows.get(keys_for(lead_id))
            found = copy.deepcopy(row) if row is not None else None
        if self.after_get is not None:
            meanwhile, self.after_get = self.after_get, None
            meanwhile()
        return found

    def update(self, lead_id: str, changes: dict[str, Any], etag: str | None = None) -> str:
        with self._lock:
            self._maybe_unavailable()
            key = keys_for(lead_id)
            row = self.rows.get(key)
            if row is None:  # MERGE of a missing entity: the service answers 404
                raise KeyError(lead_id)
            if etag is not None and row["_etag"] != etag:
                raise LeadChanged(lead_id)
            self.rows[key] = self._stamped(row | changes)
            if self._answer_lost() and etag is not None:
                raise LeadChanged(lead_id)  # the SDK's retry of a write that went through, with the old ETag
            return str(self.rows[key]["_etag"])

    def _maybe_unavailable(self) -> None:
        if self.unavailable:
            self.unavailable -= 1
            raise StorageUnavailable("table leads: ServiceRequestError")

    def _answer_lost(self) -> bool:
        if self.answers_lost:
            self.answers_lost -= 1
            return True
        return False

    def replace(self, lead_id: str, entity: dict[str, Any], etag: str) -> str:
        """REPLACE with If-Match: the row becomes ``entity`` (every other column goes); LeadChanged when it is gone
        or was changed since ``etag`` (the service's 404 and 412)."""
        with self._lock:
            key = keys_for(lead_id)
            row = self.rows.get(key)
            if row is None or row["_etag"] != etag:
                raise LeadChanged(lead_id)
            self.rows[key] = self._stamped({name: value for name, value in entity.items() if not name.startswith("_")})
            return str(self.rows[key]["_etag"])

    # --- rows of our own beside the leads (a person's claim) -------------------------------------------

    def insert_row(self, entity: dict[str, Any]) -> str | None:
        with self._lock:
            self._maybe_unavailable()
            key = (entity["PartitionKey"], entity["RowKey"])
            if key in self.rows:
                return None
            self.rows[key] = self._stamped(entity)
            etag = str(self.rows[key]["_etag"])
            return None if self._answer_lost() else etag  # lost: the SDK's retry meets 409

    def get_row(self, partition_key: str, row_key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self.rows.get((partition_key, row_key))
            return copy.deepcopy(row) if row is not None else None

    def update_row(self, partition_key: str, row_key: str, changes: dict[str, Any], etag: str) -> str:
        with self._lock:
            self._maybe_unavailable()
            row = self.rows.get((partition_key, row_key))
            if row is None or row["_etag"] != etag:
                raise LeadChanged(row_key)
            self.rows[(partition_key, row_key)] = self._stamped(row | changes)
            if self._answer_lost():
                raise LeadChanged(row_key)
            return str(self.rows[(partition_key, row_key)]["_etag"])

    def delete_row(self, partition_key: str, row_key: str, etag: str) -> bool:
        with self._lock:
            self._maybe_unavailable()
            row = self.rows.get((partition_key, row_key))
            if row is None:
                return True
            if row["_etag"] != etag:
                return False
            del self.rows[(partition_key, row_key)]
            return True

    def write_tombstone(self, address_hash: str, erased_at: datetime) -> None:
        entity = tombstone(address_hash, erased_at)
        with self._lock:
            key = (entity["PartitionKey"], entity["RowKey"])
            self.rows[key] = self._stamped(self.rows.get(key, {}) | entity)

    def read_watermark(self, name: str) -> datetime | None:
        with self._lock:
            value = self.rows.get(("watermarks", name), {}).get("Watermark")
        return value if isinstance(value, datetime) else None

    def write_watermark(self, name: str, at: datetime) -> None:
        with self._lock:
            row = {"PartitionKey": "watermarks", "RowKey": name, "Watermark": at}
            self.rows[("watermarks", name)] = self._stamped(row)

    def query(
        self, query_filter: str, parameters: dict[str, Any], select: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        conditions = [_CONDITION.match(part) for part in re.split(r"\band\b", query_filter)]
        if not all(conditions):
            raise ValueError(f"filter not understood by the double: {query_filter}")
        with self._lock:
            rows = [copy.deepcopy(row) for row in self.rows.values()]
        for row in rows:
            if all(_holds(row, match, parameters) for match in conditions if match is not None):
                yield {name: row[name] for name in select if name in row} | {"_etag": row["_etag"]} if select else row

    def _stamped(self, entity: dict[str, Any]) -> dict[str, Any]:
        self._version += 1
        self.writes += 1
        return copy.deepcopy(entity) | {"_etag": f'W/"{self._version}"'}


def _holds(row: dict[str, Any], match: re.Match[str], parameters: dict[str, Any]) -> bool:
    column, op, parameter = match.groups()
    return column in row and _OPERATORS[op](row[column], parameters[parameter])


class MemoryQueue:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def send(self, text: str, delay_seconds: int = 0) -> None:
        self.messages.append(text)


class RecordingCrm:
    """Create-if-absent, as Dataverse's PATCH with If-None-Match: *; ``fail`` raises instead."""

    def __init__(self) -> None:
        self.leads: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.fail: Exception | None = None
        self.during_create: Callable[[], None] | None = None  # another worker acting meanwhile

    def create_lead(self, lead_id: str, body: dict[str, Any]) -> bool:
        self.calls += 1
        if self.during_create is not None:
            self.during_create()
        if self.fail is not None:
            raise self.fail
        if lead_id in self.leads:
            return False
        self.leads[lead_id] = body
        return True


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.fail: Exception | None = None
        self.during_send: Callable[[], None] | None = None  # runs once, while the next mail is being sent

    def send(self, email: Email) -> None:
        if self.during_send is not None:
            meanwhile, self.during_send = self.during_send, None
            meanwhile()
        if self.fail is not None:
            raise self.fail
        self.sent.append(email)

    def check(self) -> str:
        return "recording mailer"


class RecordingChannel:
    """A Teams channel: records each card; ``fail`` raises instead; ``confirm`` False plays a time-out."""

    def __init__(self) -> None:
        self.cards: list[dict[str, Any]] = []
        self.fail: Exception | None = None
        self.confirm = True

    def post(self, message: dict[str, Any]) -> bool:
        if self.fail is not None:
            raise self.fail
        self.cards.append(message)
        return self.confirm


class MemoryDynamics:
    """Dataverse's leads and notes as returning customers use them: create-if-absent leads (PATCH with
    If-None-Match: *), notes created once under their id, open leads by address oldest first, and the fill-in under
    an ETag. ``creates`` and ``notes_created`` count what was really made."""

    def __init__(self) -> None:
        self.leads: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[str, Any]] = {}  # note id → body (``objectid_lead@odata.bind`` names its lead)
        self.creates = 0
        self.notes_created = 0
        self.duplicate_rules = True  # rules mode: an open or closed lead with the same address is a duplicate
        self.clock: Callable[[], datetime] = lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # createdon
        self._order = 0

    def add(self, email: str, state: int = 0, created: datetime | None = None, **values: Any) -> str:
        """A lead someone else made (``created``: its createdon); its id."""
        lead_id = f"00000000-0000-4000-8000-{len(self.leads):012d}"
        self._store(lead_id, {"emailaddress1": email, **values}, state)
        if created is not None:
            self.leads[lead_id]["createdon"] = created.isoformat()
        return lead_id

    def create_lead(self, lead_id: str, body: dict[str, Any]) -> bool:
        if lead_id in self.leads:
            return False
        self._store(lead_id, body, 0)
        self.creates += 1
        return True

    def create_unless_duplicate(self, lead_id: str, body: dict[str, Any]) -> bool:
        if lead_id not in self.leads and self.duplicate_rules and self._same_address(body.get("emailaddress1")):
            raise DuplicateFound(412, "0x80040333", "A record was not created or updated because a duplicate …")
        return self.create_lead(lead_id, body)

    def find_open_leads(self, email: str, since: datetime) -> list[OpenLead]:
        found = [lead for lead in self._same_address(email) if lead.is_open and lead.created_on >= since.isoformat()]
        return found[:5]

    def find_duplicates(self, body: dict[str, Any]) -> list[OpenLead]:
        return self._same_address(body.get("emailaddress1")) if self.duplicate_rules else []

    def attach_note(self, note_id: str, body: dict[str, Any]) -> bool:
        target = body["objectid_lead@odata.bind"].removeprefix("/leads(").rstrip(")")
        if target not in self.leads:
            raise DataverseRejected(400, "0x80040217", f"lead With Id = {target} Does Not Exist")
        if note_id in self.notes:
            return False
        self.notes[note_id] = body
        self.notes_created += 1
        return True

    def note_target(self, note_id: str) -> str | None:
        note = self.notes.get(note_id)
        return note["objectid_lead@odata.bind"].removeprefix("/leads(").rstrip(")") if note else None

    def read_lead(self, lead_id: str) -> dict[str, Any] | None:
        return dict(self.leads[lead_id]) if lead_id in self.leads else None

    def update_open_lead(self, lead_id: str, changes: dict[str, Any], etag: str) -> bool:
        lead = self.leads.get(lead_id)
        if lead is None or (etag and lead["@odata.etag"] != etag):
            return False
        self._order += 1
        lead.update(changes, **{"@odata.etag": f'W/"{self._order}"'})
        return True

    def _store(self, lead_id: str, body: dict[str, Any], state: int) -> None:
        self._order += 1
        created = self.clock() + timedelta(microseconds=self._order)  # ties broken by order of creation
        self.leads[lead_id] = {**body, "leadid": lead_id, "statecode": state, "createdon": created.isoformat(),
                               "@odata.etag": f'W/"{self._order}"'}  # fmt: skip

    def _same_address(self, email: Any) -> list[OpenLead]:
        if not isinstance(email, str) or not email:
            return []
        rows = [
            lead for lead in self.leads.values() if str(lead.get("emailaddress1", "")).casefold() == email.casefold()
        ]
        rows.sort(key=lambda lead: lead["createdon"])
        return [OpenLead(lead["leadid"], lead["createdon"], lead["statecode"] == 0, lead["@odata.etag"],
                         {name: lead.get(name) for name in FILLABLE}) for lead in rows]  # fmt: skip
