import time
from collections.abc import Callable

import pytest

from leads.core import campaign
from leads.core.lead_row import new_entity
from leads.core.mapping import to_dataverse
from leads.core.messages import DynamicsState, lead_notification
from leads.core.payload import MAX_BODY_BYTES, decode_body, parse_lead
from leads.core.teams_card import lead_card
from tests.core.test_mapping import RECEIVED
from tests.leadsamples import body, marketplace_lead


def test_json_object_in_the_description() -> None:
    found = campaign.parameters('{"mktcmpid": "cmp-42", "UTM_Source": "newsletter", "other": "x", "src": 7}')
    assert found == {"mktcmpid": "cmp-42", "utm_source": "newsletter", "src": "7"}


def test_json_object_inside_text() -> None:
    assert campaign.parameters('Contact me please {"mktcmpid":"abc"} thanks') == {"mktcmpid": "abc"}


def test_query_string_and_url() -> None:
    assert campaign.parameters("mktcmpid=cmp%2D1&utm_medium=email&utm_campaign=spring+sale") == {
        "mktcmpid": "cmp-1",
        "utm_medium": "email",
        "utm_campaign": "spring sale",
    }
    text = "Came from https://appsource.microsoft.com/product/x?tab=Overview&utm_source=linkedin#top"
    assert campaign.parameters(text) == {"utm_source": "linkedin"}


@pytest.mark.parametrize(
    ("description", "found"),
    [
        ("Campaigns: cmp-news-05", {"mktcmpid": "cmp-news-05"}),
        ("campaigns:cmp-1, cmp-2; cmp-3", {"mktcmpid": "cmp-1, cmp-2, cmp-3"}),
        ("Campaigns: mktcmpid=cmp-1&utm_source=newsletter", {"mktcmpid": "cmp-1", "utm_source": "newsletter"}),
        ("Please call me\nCampaigns: cmp-news-05", {"mktcmpid": "cmp-news-05"}),
        ("Campaigns: ", {}),
        ("My campaigns: none", {}),  # not at the start of a line: the customer's words
    ],
)
def test_the_marketplace_campaigns_text_form(description: str, found: dict[str, str]) -> None:
    assert campaign.parameters(description) == found


@pytest.mark.parametrize(
    ("description", "note"),
    [
        ('{"mktcmpid": "cmp-42"}', ""),
        ("mktcmpid=cmp-42&utm_source=newsletter", ""),
        ("?utm_campaign=spring", ""),
        ("Campaigns: cmp-42", ""),
        ("Campaigns: ", ""),
        ("Please call me\nCampaigns: cmp-42", "Please call me"),
        ('Please call me {"mktcmpid": "cmp-42"}', 'Please call me {"mktcmpid": "cmp-42"}'),
        (
            "Came from https://appsource.microsoft.com/x?utm_source=linkedin",
            "Came from https://appsource.microsoft.com/x?utm_source=linkedin",
        ),
        ('{"colour": "blue"}', '{"colour": "blue"}'),  # no parameter in it: the customer's, whatever it is
        ("a=b", "a=b"),
    ],
)
def test_the_customers_note_is_the_description_without_what_only_carries_parameters(
    description: str, note: str
) -> None:
    assert campaign.customer_note(description, campaign.parameters(description)) == note


def test_garbage_never_fails_and_finds_nothing() -> None:
    for text in ("", "Please call me", "{not json", "[1,2]", '{"mktcmpid": {"nested": 1}}', "xmktcmpid=1", "%%%=&&"):
        assert campaign.parameters(text) == {}


def test_values_are_cleaned_and_capped() -> None:
    found = campaign.parameters('{"mktcmpid": "a\\r\\nBcc: x", "utm_term": "' + "t" * 500 + '"}')
    assert found["mktcmpid"] == "a  Bcc: x"
    assert len(found["utm_term"]) == campaign.MAX_VALUE_CHARS


