from leads.core import campaign
from leads.core.lead_row import new_entity
from leads.core.mapping import to_dataverse
from leads.core.messages import DynamicsState, lead_notification
from leads.core.payload import parse_lead
from tests.core.test_mapping import RECEIVED
from tests.leadsamples import marketplace_lead


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
