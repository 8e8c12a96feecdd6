"""The small interfaces the steps work through. The adapters (leads/adapters) implement them for Azure
Storage, Dataverse, Graph and SMTP; the unit tests implement them in memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from leads.core.enrichment import ExistingContact
from leads.core.messages import Email
from leads.core.returning import OpenLead
from leads.core.routing import Lookup


class LeadStore(Protocol):
    """The lead table: one entity per lead, with its ETag as ``_etag``."""

    def insert(self, entity: dict[str, Any]) -> bool:
        """Create the entity; False if one with the same keys is already there."""

    def get(self, lead_id: str) -> dict[str, Any] | None:
        """The lead's entity with its ETag as ``_etag``, or None."""

    def update(self, lead_id: str, changes: dict[str, Any], etag: str | None = None) -> str:
        """Merge ``changes``; with ``etag``, only if nobody changed the lead since (else LeadChanged). The new ETag."""

    def query(
        self, query_filter: str, parameters: dict[str, Any], select: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Entities matching an OData filter with ``@name`` parameters, each with its ``_etag``."""


class ScrubbableStore(LeadStore, Protocol):
    """The lead table, where a row's personal data can be removed (core/personal.py) and erasures remembered."""

    def replace(self, lead_id: str, entity: dict[str, Any], etag: str) -> str:
        """Write ``entity`` as the whole row (every column it lacks goes), only if nobody changed the lead since
        ``etag`` (else LeadChanged). The new ETag."""

    def write_tombstone(self, address_hash: str, erased_at: datetime) -> None:
        """Record that the address with this hash was erased at ``erased_at`` (read back with ``query``)."""


class OwnRows(Protocol):
    """Rows of the app's own in the lead table beside the leads (a person's claim: core/returning.py), by keys."""

    def insert_row(self, entity: dict[str, Any]) -> str | None:
        """Create the row; its ETag, or None when a row with the same keys is already there."""

    def get_row(self, partition_key: str, row_key: str) -> dict[str, Any] | None:
        """The row with its ETag as ``_etag``, or None."""

    def update_row(self, partition_key: str, row_key: str, changes: dict[str, Any], etag: str) -> str:
        """Merge ``changes`` only if nobody changed the row since ``etag`` (else LeadChanged, also when it is gone).
        The new ETag."""

    def delete_row(self, partition_key: str, row_key: str, etag: str) -> bool:
        """Delete the row only if nobody changed it since ``etag``: False when it changed or is gone."""


class Watermarks(Protocol):
    """How far a followed source has been read, kept in our own table."""

    def read_watermark(self, name: str) -> datetime | None:
        """The time recorded under ``name``, or None before the first run."""

    def write_watermark(self, name: str, at: datetime) -> None:
        """Record ``at`` under ``name``."""


class SourceTable(Protocol):
    """Microsoft's Azure Table destination: the table the marketplace writes leads into."""

    name: str

    def rows(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Its rows, as stored, each with ``Timestamp`` (when the service last wrote it); with ``since``, only
        rows written after that time. SourceTableUnavailable / SourceTableRefused when it cannot be read."""


class LeadQueue(Protocol):
    """The queue the processing function listens on."""

    def send(self, text: str, delay_seconds: int = 0) -> None:
        """Enqueue one message; StorageUnavailable if it could not be."""


class Crm(Protocol):
    """Where leads become sales leads: Dynamics 365."""

    def create_lead(self, lead_id: str, body: dict[str, Any]) -> bool:
        """Create the lead with this id unless it exists: True if created now, False if it was there."""


class OpenLeads(Protocol):
    """What returning customers need from Dynamics (adapters/dataverse_returning.py)."""

    def find_open_leads(self, email: str, since: datetime) -> list[OpenLead]:
        """The open leads with this email created since ``since``, oldest first (a few at most)."""

    def find_duplicates(self, body: dict[str, Any]) -> list[OpenLead]:
        """The leads the organisation's duplicate detection rules match for this lead body, open or not."""

    def create_unless_duplicate(self, lead_id: str, body: dict[str, Any]) -> bool:
        """Create with duplicate detection on: True created now, False there already; DuplicateFound."""

    def attach_note(self, note_id: str, body: dict[str, Any]) -> bool:
        """Create the note with this id unless it exists: True if created now, False if it was there."""

    def note_target(self, note_id: str) -> str | None:
        """The lead the note with this id is attached to; None when there is no such note."""

    def read_lead(self, lead_id: str) -> dict[str, Any] | None:
        """The lead (leadid, statecode…), or None when Dynamics has none with this id."""

    def update_open_lead(self, lead_id: str, changes: dict[str, Any], etag: str) -> bool:
        """Change the lead's columns unless somebody changed it since ``etag``: False then (or when it is gone)."""


class Directory(Protocol):
    """The Dynamics records routing names (users, teams, campaigns) and the contacts leads are linked to."""

    def find_id(self, lookup: Lookup) -> str | None:
        """The record's id, or None when Dynamics has none; DataverseError when it could not be asked."""

    def find_contacts(self, email: str) -> list[ExistingContact]:
        """Active contacts with this email address, at most two (one is a match; two make it ambiguous)."""


class Mailer(Protocol):
    def send(self, email: Email) -> None:
        """Send one message from NOTIFY_FROM to ``email.to``, or to every NOTIFY_TO address when that is empty;
        MailError if not."""

    def check(self) -> str:
        """Check, without sending anything, that mail can be sent; a one-line description of what was
        checked, or MailError with advice naming the setting to fix."""


class CardPoster(Protocol):
    """A Teams channel's Workflows webhook."""

    def post(self, message: dict[str, Any]) -> bool:
        """Post the card; True once accepted, False when it may have been (no answer in time: not posted again).
        TeamsUnavailable (try later) or TeamsRefused (fix the webhook) when it was not."""
