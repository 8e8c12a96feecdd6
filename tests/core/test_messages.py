"""The notification emails: content, escaping and header hygiene (pure, no I/O)."""

from __future__ import annotations

import html
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from leads.core.messages import (
    FAILURE_ADVICE,
    MAX_SUBJECT_CHARS,
    NOT_PROVIDED,
    DynamicsState,
    Email,
    failure_alert,
    failure_class,
    lead_notification,
)
from leads.core.payload import Lead, parse_lead
from tests.leadsamples import marketplace_lead, validation_lead

RECEIVED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
LINK = (
    "https://contoso.crm4.dynamics.com/main.aspx?etn=lead&pagetype=entityrecord&id=0b9e5c1a-0000-0000-0000-000000000001"
)
CREATED = DynamicsState("created", link=LINK)
INJECTION = "CTO\r\nBcc: x@example.com"


def lead_of(**overrides: object) -> Lead:
    return parse_lead(marketplace_lead(**overrides))


def details(**fields: str) -> dict[str, str]:
    """The sample lead's UserDetails with some fields replaced."""
    base: dict[str, str] = marketplace_lead()["UserDetails"]
    return {**base, **fields}


def assert_header_safe(subject: str) -> None:
    assert len(subject) <= MAX_SUBJECT_CHARS
    for char in subject:
        assert unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Zl", "Zp"), repr(char)


def as_message(email: Email) -> EmailMessage:
    """What the SMTP transport builds, serialised and parsed back as a receiving server would."""
    message = EmailMessage()
    message["Subject"] = email.subject
    message["From"] = "leads@contoso.example"
    message["To"] = "sales@contoso.example"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    parsed = message_from_bytes(message.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


# --- plain values --------------------------------------------------------------------------------


def test_notification_holds_every_value_in_both_parts() -> None:
    lead = lead_of()
    email = lead_notification(lead, RECEIVED, CREATED)

    assert email.subject == "New marketplace lead: Contoso CRM Connector — Contoso Ltd (INS)"
    for value in (
        "Ada Lovelace",
        "CTO",
        "Contoso Ltd",
        "ada@contoso.example",
        "+44 20 7946 0000",
        "United Kingdom",
        "Contoso CRM Connector",
        "contoso.crm-connector",
        "AzureMarketplace-INS|contoso.crm-connector",
        "Please contact me about pricing",
        "2025-03-04 05:06:07 UTC",
        lead.lead_id,
    ):
        assert value in email.text, value
        assert html.escape(value) in email.html, value
    assert "INS — Install" in email.text
    assert "Open it: " + LINK in email.text
    assert f'<a href="{html.escape(LINK)}">' in email.html
    assert '<a href="mailto:ada@contoso.example">' in email.html
    assert NOT_PROVIDED not in email.text


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        ("INS", "Install"),
        ("PLT", "Partner-led trial"),
        ("DNC", "Do not contact"),
        ("Create", "Create: the customer purchased"),
        ("StartTestDrive", "Test drive"),
        ("Unheard", "Unheard"),
    ],
)
def test_action_codes_are_explained(code: str, meaning: str) -> None:
    email = lead_notification(lead_of(ActionCode=code), RECEIVED, CREATED)
    assert f"Action: {code}" in email.text
    assert meaning in email.text
    assert email.subject.endswith(f"({code})")


def test_action_falls_back_to_the_lead_source() -> None:
    document = marketplace_lead(LeadSource="AppSource-PLT|contoso.crm-connector")
    del document["ActionCode"]
    email = lead_notification(parse_lead(document), RECEIVED, CREATED)
    assert email.subject.endswith("(PLT)")
    assert "Partner-led trial" in email.text


