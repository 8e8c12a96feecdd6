"""The Dataverse calls returning customers make (adapters/dataverse_returning.py), against the Dataverse stand-in over
HTTP: the open-lead query, creates with the organisation's duplicate detection on, RetrieveDuplicates, notes created
once under an id of ours, and the fill-in of an open lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devtools.standins import StandIns
from leads.adapters.dataverse import Dataverse
from leads.adapters.signin import token_source
from leads.adapters.webapi import new_session, retry_rules
from leads.core import mapping, returning
from leads.core.errors import DataverseRejected, DataverseUnavailable, DuplicateFound
from leads.core.payload import parse_lead
from leads.settings import load_dynamics
from tests.adapters.test_adapter_errors import assert_carries_none_of
from tests.leadsamples import marketplace_lead

LEAD = parse_lead(marketplace_lead())
WHEN = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture
def dataverse(standins: StandIns, monkeypatch: pytest.MonkeyPatch) -> Dataverse:
    monkeypatch.setenv("LOOPBACK_CA_FILE", standins.settings["LOOPBACK_CA_FILE"])
    settings = load_dynamics(standins.settings)
    return Dataverse(settings, token_source(settings), new_session(retry_rules(total=1, backoff_factor=0)))


def ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_open_leads_of_the_address_oldest_first_within_the_window(dataverse: Dataverse, standins: StandIns) -> None:
    seed = standins.dataverse.seed_lead
    newer = seed(emailaddress1="ada@contoso.example", createdon=ago(3))
    older = seed(emailaddress1="ADA@contoso.example", createdon=ago(30), telephone1="+1 555 0100")
    seed(emailaddress1="ada@contoso.example", createdon=ago(100))  # outside the window
    seed(emailaddress1="ada@contoso.example", createdon=ago(2), statecode=1)  # qualified
    seed(emailaddress1="bob@contoso.example", createdon=ago(1))
    found = dataverse.find_open_leads("ada@contoso.example", datetime.now(UTC) - timedelta(days=90))
    assert [lead.lead_id for lead in found] == [older, newer]
    assert found[0].values["telephone1"] == "+1 555 0100" and found[0].etag.startswith('W/"')
    [query] = [r for r in standins.dataverse.requests if r.path.endswith("/leads")]
    assert query.query["$orderby"] == ["createdon asc"] and query.query["$top"] == ["5"]


def test_a_quote_in_the_address_cannot_widen_the_query(dataverse: Dataverse, standins: StandIns) -> None:
    standins.dataverse.seed_lead(emailaddress1="bob@contoso.example")
    assert dataverse.find_open_leads("x' or emailaddress1 ne 'y", WHEN - timedelta(days=900)) == []


def test_a_note_is_created_once_under_its_id_and_found_again(dataverse: Dataverse, standins: StandIns) -> None:
    target = standins.dataverse.seed_lead(emailaddress1="ada@contoso.example")
    note_id = returning.dataverse_note_id(LEAD.lead_id)
    body = returning.note_body(LEAD, WHEN, target)
    assert dataverse.attach_note(note_id, body) is True
    assert dataverse.attach_note(note_id, body) is False  # a redelivery: 412, nothing new
    [note] = standins.dataverse.annotations()
    assert note["annotationid"] == note_id and note["_objectid_value"] == target and note["objecttypecode"] == "lead"
    assert dataverse.note_target(note_id) == target
    assert dataverse.note_target(returning.dataverse_note_id("another")) is None


def test_a_note_for_a_lead_that_is_gone_is_refused_without_personal_data(
    dataverse: Dataverse, standins: StandIns
) -> None:
    missing = "00000000-0000-4000-8000-000000000001"
    with pytest.raises(DataverseRejected) as refused:
        dataverse.attach_note(returning.dataverse_note_id(LEAD.lead_id), returning.note_body(LEAD, WHEN, missing))
    assert refused.value.code == "0x80040217"
    assert_carries_none_of(refused.value)


def test_notes_need_their_privileges(dataverse: Dataverse, standins: StandIns) -> None:
    target = standins.dataverse.seed_lead(emailaddress1="ada@contoso.example")
    standins.dataverse.privileges -= {"prvAppendToLead"}
    with pytest.raises(DataverseRejected) as refused:
        dataverse.attach_note(returning.dataverse_note_id(LEAD.lead_id), returning.note_body(LEAD, WHEN, target))
    assert refused.value.status == 403 and "prvAppendToLead" in refused.value.message


@pytest.mark.parametrize("status", [412, 500])
def test_a_duplicate_the_rules_find_is_duplicate_found_whatever_its_status(
    dataverse: Dataverse, standins: StandIns, status: int
) -> None:
    standins.dataverse.duplicate_detection.configure(status=status)
    standins.dataverse.seed_lead(emailaddress1="ada@contoso.example")
    body = mapping.to_dataverse(LEAD, WHEN)
    with pytest.raises(DuplicateFound) as found:
        dataverse.create_unless_duplicate(mapping.dataverse_lead_id(LEAD.lead_id), body)
    assert found.value.code == "0x80040333"
    assert_carries_none_of(found.value)
    patches = [r for r in standins.dataverse.requests if r.method == "PATCH"]
    assert len(patches) == 1  # a duplicate is not retried, even as a 500
    assert patches[0].headers["mscrm.suppressduplicatedetection"] == "false"
    assert standins.dataverse.leads.keys() == {next(iter(standins.dataverse.leads))}  # nothing was created


def test_a_create_without_detection_never_reads_a_duplicate_as_already_there(
    dataverse: Dataverse, standins: StandIns
) -> None:
    # Without the header Dataverse does not detect; should something answer 412 0x80040333 anyway, it is not taken
    # for "this lead exists" (which would record a lead that is not there).
    standins.dataverse.fail_next(412, body={"error": {"code": "0x80040333", "message": "duplicate"}})
    with pytest.raises(DataverseRejected):
        dataverse.create_lead(mapping.dataverse_lead_id(LEAD.lead_id), mapping.to_dataverse(LEAD, WHEN))


def test_a_create_with_detection_of_a_lead_already_there_is_no_duplicate(
    dataverse: Dataverse, standins: StandIns
) -> None:
    lead_id, body = mapping.dataverse_lead_id(LEAD.lead_id), mapping.to_dataverse(LEAD, WHEN)
    assert dataverse.create_unless_duplicate(lead_id, body) is True
    assert dataverse.create_unless_duplicate(lead_id, body) is False  # the key exists: 412 0x80040237


def test_a_server_error_of_a_create_with_detection_goes_back_to_the_queue(
    dataverse: Dataverse, standins: StandIns
) -> None:
    standins.dataverse.fail_next(500, method="PATCH")
    with pytest.raises(DataverseUnavailable):
        dataverse.create_unless_duplicate(mapping.dataverse_lead_id(LEAD.lead_id), mapping.to_dataverse(LEAD, WHEN))


def test_retrieve_duplicates_answers_what_the_rules_match(dataverse: Dataverse, standins: StandIns) -> None:
    open_lead = standins.dataverse.seed_lead(emailaddress1="Ada@Contoso.example")
    closed = standins.dataverse.seed_lead(emailaddress1="ada@contoso.example", statecode=2)
    standins.dataverse.seed_lead(emailaddress1="bob@contoso.example")
    found = dataverse.find_duplicates(mapping.to_dataverse(LEAD, WHEN))
    assert {(lead.lead_id, lead.is_open) for lead in found} == {(open_lead, True), (closed, False)}
    standins.dataverse.duplicate_detection.configure(rules=[{"name": "n", "columns": ["emailaddress1"],
                                                             "exclude_inactive": True}])  # fmt: skip
    assert [lead.lead_id for lead in dataverse.find_duplicates(mapping.to_dataverse(LEAD, WHEN))] == [open_lead]


def test_the_fill_in_changes_the_lead_only_if_nobody_did_meanwhile(dataverse: Dataverse, standins: StandIns) -> None:
    target = standins.dataverse.seed_lead(emailaddress1="ada@contoso.example")
    [found] = dataverse.find_open_leads("ada@contoso.example", WHEN - timedelta(days=900))
    assert dataverse.update_open_lead(target, {"telephone1": "+44 1"}, found.etag) is True
    assert dataverse.update_open_lead(target, {"jobtitle": "CTO"}, found.etag) is False  # changed since: 412
    record = standins.dataverse.lead(target)
    assert record is not None and record["telephone1"] == "+44 1" and record["jobtitle"] is None
