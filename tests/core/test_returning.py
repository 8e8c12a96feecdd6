"""A returning customer's event as a note, the fill-in, and which open lead an event joins (core/returning.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from leads.core import mapping, returning
from leads.core.payload import parse_lead
from leads.core.returning import OpenLead
from tests.leadsamples import marketplace_lead

WHEN = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
LEAD = parse_lead(marketplace_lead(ActionCode="PLT", Description='Call me <b>now</b> & "soon" {"mktcmpid": "cmp-1"}'))


def test_the_note_id_is_fixed_per_lead_and_never_the_lead_id() -> None:
    assert returning.dataverse_note_id(LEAD.lead_id) == returning.dataverse_note_id(LEAD.lead_id)
    assert returning.dataverse_note_id(LEAD.lead_id) != mapping.dataverse_lead_id(LEAD.lead_id)
    assert returning.dataverse_note_id(LEAD.lead_id) != returning.dataverse_note_id("another")


def test_the_note_holds_the_events_details_as_text_never_markup() -> None:
    note = returning.note_body(LEAD, WHEN, "0b9e5c1a-0000-4000-8000-000000000001", ("telephone1",))
    assert note["objectid_lead@odata.bind"] == "/leads(0b9e5c1a-0000-4000-8000-000000000001)"
    assert note["subject"] == "Returning customer: Azure Marketplace lead: Contoso CRM Connector (PLT)"
    text = note["notetext"]
    for fact in ("Action: PLT", "Offer: Contoso CRM Connector", "Campaign parameters: mktcmpid=cmp-1",
                 f"Received: {WHEN.isoformat()}", f"Marketplace lead id: {LEAD.lead_id}", "Phone: +44 20 7946 0000",
                 "Filled in on this lead (it had none): business phone"):  # fmt: skip
        assert fact in text, fact
    assert "<b>" not in text and 'Call me &lt;b&gt;now&lt;/b&gt; &amp; "soon"' in text


def test_the_fill_in_takes_only_what_the_open_lead_lacks() -> None:
    body = mapping.to_dataverse(LEAD, WHEN)
    found = OpenLead("x", values={"firstname": "Ada", "lastname": "", "telephone1": None, "companyname": "Old Ltd"})
    assert returning.filled_in(found, body) == {
        "lastname": "Lovelace",
        "telephone1": "+44 20 7946 0000",
        "jobtitle": "CTO",
        "address1_country": "United Kingdom",
    }
    assert returning.filled_in(OpenLead("x", values=dict.fromkeys(returning.FILLABLE, "set")), body) == {}


def test_an_event_joins_its_own_lead_first_else_the_oldest_open_one() -> None:
    older, newer = OpenLead("b", "2026-01-01T00:00:00Z"), OpenLead("a", "2026-02-01T00:00:00Z")
    closed = OpenLead("c", "2025-01-01T00:00:00Z", is_open=False)
    assert returning.oldest_open([newer, closed, older], "own") == older
    own = OpenLead("OWN", "2026-03-01T00:00:00Z")
    assert returning.oldest_open([newer, older, own], "own") == own  # an earlier try of this event created it
    assert returning.oldest_open([closed], "own") is None


def test_the_row_marks_only_for_a_returning_event() -> None:
    assert returning.marks(False, ()) == {}
    assert returning.marks(True, ()) == {"Returning": True}
    assert returning.marks(True, ("telephone1", "jobtitle")) == {
        "Returning": True,
        "ReturningFilled": "telephone1,jobtitle",
    }
