"""`python -m leads forget` against Azurite and the Dataverse stand-in: a dry run that changes nothing, --apply,
--dynamics delete / anonymise after the privilege check, and a redelivery afterwards that creates nothing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from azure.functions.queue import QueueMessage

from devtools.standins import StandIns
from function_app import process_lead
from leads import runtime
from leads.core import mapping, returning
from tests.leadsamples import body, marketplace_lead
from tests.ops.test_import_command import command_line
from tests.steps.test_intake import post

process = process_lead.build().get_user_function()
ADA = "ada@contoso.example"
PERSONAL_VALUES = ("Ada", "Lovelace", ADA, "+44 20 7946 0000", "Contoso Ltd", "pricing")


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], app_env: dict[str, str]) -> Any:
    """The command line with the environment app_env set (Azurite and the stand-ins), no settings file."""
    return command_line(tmp_path, capsys)


def deliver(note: str, **payload: Any) -> str:
    """A lead through the endpoint and the queue function: stored, in Dynamics, mailed."""
    status, answer, _ = post(body(marketplace_lead(Description=f"Please contact me about pricing ({note})", **payload)))
    assert status == 202
    [message] = runtime.lead_queue().client.receive_messages(max_messages=5)
    process(QueueMessage(id=message.id, body=message.content.encode(), dequeue_count=1))
    runtime.lead_queue().client.delete_message(message)
    lead_id: str = answer["id"]
    assert runtime.lead_table().get(lead_id)["Status"] == "done"  # type: ignore[index]
    return lead_id


def test_forget_dry_run_then_apply_with_dynamics_delete(
    cli: Any, standins: StandIns, caplog: pytest.LogCaptureFixture
) -> None:
    lead_id = deliver("first")
    dynamics_id = mapping.dataverse_lead_id(lead_id)
    standins.dataverse.records.add("annotations", _objectid_value=dynamics_id, notetext="called again")
    other = deliver("someone else", UserDetails={"FirstName": "Grace", "Email": "grace@fabrikam.example"})
    before = runtime.lead_table().get(lead_id)

    code, text = cli("forget", "Ada@Contoso.example")
    assert code == 0, text
    assert "dry run: nothing is changed" in text and f"lead {lead_id}" in text and other not in text
    assert f"id={dynamics_id}" in text and "add --dynamics delete or --dynamics anonymise" in text
    assert "1 lead(s) were announced by mail or Teams card" in text
    assert runtime.lead_table().get(lead_id) == before and standins.dataverse.lead(dynamics_id) is not None

    code, text = cli("forget", ADA, "--dynamics", "delete")  # the stand-in's user cannot delete leads by default
    assert code == 2 and "lacks prvDeleteLead" in text and "Delete on Lead" in text and "nothing was changed" in text
    assert runtime.lead_table().get(lead_id) == before

    standins.dataverse.privileges.add("prvDeleteLead")
    code, text = cli("forget", ADA, "--dynamics", "delete")
    assert code == 0 and f"lead {lead_id} (open)" in text and "would delete" in text
    assert standins.dataverse.lead(dynamics_id) is not None

    with caplog.at_level(logging.DEBUG):
        code, text = cli("forget", ADA, "--apply", "--dynamics", "delete")
    assert code == 0, text
    assert "erased: the personal data of 1 lead(s) removed" in text and "deleted, with its notes" in text
    assert standins.dataverse.lead(dynamics_id) is None
    assert standins.dataverse.records.query("annotations", {}, annotations=False) == []
    assert standins.dataverse.lead(mapping.dataverse_lead_id(other)) is not None
    erased = runtime.lead_table().get(lead_id)
    assert erased is not None and erased["ErasedAt"] and erased["Status"] == "done"
    assert not any(value in str(erased) for value in PERSONAL_VALUES)
    for output in (text, caplog.text):
        assert not any(value.lower() in output.lower() for value in (ADA, "grace@fabrikam.example"))

    # The marketplace delivers the lead again: recognised, nothing stored, nothing created in Dynamics.
    status, answer, _ = post(body(marketplace_lead(Description="Please contact me about pricing (first)")))
    assert (status, answer) == (202, {"id": lead_id, "duplicate": True})
    assert standins.dataverse.lead(dynamics_id) is None
    code, text = cli("forget", ADA, "--apply", "--dynamics", "delete")  # again: nothing more to do
    assert code == 0 and "(1 erased before)" in text and "not in Dynamics" in text


def test_forget_dynamics_anonymise_empties_the_contact_and_deletes_the_notes(cli: Any, standins: StandIns) -> None:
    lead_id = deliver("anonymised")
    dynamics_id = mapping.dataverse_lead_id(lead_id)
    note = standins.dataverse.records.add("annotations", _objectid_value=dynamics_id, notetext="Ada called again")
    kept = standins.dataverse.records.add("annotations", _objectid_value="00000000-0000-0000-0000-000000000001")
    code, text = cli("forget", ADA, "--apply", "--dynamics", "anonymise")
    assert code == 2 and "lacks prvDeleteNote" in text
    standins.dataverse.privileges.add("prvDeleteNote")
    code, text = cli("forget", ADA, "--apply", "--dynamics", "anonymise")
    assert code == 0, text
    assert "anonymised, 1 note(s) deleted" in text
    lead = standins.dataverse.lead(dynamics_id)
    assert lead is not None
    emptied = ("firstname", "lastname", "emailaddress1", "telephone1", "companyname", "jobtitle", "address1_country")
    assert all(lead[column] is None for column in (*emptied, "fullname"))
    assert lead["description"].startswith("Personal data erased on request") and lead_id in lead["description"]
    assert lead["subject"] == "Azure Marketplace lead: Contoso CRM Connector (INS)"
    notes = [row["annotationid"] for row in standins.dataverse.records.query("annotations", {}, annotations=False)]
    assert note not in notes and kept in notes


def test_forget_an_unprocessed_lead_stops_it(cli: Any, standins: StandIns) -> None:
    status, answer, _ = post(body(marketplace_lead()))
    assert status == 202
    code, text = cli("forget", ADA, "--apply")
    assert code == 0 and "received" in text
    entity = runtime.lead_table().get(answer["id"])
    assert entity is not None and entity["Status"] == "failed" and "erased on request" in entity["LastError"]
    [message] = runtime.lead_queue().client.receive_messages(max_messages=5)
    process(QueueMessage(id=message.id, body=message.content.encode(), dequeue_count=1))  # the queued message
    assert standins.dataverse.leads == {}  # nothing reaches Dynamics
    code, text = cli("replay", "--failed")
    assert f"{answer['id']}: personal data removed, nothing to replay" in text and "replayed 0" in text


def test_forget_needs_addresses_and_never_prints_them(cli: Any) -> None:
    code, text = cli("forget", "not-an-address")
    assert code == 2 and "argument 1 is not one" in text and "not-an-address" not in text
    code, text = cli("forget", "nobody@contoso.example")
    assert code == 0 and "no lead in the table" in text and "nobody@" not in text


def test_forget_deletes_a_returning_customers_notes_and_their_lead(
    cli: Any, standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNAMICS_DUPLICATES", "attach")
    runtime.reset()
    first = deliver("first")
    second = deliver("second", ActionCode="PLT")
    dynamics_id = mapping.dataverse_lead_id(first)
    assert runtime.lead_table().get(second)["DynamicsLeadId"] == dynamics_id  # type: ignore[index]
    note_id = returning.dataverse_note_id(second)
    assert standins.dataverse.records.exists("annotations", note_id)

    code, text = cli("forget", ADA)
    assert code == 0 and "1 lead(s) created by this app" in text
    assert f"lead {second} → a note (returning customer) on" in text

    standins.dataverse.privileges.add("prvDeleteLead")
    code, text = cli("forget", ADA, "--dynamics", "delete")  # the note needs Delete on Note too
    assert code == 2 and "lacks prvDeleteNote" in text
    standins.dataverse.privileges.add("prvDeleteNote")
    code, text = cli("forget", ADA, "--apply", "--dynamics", "anonymise")
    assert code == 0, text
    assert "anonymised, 1 note(s) deleted" in text  # the lead's notes went with it, the returning one included
    assert f"lead {second}: its note (returning customer) on" in text and "note gone already" in text
    assert "not created by this app" not in text
    assert not standins.dataverse.records.exists("annotations", note_id)
    assert standins.dataverse.lead(dynamics_id)["emailaddress1"] is None  # type: ignore[index]


def test_forget_says_when_the_open_lead_a_note_is_on_is_not_this_apps(
    cli: Any, standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNAMICS_DUPLICATES", "attach")
    runtime.reset()
    by_hand = standins.dataverse.seed_lead(emailaddress1=ADA)
    lead_id = deliver("to a lead made by hand")
    standins.dataverse.privileges |= {"prvDeleteLead", "prvDeleteNote"}
    code, text = cli("forget", ADA, "--apply", "--dynamics", "delete")
    assert code == 0, text
    assert "note deleted" in text and "not created by this app for this address: erase it in Dynamics" in text
    assert standins.dataverse.lead(by_hand) is not None and standins.dataverse.annotations() == []
    assert runtime.lead_table().get(lead_id)["ErasedAt"]  # type: ignore[index]
