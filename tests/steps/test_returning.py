"""Returning customers end to end: the queue function, Azurite, and the Entra ID, Dataverse, Graph and Workflows
stand-ins over real sockets (DYNAMICS_DUPLICATES attach and rules)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools.standins import StandIns
from leads import runtime
from leads.core import mapping, returning
from leads.core.lead_row import keys_for
from leads.core.matching import email_hash
from tests.leadsamples import marketplace_lead
from tests.steps.test_processing import dataverse_creates, entity, message, post, process

INSTALLED = marketplace_lead(ActionCode="INS", LeadSource="AzureMarketplace-INS|contoso.crm-connector")
CONTACT_ME = marketplace_lead(
    ActionCode="PLT", LeadSource="AzureMarketplace-PLT|contoso.crm-connector", Description="Please call me back"
)


@pytest.fixture
def attach_env(app_env: dict[str, str], standins: StandIns, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DYNAMICS_DUPLICATES", "attach")
    monkeypatch.setenv("TEAMS_WEBHOOK_URL", standins.teams_webhook_url)
    runtime.reset()
    yield "attach"
    runtime.reset()


def notes_on(standins: StandIns, dynamics_lead_id: str) -> list[dict[str, Any]]:
    return [note for note in standins.dataverse.annotations() if note["_objectid_value"] == dynamics_lead_id]


def card_texts(card: dict[str, Any]) -> str:
    content = card["attachments"][0]["content"]
    texts = [block.get("text", "") for block in content["body"]]
    texts += [fact["value"] for block in content["body"] for fact in block.get("facts", [])]
    return "\n".join(texts) + "\n" + "\n".join(action["title"] for action in content.get("actions", []))


def test_two_events_of_one_person_become_one_lead_with_a_note(attach_env: str, standins: StandIns) -> None:
    first = post(INSTALLED)
    process(message(first))
    second = post(CONTACT_ME)
    process(message(second))
    process(message(second, dequeue_count=2))  # a redelivery: no second note, no second mail or card

    assert len(dataverse_creates(standins)) == 1
    lead = mapping.dataverse_lead_id(first)
    assert set(standins.dataverse.leads) == {lead}
    [note] = notes_on(standins, lead)
    assert note["annotationid"] == returning.dataverse_note_id(second)
    assert note["subject"] == "Returning customer: Azure Marketplace lead: Contoso CRM Connector (PLT)"
    assert "Action: PLT" in note["notetext"] and "Please call me back" in note["notetext"]
    row = entity(second)
    assert row["Status"] == "done" and row["DynamicsLeadId"] == lead and row[returning.RETURNING] is True
    assert entity(first).get(returning.RETURNING) is None
    assert standins.dataverse.records.get("annotations", note["annotationid"]) is not None
    assert runtime.lead_table().get_row(*returning.person_keys(email_hash("ada@contoso.example"))) is None  # released

    new, again = standins.graph.messages
    assert new.subject.startswith("New marketplace lead") and again.subject.startswith("Returning customer: ")
    assert "added to the customer's open lead as a note" in html.unescape(again.content) and lead in again.content
    _, second_card = standins.workflows.cards
    assert standins.workflows.rejected == []
    text = card_texts(second_card)
    assert "Returning customer" in text and "New this time: Contact me" in text and "Open their lead" in text
    assert second_card["attachments"][0]["content"]["actions"][0]["url"].endswith(lead)


def test_the_open_lead_gets_its_empty_columns_filled_never_overwritten(attach_env: str, standins: StandIns) -> None:
    existing = standins.dataverse.seed_lead(emailaddress1="ADA@contoso.example", lastname="Lovelace",
                                            companyname="Old name Ltd")  # fmt: skip
    lead_id = post(CONTACT_ME)
    process(message(lead_id))
    record = standins.dataverse.lead(existing)
    assert record is not None
    assert record["telephone1"] == "+44 20 7946 0000" and record["jobtitle"] == "CTO"  # they were empty
    assert record["companyname"] == "Old name Ltd" and record["lastname"] == "Lovelace"  # never overwritten
    row = entity(lead_id)
    assert row["DynamicsLeadId"] == existing
    assert row[returning.RETURNING_FILLED] == "firstname,telephone1,jobtitle,address1_country"
    [mail] = standins.graph.messages
    filled = "Filled in on their lead (it had none): first name, business phone, job title, country."
    assert filled in html.unescape(mail.content)
    assert [r for r in dataverse_creates(standins) if r.headers.get("if-none-match") == "*"] == []  # no new lead
    [fill] = [r for r in dataverse_creates(standins) if r.headers.get("if-match")]
    assert fill.headers["if-match"].startswith('W/"')  # only if nobody changed the lead since it was read


@pytest.mark.parametrize(
    "seeded",
    [
        {"createdon": (datetime.now(UTC) - timedelta(days=91)).strftime("%Y-%m-%dT%H:%M:%SZ")},  # outside the window
        {"statecode": 1, "statuscode": 3},  # qualified: not open
        {"emailaddress1": "someone.else@contoso.example"},
    ],
)
def test_only_an_open_lead_of_the_same_address_within_the_window_is_joined(
    attach_env: str, standins: StandIns, seeded: dict[str, Any]
) -> None:
    other = standins.dataverse.seed_lead(**({"emailaddress1": "ada@contoso.example"} | seeded))
    lead_id = post(CONTACT_ME)
    process(message(lead_id))
    assert entity(lead_id)["DynamicsLeadId"] == mapping.dataverse_lead_id(lead_id)
    assert len(dataverse_creates(standins)) == 1 and notes_on(standins, other) == []


def test_a_quote_in_the_address_stays_inside_the_literal(attach_env: str, standins: StandIns) -> None:
    standins.dataverse.seed_lead(emailaddress1="x@contoso.example")
    document = marketplace_lead(UserDetails={"Email": "o'brien@contoso.example' or emailaddress1 ne 'x",
                                             "FirstName": "Pat", "LastName": "O'Brien"})  # fmt: skip
    lead_id = post(document)
    process(message(lead_id))
    assert entity(lead_id)["DynamicsLeadId"] == mapping.dataverse_lead_id(lead_id)  # nothing matched: created
    [query] = [r for r in standins.dataverse.requests if r.method == "GET" and r.path.endswith("/leads")]
    assert "o''brien@contoso.example'' or emailaddress1 ne ''x'" in query.query["$filter"][0]


def test_a_try_that_stopped_after_the_note_is_resumed_without_a_second_note(
    attach_env: str, standins: StandIns
) -> None:
    first = post(INSTALLED)
    process(message(first))
    second = post(CONTACT_ME)
    lead = mapping.dataverse_lead_id(first)
    # What an earlier try of the second lead left when its host stopped: the note in Dynamics, the person's claim
    # in the table, nothing on the lead's row.
    dataverse = runtime.dataverse()
    from leads.core.payload import parse_lead

    dataverse.attach_note(returning.dataverse_note_id(second),
                          returning.note_body(parse_lead(CONTACT_ME), datetime.now(UTC), lead))  # fmt: skip
    address = email_hash("ada@contoso.example")
    assert runtime.lead_table().insert_row(returning.claim_row(address, second, datetime.now(UTC)))
    before = len(standins.dataverse.requests)
    process(message(second, dequeue_count=2))
    asked = [f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in standins.dataverse.requests[before:]]
    assert asked == [f"GET annotations({returning.dataverse_note_id(second)})"]  # found it: no query, no note
    assert len(notes_on(standins, lead)) == 1 and entity(second)["DynamicsLeadId"] == lead
    assert runtime.lead_table().get_row(*returning.person_keys(address)) is None


def test_microsoft_test_leads_are_always_created(attach_env: str, standins: StandIns) -> None:
    test_lead = marketplace_lead(UserDetails={"Email": "MSFT_TEST@example.com", "FirstName": "MSFT_TEST",
                                              "LastName": "MSFT_TEST"})  # fmt: skip
    first, second = post(test_lead), post(test_lead | {"ActionCode": "PLT"})
    process(message(first))
    process(message(second))
    assert len(dataverse_creates(standins)) == 2 and standins.dataverse.annotations() == []


# --- the organisation's own duplicate detection rules --------------------------------------------------


@pytest.fixture
def rules_env(attach_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DYNAMICS_DUPLICATES", "rules")
    runtime.reset()
    return "rules"


@pytest.mark.parametrize("status", [412, 500])  # Microsoft's pages disagree; the code decides
def test_with_rules_a_duplicate_the_rules_find_gets_the_note(rules_env: str, standins: StandIns, status: int) -> None:
    standins.dataverse.duplicate_detection.configure(status=status)
    first = post(INSTALLED)
    process(message(first))
    second = post(CONTACT_ME)
    process(message(second))
    lead = mapping.dataverse_lead_id(first)
    assert set(standins.dataverse.leads) == {lead} and len(notes_on(standins, lead)) == 1
    creates = [r for r in standins.dataverse.requests if r.method == "PATCH" and "/leads(" in r.path]
    assert [r.status for r in creates] == [204, status]
    assert all(r.headers.get("mscrm.suppressduplicatedetection") == "false" for r in creates)
    assert entity(second)["DynamicsLeadId"] == lead and entity(second)[returning.RETURNING] is True


def test_with_rules_a_duplicate_that_is_not_an_open_lead_is_created_anyway(rules_env: str, standins: StandIns) -> None:
    closed = standins.dataverse.seed_lead(emailaddress1="ada@contoso.example", statecode=2, statuscode=4)
    lead_id = post(CONTACT_ME)
    process(message(lead_id))
    assert entity(lead_id)["DynamicsLeadId"] == mapping.dataverse_lead_id(lead_id)
    assert set(standins.dataverse.leads) == {closed, mapping.dataverse_lead_id(lead_id)}
    assert standins.dataverse.annotations() == []


def test_with_rules_and_none_published_every_lead_is_created(rules_env: str, standins: StandIns) -> None:
    standins.dataverse.duplicate_detection.configure(rules=[])
    first, second = post(INSTALLED), post(CONTACT_ME)
    process(message(first))
    process(message(second))
    assert len(dataverse_creates(standins)) == 2 and standins.dataverse.annotations() == []


# --- routing ------------------------------------------------------------------------------------------------

REASSIGN = """
[[rules]]
name = "hot"
owner_team = "Closers"
reassign_returning = true
recipients = ["closers@contoso.example"]
[rules.when]
action = "plt"
[[rules]]
name = "default"
owner_team = "Inside Sales"
"""


def test_routing_applies_and_the_owner_is_kept_unless_the_rule_says_otherwise(
    attach_env: str, standins: StandIns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rules = tmp_path / "routing.toml"
    rules.write_text(REASSIGN)
    monkeypatch.setenv("LEAD_ROUTING_FILE", str(rules))
    runtime.reset()
    inside = standins.dataverse.records.add("teams", name="Inside Sales")
    closers = standins.dataverse.records.add("teams", name="Closers")
    first = post(INSTALLED)
    process(message(first))
    lead = mapping.dataverse_lead_id(first)
    assert standins.dataverse.leads[lead]["_ownerid_value"] == inside
    second = post(CONTACT_ME)
    process(message(second))
    assert standins.dataverse.leads[lead]["_ownerid_value"] == closers  # the rule says so
    _, mail = standins.graph.messages
    assert mail.to == ("closers@contoso.example",) and mail.subject.startswith("Returning customer")

    third = post(marketplace_lead(ActionCode="INS", LeadSource="AppSource-INS|contoso.analytics"))
    process(message(third))  # the default rule does not reassign: the owner stays
    assert standins.dataverse.leads[lead]["_ownerid_value"] == closers
    assert entity(third)["DynamicsLeadId"] == lead


def test_row_keys_are_the_lead_partitions_so_status_never_sees_a_claim() -> None:
    partition, _ = returning.person_keys("0" * 32)
    assert partition > "ff" and keys_for("ab" * 16)[0] <= "ff"