def test_kept_as_row_columns_and_shown_in_the_mail_and_dynamics() -> None:
    lead = parse_lead(marketplace_lead(Description='{"mktcmpid":"cmp-42","utm_source":"newsletter"}'))
    entity = new_entity(lead, RECEIVED)
    assert entity["CampaignMktcmpid"] == "cmp-42" and entity["CampaignUtmSource"] == "newsletter"
    assert "CampaignSrc" not in entity
    assert "Campaign parameters: mktcmpid=cmp-42; utm_source=newsletter" in to_dataverse(lead, RECEIVED)["description"]
    mail = lead_notification(lead, RECEIVED, DynamicsState("held"))
    assert "Campaign: mktcmpid=cmp-42; utm_source=newsletter" in mail.text
    plain = parse_lead(marketplace_lead())
    assert "Campaign" not in lead_notification(plain, RECEIVED, DynamicsState("held")).text
    assert not any(name.startswith("Campaign") for name in new_entity(plain, RECEIVED))


def test_the_json_object_is_what_a_greedy_match_from_the_first_brace_to_the_last_finds() -> None:
    import re

    greedy = re.compile(r"\{.*\}", re.DOTALL)  # the former parser, as the reference for what is found
    for text in ('a {"mktcmpid":"x"} b', '{x} {"mktcmpid":"y"}', '{"mktcmpid":"z"} }', "}{", "{", '{"src": 1}'):
        match = greedy.search(text)
        expected = campaign._from_json(match.group(0)) if match else {}
        assert campaign._from_json(text) == expected


HOSTILE_DESCRIPTIONS = {
    "many opening braces": "{" * 70_000,
    "braces then one closing": "{" * 70_000 + "}",
    "nested JSON keys": '{"a":' * 14_000,
    "parameter names without values": "mktcmpid=&" * 7_000,
    "blank lines": "\n" * 40_000,
    "spaces on one line": " " * 70_000,
}


def _largest_body(description: str) -> bytes:
    """The lead with ``description`` cut to the longest start that keeps the body within what intake accepts."""
    low, high = 0, len(description)
    while low < high:  # the longest prefix whose JSON-encoded body fits MAX_BODY_BYTES
        middle = (low + high + 1) // 2
        if len(body(marketplace_lead(Description=description[:middle]))) <= MAX_BODY_BYTES:
            low = middle
        else:
            high = middle - 1
    return body(marketplace_lead(Description=description[:low]))


def _every_use_of_the_parameters(raw: bytes) -> None:
    """What intake and one delivery do with a lead's campaign parameters: the row, Dynamics, the mail, the card."""
    lead = parse_lead(decode_body(raw))
    new_entity(lead, RECEIVED)
    to_dataverse(lead, RECEIVED)
    lead_notification(lead, RECEIVED, DynamicsState("held"))
    lead_card(lead, RECEIVED, DynamicsState("held"), campaign.summary(lead.campaign_parameters))


def _fastest_of(runs: int, work: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


@pytest.mark.parametrize("shape", sorted(HOSTILE_DESCRIPTIONS))
def test_a_hostile_description_costs_about_what_a_plain_one_of_the_same_size_costs(shape: str) -> None:
    # The former regex took ~2.6 s on 64 KiB of "{" (quadratic); linear parsing keeps it near a plain text.
    hostile, plain = _largest_body(HOSTILE_DESCRIPTIONS[shape]), _largest_body("x" * MAX_BODY_BYTES)
    assert MAX_BODY_BYTES - 8 < len(hostile) <= MAX_BODY_BYTES and len(plain) == MAX_BODY_BYTES
    plain_time = _fastest_of(5, lambda: _every_use_of_the_parameters(plain))
    hostile_time = _fastest_of(5, lambda: _every_use_of_the_parameters(hostile))
    assert hostile_time < 5 * plain_time + 0.005, (shape, hostile_time, plain_time)


def test_a_lead_works_out_its_parameters_once() -> None:
    lead = parse_lead(marketplace_lead(Description='{"mktcmpid":"cmp-42"}'))
    assert lead.campaign_parameters is lead.campaign_parameters
    assert dict(lead.campaign_parameters) == {"mktcmpid": "cmp-42"}
