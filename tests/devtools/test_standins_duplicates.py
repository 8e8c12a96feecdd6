"""The Dataverse stand-in's notes and duplicate detection over HTTP, as Microsoft's pages show them (the stand-in's
docstrings say what is confirmed and what inferred)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests

from devtools.standins import StandIns
from tests.devtools.test_standins import LEAD, dataverse_headers, lead_url

DUPLICATE = {
    "error": {
        "code": "0x80040333",
        "message": "A record was not created or updated because a duplicate of the current record already exists.",
    }
}


@pytest.fixture(autouse=True)
def trusted(standins: StandIns, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", standins.settings["LOOPBACK_CA_FILE"])


def api(standins: StandIns) -> str:
    return f"{standins.dataverse.base_url}/api/data/v9.2"


def create(standins: StandIns, body: dict[str, Any], detect: bool) -> requests.Response:
    extra = {"MSCRM.SuppressDuplicateDetection": "false"} if detect else {}
    return requests.post(f"{api(standins)}/leads", json=body, headers=dataverse_headers(standins, **extra), timeout=5)


@pytest.mark.parametrize("status", [412, 500])
def test_a_create_that_asks_for_detection_is_refused_on_a_duplicate(standins: StandIns, status: int) -> None:
    standins.dataverse.duplicate_detection.configure(status=status)
    ada = {**LEAD, "emailaddress1": "monteorton@example.com"}
    assert create(standins, ada, detect=True).status_code == 204
    assert create(standins, ada, detect=False).status_code == 204  # detection is off unless asked for
    refused = create(standins, {**ada, "emailaddress1": "MonteOrton@example.com"}, detect=True)
    assert (refused.status_code, refused.json()) == (status, DUPLICATE)
    assert len(standins.dataverse.leads) == 2
    headers = dataverse_headers(standins, **{"If-None-Match": "*", "MSCRM.SuppressDuplicateDetection": "false"})
    upsert = requests.patch(lead_url(standins), json=ada, headers=headers, timeout=5)
    assert (upsert.status_code, upsert.json()) == (status, DUPLICATE)


def test_blank_values_never_match_and_a_rule_can_leave_closed_leads_out(standins: StandIns) -> None:
    assert create(standins, LEAD, detect=True).status_code == 204  # no email
    assert create(standins, LEAD, detect=True).status_code == 204
    standins.dataverse.seed_lead(emailaddress1="x@example.com", statecode=1)
    assert create(standins, {**LEAD, "emailaddress1": "x@example.com"}, detect=True).status_code == 412
    standins.dataverse.duplicate_detection.configure(
        rules=[{"name": "open leads only", "columns": ["emailaddress1"], "exclude_inactive": True}]
    )
    assert create(standins, {**LEAD, "emailaddress1": "x@example.com"}, detect=True).status_code == 204


def test_retrieve_duplicates_reads_microsofts_single_quoted_parameters(standins: StandIns) -> None:
    existing = standins.dataverse.seed_lead(emailaddress1="monteorton@example.com")
    record = "{'@odata.type':'Microsoft.Dynamics.CRM.lead','emailaddress1':'monteorton@example.com'}"
    url = (f"{api(standins)}/RetrieveDuplicates(BusinessEntity=@p1,MatchingEntityName=@p2,PagingInfo=@p3)"
           f"?@p1={record}&@p2='lead'&@p3={{'PageNumber':1,'Count':50}}")  # fmt: skip
    found = requests.get(url, headers=dataverse_headers(standins), timeout=5)
    assert found.status_code == 200, found.text
    assert found.json()["@odata.context"].endswith("$metadata#leads")
    assert [row["leadid"] for row in found.json()["value"]] == [existing]
    by_id = url.replace("'emailaddress1':'monteorton@example.com'", f"'leadid':'{existing}'")
    assert requests.get(by_id, headers=dataverse_headers(standins), timeout=5).json()["value"] == []  # not itself
    contacts = url.replace("@p2='lead'", "@p2='contact'")
    assert requests.get(contacts, headers=dataverse_headers(standins), timeout=5).json()["value"] == []


def test_notes_post_and_upsert_under_their_id_and_read_back(standins: StandIns) -> None:
    lead = standins.dataverse.seed_lead(emailaddress1="a@example.com")
    note_id = str(uuid.uuid4())
    body = {"subject": "s", "notetext": "t", "objectid_lead@odata.bind": f"/leads({lead})"}
    headers = dataverse_headers(standins, **{"If-None-Match": "*"})
    first = requests.patch(f"{api(standins)}/annotations({note_id})", json=body, headers=headers, timeout=5)
    again = requests.patch(f"{api(standins)}/annotations({note_id})", json=body, headers=headers, timeout=5)
    assert first.status_code == 204 and first.headers["OData-EntityId"].endswith(f"annotations({note_id})")
    assert again.status_code == 412 and again.json()["error"]["code"] == "0x80040237"
    read = requests.get(f"{api(standins)}/annotations({note_id})?$select=_objectid_value",
                        headers=dataverse_headers(standins), timeout=5)  # fmt: skip
    assert read.json()["_objectid_value"] == lead and "notetext" not in read.json()
    posted = requests.post(f"{api(standins)}/annotations", data=json.dumps(body), timeout=5,
                           headers=dataverse_headers(standins, **{"Content-Type": "application/json"}))  # fmt: skip
    assert posted.status_code == 204 and len(standins.dataverse.annotations()) == 2
    too_long = requests.post(f"{api(standins)}/annotations", json={**body, "subject": "x" * 501},
                             headers=dataverse_headers(standins), timeout=5)  # fmt: skip
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "0x80044331"
    unknown = requests.post(f"{api(standins)}/annotations", json={**body, "title": "x"},
                            headers=dataverse_headers(standins), timeout=5)  # fmt: skip
    assert unknown.status_code == 400 and "'Microsoft.Dynamics.CRM.annotation'" in unknown.json()["error"]["message"]


def test_leads_are_listed_with_a_date_filter_and_an_order(standins: StandIns) -> None:
    old = standins.dataverse.seed_lead(emailaddress1="a@example.com", createdon="2026-01-01T00:00:00Z")
    new = standins.dataverse.seed_lead(emailaddress1="a@example.com", createdon="2026-06-01T00:00:00Z")
    params = {"$filter": "emailaddress1 eq 'A@example.com' and createdon ge 2025-12-31T00:00Z",
              "$orderby": "createdon desc", "$select": "leadid"}  # fmt: skip
    found = requests.get(f"{api(standins)}/leads", params=params, headers=dataverse_headers(standins), timeout=5)
    assert [row["leadid"] for row in found.json()["value"]] == [new, old]
    params["$filter"] = "createdon gt 2026-03-01T00:00:00Z"
    found = requests.get(f"{api(standins)}/leads", params=params, headers=dataverse_headers(standins), timeout=5)
    assert [row["leadid"] for row in found.json()["value"]] == [new]
    params["$orderby"] = "nosuchcolumn"
    found = requests.get(f"{api(standins)}/leads", params=params, headers=dataverse_headers(standins), timeout=5)
    assert found.status_code == 400 and found.json()["error"]["code"] == "0x80060888"
