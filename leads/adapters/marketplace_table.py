"""Microsoft's Azure Table destination: the table in the publisher's storage account that the marketplace writes
leads into (REFERENCE.md §1.5). Read only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient

from leads.adapters import storage
from leads.core.errors import SourceTableRefused, SourceTableUnavailable
from leads.settings import MarketplaceTableSettings, StorageSettings

PAGE_SIZE = 1000  # the service's largest page


class MarketplaceTable:
    """Reads the table with its connection string, or with the app's credential (as for our own storage)."""

    def __init__(self, settings: MarketplaceTableSettings, storage_settings: StorageSettings) -> None:
        self.name = settings.table_name
        self.settings = settings
        options: dict[str, Any] = {"transport": storage.transport(), **storage.CLIENT_OPTIONS}
        if settings.connection_string:
            service = TableServiceClient.from_connection_string(settings.connection_string, **options)
        else:
            service = TableServiceClient(settings.endpoint, credential=storage.credential(storage_settings), **options)
        self.client: TableClient = service.get_table_client(settings.table_name)

    def rows(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every row (or those written after ``since``), with the service's ``Timestamp`` added."""
        pages: Any = (
            self.client.query_entities("Timestamp gt @since", parameters={"since": since}, results_per_page=PAGE_SIZE)
            if since is not None
            else self.client.list_entities(results_per_page=PAGE_SIZE)
        )
        try:
            for entity in pages:
                yield dict(entity) | {"Timestamp": entity.metadata.get("timestamp")}
        except ResourceNotFoundError as exc:
            raise SourceTableRefused(
                f"marketplace table {self.name}: not found in {self._where()}; check MARKETPLACE_TABLE (the table "
                "name given to Partner Center) and the account"
            ) from exc
        except ClientAuthenticationError as exc:
            raise SourceTableRefused(f"marketplace table {self.name}: {self._refused()} ({_brief(exc)})") from exc
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise SourceTableRefused(f"marketplace table {self.name}: {self._refused()} ({_brief(exc)})") from exc
            raise SourceTableUnavailable(f"marketplace table {self.name}: {_brief(exc)}") from exc
        except AzureError as exc:
            raise SourceTableUnavailable(f"marketplace table {self.name}: {_brief(exc)}") from exc

    def _where(self) -> str:
        if self.settings.connection_string:
            return "the account of MARKETPLACE_TABLE_CONNECTION"
        return self.settings.endpoint

    def _refused(self) -> str:
        if self.settings.connection_string:
            return "access refused; MARKETPLACE_TABLE_CONNECTION's account key is wrong or rotated: copy it again"
        return (
            "access refused; give this app's identity (or, from a laptop, your sign-in) the Storage Table Data "
            "Reader role on the table, or set MARKETPLACE_TABLE_CONNECTION"
        )


def _brief(error: AzureError) -> str:
    code = getattr(error, "error_code", None)
    return f"{error.__class__.__name__}{f' {code}' if code else ''}"
