"""Dataverse calls for returning customers (steps/returning.py): the open-lead query, the organisation's duplicate
detection (create with it on, RetrieveDuplicates), notes (annotations) created once under an id of ours, and the
fill-in of an open lead's empty columns. A mixin of adapters/dataverse.Dataverse, which sends and reads errors.

What Microsoft documents, and what is inferred [U] (REFERENCE §3, §8.1; docs/returning-customers in README):
- ``MSCRM.SuppressDuplicateDetection: false`` makes a create apply the published duplicate detection rules; a
  duplicate is refused with ``0x80040333`` "A record was not created or updated because a duplicate of the current
  record already exists." Microsoft's pages disagree on the status: 500 (Detect duplicate data using the Web API)
  and 412 (Use optional parameters, 2025). The code decides here, whatever the status: a 412 is "already there"
  only when its code is not 0x80040333. That the header applies to an upsert that creates (PATCH with
  ``If-None-Match: *``, how the app creates) is inferred from the page's PATCH example [U].
- A 500 is retried by the shared session (webapi.retry_rules); a duplicate answered 500 would be sent four more
  times, so the create with detection on goes through a session of its own that retries 429, 502, 503 and 504 only
  (a real 500 then goes back to the queue, which tries again later).
- The error does not say which record is the duplicate: ``RetrieveDuplicates(BusinessEntity=@p1,
  MatchingEntityName=@p2,PagingInfo=@p3)`` (a function; the record as a JSON parameter alias) returns the records
  the published rules match.
- A note: ``PATCH annotations(<id>)`` with ``If-None-Match: *`` creates and never updates (annotation supports
  Upsert and annotationid is valid for create, per its table reference), bound with ``objectid_lead@odata.bind``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from leads.adapters.odata import odata_string
from leads.adapters.webapi import RETRIED_STATUSES, new_session, retry_rules
from leads.core.errors import DataverseError, DuplicateFound
from leads.core.returning import FILLABLE, OpenLead

DUPLICATE_CODE = "0x80040333"
NO_DUPLICATE_DETECTION = {"MSCRM.SuppressDuplicateDetection": "false"}  # i.e. detection on
MAX_OPEN_LEADS = 5  # a person has one open lead, or a few from before attach was on
_SELECT = ",".join(("leadid", "createdon", "statecode", *FILLABLE))
_SAFE = "',()"
_NOT_500 = tuple(status for status in RETRIED_STATUSES if status != 500)
_CONTACT_COLUMNS = ("subject", "emailaddress1", *FILLABLE)  # what duplicate rules compare (no memo, no lookups)


class ReturningCalls:
    """The calls; ``_request`` and ``_error`` are Dataverse's."""

    _detecting: requests.Session | None = None  # for creates with duplicate detection on: no retry of a 500

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        raise NotImplementedError

    def _error(self, response: requests.Response, sent: Iterable[str] = ()) -> DataverseError:
        raise NotImplementedError

    def find_open_leads(self, email: str, since: datetime) -> list[OpenLead]:
        """The open leads (statecode 0) with this email address created since ``since``, oldest first."""
        # A date-time literal is written bare; the address is a string literal with its quotes doubled.
        moment = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        options = (
            ("$select", _SELECT),
            ("$filter", f"emailaddress1 eq {odata_string(email)} and statecode eq 0 and createdon ge {moment}"),
            ("$orderby", "createdon asc"),
            ("$top", str(MAX_OPEN_LEADS)),
        )
        query = "&".join(f"{name}={quote(value, safe=_SAFE)}" for name, value in options)
        response = self._request("GET", f"leads?{query}")
        if response.status_code != 200:
            raise self._error(response, (email,))
        return [_open_lead(row) for row in response.json().get("value", [])]

    def find_duplicates(self, body: dict[str, Any]) -> list[OpenLead]:
        """The leads the organisation's published duplicate detection rules match for this lead (open or not)."""
        record = {"@odata.type": "Microsoft.Dynamics.CRM.lead"} | {
            name: body[name] for name in _CONTACT_COLUMNS if isinstance(body.get(name), str) and body[name]
        }
        aliases = (
            ("@p1", json.dumps(record, ensure_ascii=False, separators=(",", ":"))),
            ("@p2", "'lead'"),
            ("@p3", '{"PageNumber":1,"Count":50}'),
        )
        query = "&".join(f"{name}={quote(value, safe=_SAFE)}" for name, value in aliases)
        function = "RetrieveDuplicates(BusinessEntity=@p1,MatchingEntityName=@p2,PagingInfo=@p3)"
        response = self._request("GET", f"{function}?{query}")
        if response.status_code != 200:
            raise self._error(response, _strings(record))
        return [_open_lead(row) for row in response.json().get("value", [])]

    def create_unless_duplicate(self, lead_id: str, body: dict[str, Any]) -> bool:
        """Create the lead with duplicate detection on: True if created now, False if this id was there already;
        DuplicateFound when the organisation's rules found a duplicate (nothing was created)."""
        headers = {"If-None-Match": "*", "Content-Type": "application/json", **NO_DUPLICATE_DETECTION}
        if self._detecting is None:
            self._detecting = new_session(retry_rules().new(status_forcelist=_NOT_500))
        response = self._request("PATCH", f"leads({lead_id})", json=body, headers=headers, session=self._detecting)
        if response.status_code in (200, 201, 204):
            return True
        error = self._error(response, sent=_strings(body))
        if error.code == DUPLICATE_CODE:
            raise DuplicateFound(error.status, error.code, error.message)
        if response.status_code == 412:
            return False
        raise error

    def attach_note(self, note_id: str, body: dict[str, Any]) -> bool:
        """Create the note with this id unless it exists: True if created now, False if it was there already."""
        headers = {"If-None-Match": "*", "Content-Type": "application/json"}
        response = self._request("PATCH", f"annotations({note_id})", json=body, headers=headers)
        if response.status_code in (200, 201, 204):
            return True
        if response.status_code == 412:
            return False
        raise self._error(response, sent=_strings(body))

    def note_target(self, note_id: str) -> str | None:
        """The record the note is attached to, or None when there is no such note."""
        response = self._request("GET", f"annotations({note_id})?$select=_objectid_value")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._error(response)
        return str(response.json().get("_objectid_value") or "") or None

    def update_open_lead(self, lead_id: str, changes: dict[str, Any], etag: str) -> bool:
        """Change columns of the lead only if nobody changed it since ``etag`` ("" for any version): False when
        somebody did, or the lead is gone."""
        headers = {"If-Match": etag or "*", "Content-Type": "application/json"}
        response = self._request("PATCH", f"leads({lead_id})", json=changes, headers=headers)
        if response.status_code in (404, 412):
            return False
        if response.status_code not in (200, 204):
            raise self._error(response, sent=_strings(changes))
        return True


def _open_lead(row: dict[str, Any]) -> OpenLead:
    return OpenLead(
        lead_id=str(row.get("leadid") or ""),
        created_on=str(row.get("createdon") or ""),
        is_open=row.get("statecode", 0) == 0,
        etag=str(row.get("@odata.etag") or ""),
        values={name: row.get(name) for name in FILLABLE},
    )


def _strings(body: dict[str, Any]) -> list[str]:
    return [value for value in body.values() if isinstance(value, str)]
