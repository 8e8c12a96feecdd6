"""The Teams cards: what sales see, every value as typed on every client (the Adaptive Cards renderer with
markdown-it for desktop and web, tests/teams_mobile/ for iOS and Android), in words a salesperson reads."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.standins.workflows import card_problems
from leads.core import campaign
from leads.core.card_text import WORD_JOINER
from leads.core.messages import DynamicsState
from leads.core.payload import parse_lead
from leads.core.teams_card import failure_card, lead_card, probe_card
from tests.leadsamples import marketplace_lead, validation_lead
from tests.teams_mobile import phones
from tests.teams_web import render, shown, visible_text

RECEIVED = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
CREATED = DynamicsState("created", link="https://contoso.crm4.dynamics.com/main.aspx?etn=lead&id=1")
FAILED = DynamicsState("failed", error="DataverseRejected: 400 0x80060888 Could not find a property named 'x'")
HOSTILE = {
    "FirstName": "**x** _x_",
    "LastName": "[a](http://evil.example)",
    "Company": "<at>x</at> a & b < c http://evil.example",
    "Title": "# CTO `boss`",
    "Email": "ada_lovelace@contoso.example",
    "Country": "> Narnia",
    "Phone": "+44 20 7946 0000",
}
HOSTILE_LEAD = marketplace_lead(
    UserDetails=HOSTILE,
    OfferTitle="- item",
    LeadSource="1. one)- y-INS|C:\\path\\file",
    ActionCode="* item",
    Description="+ item\n{{DATE(2026-11-30T09:15:00Z, SHORT)}}\n\\*not bold\\*",
)


def texts(message: dict[str, Any]) -> list[str]:
    """Every text a client renders as Markdown: TextBlocks, Fact titles and values."""
    found: list[str] = []
    for element in message["attachments"][0]["content"]["body"]:
        if element["type"] == "TextBlock":
            found.append(element["text"])
        for fact in element.get("facts", []):
            found += [fact["title"], fact["value"]]
    return found


def as_read(text: str) -> str:
    return text.replace(WORD_JOINER, "").replace("\\*", "*").replace("\\_", "_")


def test_a_hostile_lead_reads_as_typed_on_phones() -> None:
    message = lead_card(parse_lead(HOSTILE_LEAD), RECEIVED, CREATED, "mktcmpid=[x](http://evil.example)")
    for text in texts(message):
        for client, mobile in phones(text).items():
            assert (mobile.as_read, mobile.formatted) == (as_read(text), False), (text, client)
    read = "\n".join(as_read(text) for text in texts(message))
    for typed in (*HOSTILE.values(), "- item", "1. one)- y", "* item", "mktcmpid=[x](http://evil.example)"):
        assert typed in read, typed
    assert "+ item\n\n{{DATE(2026-11-30T09:15:00Z, SHORT)}}\n\n\\*not bold\\*" in read


def test_a_hostile_lead_reads_as_typed_on_desktop_never_as_markup_or_a_link() -> None:
    message = lead_card(parse_lead(HOSTILE_LEAD), RECEIVED, CREATED)
    markup, errors = render(message)
    assert errors == [] and card_problems(message) == []
    page = shown(markup)
    assert not page.formatted and page.links == (), page.links
    text = page.as_read
    for typed in (*HOSTILE.values(), "- item", "1. one)- y", "* item", "+ item", "\\*not bold\\*"):
        assert typed in text, typed
    assert "{{DATE(2026-11-30T09:15:00Z, SHORT)}}" in text  # not turned into a date


def test_left_alone_the_same_values_would_be_markup_so_the_checks_can_fail() -> None:
    message = lead_card(parse_lead(HOSTILE_LEAD), RECEIVED, CREATED)
    message["attachments"][0]["content"]["body"][1]["text"] = "**x** [a](http://evil.example)"
    markup, _ = render(message)
    assert "<strong>" in markup and re.search(r"<a\b", markup)
    assert phones("**x** [a](http://evil.example)")["iOS"].formatted


def test_the_card_says_who_what_and_where_in_words_and_links_to_dynamics() -> None:
    lead = parse_lead(marketplace_lead())
    message = lead_card(lead, RECEIVED, CREATED, campaign="mktcmpid=spring-launch")
    assert card_problems(message) == []
    card = message["attachments"][0]["content"]
    assert card["version"] == "1.2" and message["type"] == "message"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open the lead in Dynamics 365", "url": CREATED.link}
    ]
    facts = {fact["title"]: as_read(fact["value"]) for fact in card["body"][2]["facts"]}
    assert facts == {
        "Title": "CTO",
        "Company": "Contoso Ltd",
        "Country": "United Kingdom",
        "Email": "ada@contoso.example",
        "Phone": "+44 20 7946 0000",
        "Offer": "Contoso CRM Connector",
        "Action": "Install: the customer acquired the offer",
        "Source": "Azure Marketplace",
        "Campaign": "mktcmpid=spring-launch",
        "Received": "2026-11-30 09:15:00 UTC",
    }
    text = visible_text(render(message)[0])
    assert "Ada Lovelace · Contoso Ltd" in text and "Please contact me about pricing" in text
    assert "In Dynamics 365" in text and "INS" not in text and "AzureMarketplace" not in text


@pytest.mark.parametrize(
    ("source", "action", "words"),
    [
        ("AppSource (SPZA)-PLT|x.y", "", ("AppSource", "Contact me: the customer asked to be contacted")),
        (
            "AzurePortal-Create|x.y",
            "",
            ("Azure portal", "Create: the customer purchased the offer in the Azure portal"),
        ),
        (
            "AzureMarketplace-StartTestDrive|x.y",
            "",
            ("Azure Marketplace", "Test drive: the customer started a test drive"),
        ),
        ("SomethingNew-XYZ|x.y", "", ("SomethingNew", "XYZ")),
    ],
)
def test_source_and_action_in_words(source: str, action: str, words: tuple[str, str]) -> None:
    lead = parse_lead(marketplace_lead(LeadSource=source, ActionCode=action))
    facts = {
        fact["title"]: fact["value"]
        for fact in lead_card(lead, RECEIVED, CREATED)["attachments"][0]["content"]["body"][2]["facts"]
    }
    assert (facts["Source"], facts["Action"]) == words


@pytest.mark.parametrize(
    "description",
    [
        '{"mktcmpid": "cmp-news-05", "utm_source": "newsletter"}',
        "mktcmpid=cmp-news-05&utm_source=newsletter",
        "Campaigns: cmp-news-05",
        "Campaigns: ",
        " ",
    ],
)
def test_a_description_that_only_carries_campaign_parameters_is_not_repeated(description: str) -> None:
    lead = parse_lead(marketplace_lead(Description=description))
    message = lead_card(lead, RECEIVED, CREATED, campaign.summary(lead.campaign_parameters))
    assert [block for block in message["attachments"][0]["content"]["body"] if block.get("isSubtle")] == []
    text = visible_text(render(message)[0])
    assert text.count("cmp-news-05") == (1 if lead.campaign_parameters else 0)  # in the Campaign fact alone


def test_the_customers_own_words_stay_without_the_campaigns_line() -> None:
    lead = parse_lead(marketplace_lead(Description="Please call me on Monday\nCampaigns: cmp-news-05\nThanks"))
    body = lead_card(lead, RECEIVED, CREATED)["attachments"][0]["content"]["body"]
    [note] = [block["text"] for block in body if block.get("isSubtle")]
    assert note == "Please call me on Monday\n\nThanks"


def test_missing_contact_values_are_left_out() -> None:
    lead = parse_lead(marketplace_lead(UserDetails={"FirstName": "Ada", "Email": "ada@contoso.example"}))
    facts = lead_card(lead, RECEIVED, CREATED)["attachments"][0]["content"]["body"][2]["facts"]
    titles = [fact["title"] for fact in facts]
    assert "Company" not in titles and "Country" not in titles and "Title" not in titles and "Campaign" not in titles


@pytest.mark.parametrize(
    ("state", "says"),
    [
        (DynamicsState("held"), "Not in Dynamics 365: sending leads there is switched off"),
        (FAILED, "Not in Dynamics 365 yet: operations have been alerted"),
    ],
)
def test_held_and_failed_leads_say_so_in_words_without_error_codes(state: DynamicsState, says: str) -> None:
    message = lead_card(parse_lead(marketplace_lead()), RECEIVED, state)
    assert "actions" not in message["attachments"][0]["content"]
    text = visible_text(render(message)[0])
    assert says in text and "0x8006" not in text and "DataverseRejected" not in text and "DYNAMICS_ENABLED" not in text


def test_the_test_lead_is_marked() -> None:
    text = visible_text(render(lead_card(parse_lead(validation_lead()), RECEIVED, CREATED))[0])
    assert "Test lead: Partner Center sent it to check that leads arrive" in text


def test_the_failure_card_tells_sales_in_words_with_the_contact_details_and_no_error() -> None:
    lead = parse_lead(marketplace_lead())
    message = failure_card("18b723f1031366536a30ca625b3ebcaa", lead, RECEIVED, FAILED)
    assert card_problems(message) == [] and "actions" not in message["attachments"][0]["content"]
    markup, errors = render(message)
    text = visible_text(markup)
    assert errors == [] and not re.search(r"<a\b(?![^>]*mailto:)", markup)
    assert "Action needed: a marketplace lead is not in Dynamics 365 yet" in text
    assert "Operations have been alerted" in text and "follow them up from here" in text
    for detail in (
        "Ada Lovelace · Contoso Ltd",
        "ada@contoso.example",
        "+44 20 7946 0000",
        "CTO",
        "Contoso CRM Connector",
    ):
        assert detail in text, detail
    for operations_only in ("0x80060888", "DataverseRejected", "python -m", "replay", "LastError", "status"):
        assert operations_only not in text, operations_only
    assert "Reference for operations: lead 18b723f1031366536a30ca625b3ebcaa" in text


def test_a_failure_after_dynamics_says_the_lead_is_there_and_links_it() -> None:
    message = failure_card("18b723f1031366536a30ca625b3ebcaa", parse_lead(marketplace_lead()), RECEIVED, CREATED)
    text = visible_text(render(message)[0])
    assert "is in Dynamics 365, but not every notification about it went out" in text
    assert message["attachments"][0]["content"]["actions"][0]["url"] == CREATED.link


def test_a_hostile_failure_card_reads_as_typed() -> None:
    message = failure_card("18b723f1031366536a30ca625b3ebcaa", parse_lead(HOSTILE_LEAD), None, FAILED)
    page = shown(render(message)[0])
    assert not page.formatted and page.links == ()
    for text in texts(message):
        assert all(not mobile.formatted and mobile.as_read == as_read(text) for mobile in phones(text).values())


def test_the_test_card_says_what_it_is_without_backticks() -> None:
    message = probe_card("TEAMS_WEBHOOK_URL")
    assert card_problems(message) == []
    text = visible_text(render(message)[0])
    assert "`" not in text and "`" not in "".join(texts(message))
    assert "Test card from marketplace-leads" in text and "This is a test, nothing to do" in text
    assert "TEAMS_WEBHOOK_URL" in text
    assert all(mobile.as_read == as_read(t) for t in texts(message) for mobile in phones(t).values())


RETURNING = DynamicsState("created", link=CREATED.link, returning=True, filled=("telephone1", "jobtitle"))


def test_a_returning_customer_says_so_what_is_new_and_links_their_open_lead() -> None:
    lead = parse_lead(marketplace_lead(ActionCode="PLT", LeadSource="AppSource-PLT|contoso.crm-connector"))
    message = lead_card(lead, RECEIVED, RETURNING)
    assert card_problems(message) == []
    card = message["attachments"][0]["content"]
    assert [as_read(text) for text in texts(message)[:3]] == [
        "Returning customer",
        "Ada Lovelace · Contoso Ltd",
        "New this time: Contact me: the customer asked to be contacted — Contoso CRM Connector",
    ]
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open their lead in Dynamics 365", "url": RETURNING.link}
    ]
    text = visible_text(render(message)[0])
    assert "Added to their open lead in Dynamics 365 as a note: no new lead." in text
    assert "Filled in on their lead (it had none): business phone, job title." in text
    assert "New marketplace lead" not in text and "In Dynamics 365." not in text


def test_a_hostile_returning_customer_reads_as_typed_on_phones_and_desktop() -> None:
    lead = parse_lead(HOSTILE_LEAD)
    message = lead_card(lead, RECEIVED, RETURNING)
    new = [text for text in texts(message) if as_read(text).startswith("New this time: ")]
    assert [as_read(text) for text in new] == ["New this time: * item — - item"]
    for text in texts(message):
        for client, mobile in phones(text).items():
            assert (mobile.as_read, mobile.formatted) == (as_read(text), False), (text, client)
    page = shown(render(message)[0])
    assert not page.formatted and page.links == ()