def test_received_time_is_shown_in_utc() -> None:
    in_vienna = datetime(2025, 3, 4, 6, 6, 7, tzinfo=timezone(timedelta(hours=1)))
    assert "Received: 2025-03-04 05:06:07 UTC" in lead_notification(lead_of(), in_vienna, CREATED).text
    naive = datetime(2025, 3, 4, 5, 6, 7)  # the app's times are UTC
    assert "Received: 2025-03-04 05:06:07 UTC" in lead_notification(lead_of(), naive, CREATED).text


def test_subject_copes_with_missing_company_offer_and_action() -> None:
    document = marketplace_lead(UserDetails={}, LeadSource="AzureMarketplace")
    del document["OfferTitle"], document["ActionCode"]
    assert lead_notification(parse_lead(document), RECEIVED, CREATED).subject == ("New marketplace lead: unnamed offer")
    document["LeadSource"] = "AzureMarketplace|contoso.crm-connector"
    assert lead_notification(parse_lead(document), RECEIVED, CREATED).subject == (
        "New marketplace lead: contoso.crm-connector"
    )


def test_multi_line_description_keeps_its_lines() -> None:
    email = lead_notification(lead_of(Description="First line\r\nSecond line"), RECEIVED, CREATED)
    assert "Description:\n    First line\n    Second line" in email.text
    assert "First line<br>\nSecond line" in email.html


# --- hostile values ------------------------------------------------------------------------------


def test_html_escapes_every_lead_value() -> None:
    hostile = '<script>alert("x")</script>'
    lead = lead_of(
        UserDetails=details(
            FirstName=hostile,
            LastName="O'Brien & <b>",
            Company=f"{hostile} Ltd",
            Title='"><img src=x onerror=alert(1)>',
            Country="<i>",
            Phone="<u>",
            Email="bad<@x",
        ),
        OfferTitle=hostile,
        Description=f"{hostile}\n<a href='javascript:alert(1)'>x</a>",
        LeadSource=f"Azure-{hostile}|{hostile}",
    )
    email = lead_notification(lead, RECEIVED, CREATED)

    assert "<script" not in email.html and "<img" not in email.html and "<i>" not in email.html
    assert "javascript:" not in email.html.replace("&#x27;javascript:", "")  # only as escaped text
    assert html.escape(f"{hostile} Ltd", quote=True) in email.html
    assert "O&#x27;Brien &amp; &lt;b&gt;" in email.html
    assert 'href="mailto:' not in email.html  # not an address, so no link
    assert email.html.count("<a ") == 1  # the Dynamics link only
    assert f"Company: {hostile} Ltd" in email.text  # the text part is not HTML: values stay as typed


def test_mailto_link_is_quoted() -> None:
    email = lead_notification(lead_of(UserDetails=details(Email="o'hara+leads@contoso.example")), RECEIVED, CREATED)
    assert '<a href="mailto:o%27hara%2Bleads@contoso.example">' in email.html
    assert "o&#x27;hara+leads@contoso.example</a>" in email.html


@pytest.mark.parametrize(
    "overrides",
    [
        {"UserDetails": details(Title=INJECTION)},
        {"UserDetails": details(Company=INJECTION)},
        {"OfferTitle": INJECTION},
    ],
    ids=["title", "company", "offer"],
)
def test_subject_cannot_carry_extra_headers(overrides: dict[str, object]) -> None:
    lead = lead_of(**overrides)
    email = lead_notification(lead, RECEIVED, CREATED)

    assert "\r" not in email.subject and "\n" not in email.subject
    assert_header_safe(email.subject)
    parsed = as_message(email)
    assert parsed["Bcc"] is None
    assert [name for name, _ in parsed.items()].count("Subject") == 1
    assert "x@example.com" not in parsed.get_all("To", [])[0]


def test_subject_drops_every_control_and_line_separator() -> None:
    nasty = "A\x00B\x0bC\x0cD\x1cE\x85F\u2028G\u2029H\u202eI\u200bJ\tK\ud800L"
    # Built directly: JSON allows a lone surrogate ("\\ud800"), and parse_lead's id hashing does not take one.
    lead = replace(lead_of(), offer_title=nasty, contact=replace(lead_of().contact, company=nasty), description=nasty)
    email = lead_notification(lead, RECEIVED, CREATED)
    assert_header_safe(email.subject)
    email.text.encode("utf-8")  # a lone surrogate would make this (and sending) fail
    email.html.encode("utf-8")
    assert as_message(email)["Bcc"] is None


