"""The lead table (Azure Table storage): one entity per lead, created on first use."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from leads.adapters import storage
from leads.core.errors import LeadChanged, StorageRefused, StorageUnavailable
from leads.core.lead_row import keys_for
from leads.core.personal import tombstone
from leads.settings import StorageSettings

T = TypeVar("T")
# Rows of our own beside the leads: outside the lead partitions (two hex digits), see lead_row.LEAD_PARTITIONS.
WATERMARKS = "watermarks"


class LeadTable:
    """Holds one TableClient for the process's lifetime."""

    def __init__(self, settings: StorageSettings) -> None:
        self.settings = settings
        if settings.connection_string:
            service = TableServiceClient.from_connection_string(
                settings.connection_string, transport=storage.transport(), **storage.CLIENT_OPTIONS
            )
        else:
            service = TableServiceClient(
                settings.table_endpoint,
                credential=storage.credential(settings),
                transport=storage.transport(),
                **storage.CLIENT_OPTIONS,
            )
        self.client: TableClient = service.get_table_client(settings.table_name)

    def insert(self, entity: dict[str, Any]) -> bool:
        """Create the entity; False if one with the same keys is already there."""
        return self.insert_row(entity) is not None

    def get(self, lead_id: str) -> dict[str, Any] | None:
        """The lead's entity with its ETag as ``_etag``, or None."""
        return self.get_row(*keys_for(lead_id))

    def update(self, lead_id: str, changes: dict[str, Any], etag: str | None = None) -> str:
        """Merge ``changes`` into the lead; with ``etag``, only if nobody changed it since (else LeadChanged).
        Returns the new ETag."""
        partition_key, row_key = keys_for(lead_id)
        entity = {"PartitionKey": partition_key, "RowKey": row_key, **changes}
        return self._update(entity, UpdateMode.MERGE, etag, gone_is_changed=False)

    def replace(self, lead_id: str, entity: dict[str, Any], etag: str) -> str:
        """Write ``entity`` as the whole row (REPLACE: the columns it lacks go), only if the lead is unchanged since
        ``etag`` (else LeadChanged). Removing a row's personal data needs this: a MERGE cannot drop a column."""
        row = {name: value for name, value in entity.items() if not name.startswith("_")}
        return self._update(row, UpdateMode.REPLACE, etag)

    # --- rows of our own beside the leads (a person's claim: steps/returning.py) -----------------------------

    def insert_row(self, entity: dict[str, Any]) -> str | None:
        """Create the row; its ETag, or None when one with the same keys is there already."""
        try:
            metadata = self._call(lambda: self.client.create_entity(entity))
        except ResourceExistsError:
            return None
        etag: str = metadata["etag"]
        return etag

    def get_row(self, partition_key: str, row_key: str) -> dict[str, Any] | None:
        try:
            entity = self._call(lambda: self.client.get_entity(partition_key, row_key))
        except ResourceNotFoundError:
            return None
        return dict(entity) | {"_etag": entity.metadata["etag"]}

    def update_row(self, partition_key: str, row_key: str, changes: dict[str, Any], etag: str) -> str:
        entity = {"PartitionKey": partition_key, "RowKey": row_key, **changes}
        return self._update(entity, UpdateMode.MERGE, etag)

    def delete_row(self, partition_key: str, row_key: str, etag: str) -> bool:
        """Delete the row unless it changed since ``etag`` (False then). A row already gone counts as deleted: the
        SDK does not report a missing entity on delete."""
        try:
            self._call(
                lambda: self.client.delete_entity(
                    partition_key, row_key, etag=etag, match_condition=MatchConditions.IfNotModified
                )
            )
        except ResourceModifiedError:
            return False
        return True

    def write_tombstone(self, address_hash: str, erased_at: datetime) -> None:
        """Remember an erased address (core/personal.py): its hash and when, nothing else."""
        entity = tombstone(address_hash, erased_at)
        self._call(lambda: self.client.upsert_entity(entity, mode=UpdateMode.MERGE))

    def query(
        self, query_filter: str, parameters: dict[str, Any], select: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Entities matching an OData filter (each with its ``_etag``); the SDK substitutes ``@name``
        parameters safely."""
        try:
            for entity in self.client.query_entities(query_filter, parameters=parameters, select=select):
                yield dict(entity) | {"_etag": entity.metadata["etag"]}
        except ResourceNotFoundError:
            return  # no table yet: no leads
        except AzureError as exc:
            raise StorageUnavailable(f"table {self.settings.table_name}: {exc.__class__.__name__}") from exc

    def read_watermark(self, name: str) -> datetime | None:
        """How far the source ``name`` has been read (steps/follow_table.py); None before the first run."""
        try:
            entity = self._call(lambda: self.client.get_entity(WATERMARKS, name))
        except ResourceNotFoundError:
            return None
        value = entity.get("Watermark")
        return value if isinstance(value, datetime) else None

    def write_watermark(self, name: str, at: datetime) -> None:
        entity = {"PartitionKey": WATERMARKS, "RowKey": name, "Watermark": at}
        self._call(lambda: self.client.upsert_entity(entity, mode=UpdateMode.MERGE))

    def _update(self, entity: dict[str, Any], mode: UpdateMode, etag: str | None, gone_is_changed: bool = True) -> str:
        """MERGE or REPLACE the row; with ``etag``, only if nobody changed it since (else LeadChanged, named by the
        RowKey, also when ``gone_is_changed`` and the row is gone). Returns the new ETag."""
        condition = MatchConditions.IfNotModified if etag else MatchConditions.Unconditionally
        changed = (ResourceModifiedError, ResourceNotFoundError) if gone_is_changed else (ResourceModifiedError,)
        try:
            result = self._call(
                lambda: self.client.update_entity(entity, mode=mode, etag=etag, match_condition=condition)
            )
        except changed as exc:
            raise LeadChanged(entity["RowKey"]) from exc
        new_etag: str = result["etag"]
        return new_etag

    def _call(self, operation: Callable[[], T]) -> T:
        """Run an operation, creating the table if it does not exist yet; transient failures become
        StorageUnavailable, while the answers callers act on (exists, not found, modified) pass through."""
        try:
            try:
                return operation()
            except ResourceNotFoundError as exc:
                if not _table_missing(exc):
                    raise
                self._create_table()
                return operation()
        except (ResourceExistsError, ResourceNotFoundError, ResourceModifiedError):
            raise
        except HttpResponseError as exc:
            if exc.status_code == 400:  # the request itself is wrong: retrying it cannot help
                code = getattr(exc, "error_code", None) or "BadRequest"
                raise StorageRefused(f"table {self.settings.table_name}: 400 {code}") from None
            raise StorageUnavailable(f"table {self.settings.table_name}: {exc.__class__.__name__}") from exc
        except AzureError as exc:
            raise StorageUnavailable(f"table {self.settings.table_name}: {exc.__class__.__name__}") from exc

    def _create_table(self) -> None:
        with contextlib.suppress(ResourceExistsError):  # another worker may have created it meanwhile
            self.client.create_table()


def _table_missing(error: ResourceNotFoundError) -> bool:
    """The table does not exist (as opposed to the entity). The SDK fills ``error_code`` on some
    operations only, so the response header is the reliable place to look."""
    response: Any = error.response
    header = response.headers.get("x-ms-error-code") if response is not None else None
    return "TableNotFound" in (getattr(error, "error_code", None), header)