def test_subject_length_is_capped() -> None:
    lead = parse_lead(
        validation_lead()
        | {"OfferTitle": "O" * 5000, "ActionCode": "A" * 500, "UserDetails": details(Company="C" * 5000)}
    )
    lead = replace(lead, is_test=True)
    subject = lead_notification(lead, RECEIVED, CREATED).subject
    assert subject.startswith("[Test] ")
    assert len(subject) <= MAX_SUBJECT_CHARS
    assert "—" in subject and subject.endswith("…)")  # each part is shortened, so all three remain
    assert_header_safe(subject)


# --- kinds of lead -------------------------------------------------------------------------------


def test_test_leads_are_marked() -> None:
    lead = parse_lead(validation_lead())
    assert lead.is_test
    email = lead_notification(lead, RECEIVED, CREATED)
    assert email.subject.startswith("[Test] New marketplace lead: Contoso Test")
    assert "TEST lead" in email.text and "TEST lead" in email.html
    assert not lead_notification(lead_of(), RECEIVED, CREATED).subject.startswith("[Test]")


def test_edu_lead_without_personal_data_says_not_provided() -> None:
    document = marketplace_lead()
    del document["UserDetails"]
    email = lead_notification(parse_lead(document), RECEIVED, CREATED)

    assert email.subject == "New marketplace lead: Contoso CRM Connector (INS)"
    for label in ("Name", "Title", "Company", "Email", "Phone", "Country"):
        assert f"{label}: {NOT_PROVIDED}" in email.text
    assert email.html.count(NOT_PROVIDED) == 6
    assert "mailto:" not in email.html


# --- Dynamics 365 --------------------------------------------------------------------------------


def test_created_links_to_the_lead() -> None:
    email = lead_notification(lead_of(), RECEIVED, CREATED)
    assert "created in Dynamics 365" in email.text
    assert LINK in email.text
    assert html.escape(LINK) in email.html


def test_created_without_a_web_link_shows_no_link() -> None:
    email = lead_notification(lead_of(), RECEIVED, DynamicsState("created", link="javascript:alert(1)"))
    assert "javascript" not in email.html and "javascript" not in email.text
    assert "<a " not in email.html.replace('<a href="mailto:', "")


def test_held_says_dynamics_is_switched_off() -> None:
    email = lead_notification(lead_of(), RECEIVED, DynamicsState("held"))
    for part in (email.text, email.html):
        assert "DYNAMICS_ENABLED=false" in part
        assert "switched off" in part
        assert "stored" in part
        assert "python -m leads replay --held" in part
    assert "main.aspx" not in email.html


def test_failed_says_why_and_that_the_lead_must_not_be_missed() -> None:
    error = "0x80048d19: Error identified in Payload provided by the user for Entity :'leads' <b>"
    email = lead_notification(lead_of(), RECEIVED, DynamicsState("failed", error=error))
    assert "could NOT be written to Dynamics 365" in email.text
    assert "not missed" in email.text
    assert error in email.text
    assert html.escape(error) in email.html
    assert "main.aspx" not in email.html


# --- failure alert -------------------------------------------------------------------------------


def test_failure_alert_says_what_to_do_without_personal_data() -> None:
    lead = lead_of()
    error = "Microsoft Graph refused to send the notification (HTTP 403): give the app Mail.Send"
    alert = failure_alert(lead.lead_id, lead.offer_title, False, error, RECEIVED)

    assert alert.subject == "[Action needed] Marketplace lead could not be delivered: Contoso CRM Connector"
    for part in (alert.text, alert.html):
        assert lead.lead_id in part
        assert "Contoso CRM Connector" in part
        assert "python -m leads status" in part
        assert "python -m leads replay --failed" in part
        assert "2025-03-04 05:06:07 UTC" in part
        for personal in ("Ada", "Lovelace", "ada@contoso.example", "7946", "Contoso Ltd"):
            assert personal not in part
    assert error in alert.text
    assert html.escape(error) in alert.html


def test_failure_alert_header_hygiene_and_test_marking() -> None:
    alert = failure_alert("abc", f"<b>{INJECTION}</b>", True, "boom\r\nagain <i>", None)
    assert alert.subject.startswith("[Test] [Action needed]")
    assert_header_safe(alert.subject)
    assert as_message(alert)["Bcc"] is None
    assert "<b>" not in alert.html and "<i>" not in alert.html
    assert "Received: unknown" in alert.text
    assert failure_alert("abc", "", False, "", None).subject.endswith(": unnamed offer")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("DataverseRejected: 403 0x80040220: Principal user is missing prvCreateLead privilege", "permission"),
        ("mail: Microsoft Graph refused to send (HTTP 403 ErrorAccessDenied): grant Mail.Send", "permission"),
        ("SignInRefused: AZURE_CLIENT_SECRET is wrong: use the secret's Value (AADSTS7000215)", "setting"),
        ("teams: the Teams webhook …/workflows/… answered HTTP 404: the workflow was deleted or turned off", "setting"),
        ("DataverseRejected: 400 0x80048d19: Error identified in Payload", "setting"),
        ("teams: TEAMS_WEBHOOK_DACH is not set; routing.toml rule 2 (DACH) posts its leads there", "routing"),
        ("gave up: every delivery failed (host.json maxDequeueCount); last error: DataverseUnavailable: 503", "outage"),
        ("gave up: every delivery failed; last error: no error was recorded", "outage"),
        ("MailUnavailable: could not send through SMTP_HOST=smtp.contoso.example: timed out", "outage"),
    ],
)
def test_the_alert_advises_by_the_failures_class(error: str, kind: str) -> None:
    assert failure_class(error) == kind
    alert = failure_alert("abc12345", "Contoso CRM Connector", False, error, RECEIVED)
    assert FAILURE_ADVICE[kind] in alert.text and html.escape(FAILURE_ADVICE[kind]) in alert.html
    others = [advice for other, advice in FAILURE_ADVICE.items() if other != kind]
    assert not any(advice in alert.text for advice in others)


def test_a_returning_customer_mail_says_so_what_is_new_and_links_their_open_lead() -> None:
    state = DynamicsState("created", link=LINK, returning=True, filled=("telephone1",))
    email = lead_notification(lead_of(ActionCode="PLT"), RECEIVED, state)
    assert email.subject == "Returning customer: Contoso CRM Connector — Contoso Ltd (PLT)"
    assert email.text.startswith("A returning customer: they already have an open lead in Dynamics 365")
    assert "New this time: Contact me: the customer asked to be contacted — Contoso CRM Connector." in email.text
    assert (
        "Dynamics 365: added to the customer's open lead as a note (no new lead). Filled in on their lead (it had "
        f"none): business phone.\nOpen it: {LINK}" in email.text
    )
    assert f'<a href="{html.escape(LINK)}">Open their lead in Dynamics 365</a>' in email.html
    assert "the lead was created in Dynamics 365" not in email.text
    assert_header_safe(email.subject)


def test_a_hostile_returning_customer_mail_stays_text() -> None:
    state = DynamicsState("created", link=LINK, returning=True)
    email = lead_notification(lead_of(OfferTitle="<b>x</b>\r\nBcc: y", ActionCode=INJECTION), RECEIVED, state)
    assert "<b>x</b>" not in email.html and "&lt;b&gt;x&lt;/b&gt;" in email.html
    assert_header_safe(email.subject)
    assert "\n" not in email.subject and "Bcc: y" in email.subject  # on one line: text, not a header
