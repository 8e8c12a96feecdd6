"""The notification emails: what the sales contacts read. Pure functions, no I/O.

Every lead value comes from whoever filled in the marketplace form, so it is treated as hostile:
- subjects become mail headers, so they never hold CR, LF or any other control character (a title of
  ``"CTO\\r\\nBcc: x@example.com"`` must not add a header), and their length is capped;
- every value is HTML-escaped in the HTML part, and the only links are the Dynamics record (a URL this app
  built) and a ``mailto:`` for an address that passed the same check the settings use.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal
from urllib.parse import quote, urlsplit

from leads.core import campaign, returning_text
from leads.core.addresses import is_email_address
from leads.core.payload import Lead
from leads.core.wording import MAX_HEADER_CHARS, cap, explain_action, header_text, multi_line, one_line, utc_text

MAX_SUBJECT_CHARS = MAX_HEADER_CHARS
NOT_PROVIDED = "not provided"
_SUBJECT_PART_CHARS = {"offer": 100, "company": 80, "action": 30}  # with "[Test] " and the rest: < 250
_MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str
    to: tuple[str, ...] = ()  # the recipients a routing rule chose; () sends to NOTIFY_TO


@dataclass(frozen=True)
class DynamicsState:
    """What became of the lead in Dynamics 365, for the notification to say."""

    kind: Literal["created", "held", "failed"]  # created / DYNAMICS_ENABLED=false / Dynamics refused it
    link: str = ""  # {DYNAMICS_URL}/main.aspx?etn=lead&pagetype=entityrecord&id={leadid} when created
    error: str = ""  # Dataverse's error code and message when failed
    notes: tuple[str, ...] = ()  # what routing asked for and could not do (the lead was created without it)
    returning: bool = False  # a returning customer: the event is a note on their open lead, which ``link`` opens
    filled: tuple[str, ...] = ()  # that lead's columns this event filled in (core/returning.FILLABLE names)


@dataclass(frozen=True)
class _Row:
    label: str
    value: str  # already cleaned; "" shows as "not provided"
    kind: Literal["text", "email", "multiline"] = "text"


def lead_notification(lead: Lead, received_at: datetime, dynamics: DynamicsState) -> Email:
    """The email telling the sales contacts about a new lead, or a returning customer's new event."""
    intro = "A customer left a lead for your offer in the Microsoft commercial marketplace."
    if dynamics.returning:
        intro = f"{returning_text.INTRO} New this time: {returning_text.whats_new(lead)}."
    if lead.is_test:
        intro = (
            "This is a TEST lead (MSFT_TEST): Partner Center sends one when the lead destination is validated "
            "or the offer is published. No customer is waiting."
        )
    dynamics_text, dynamics_html = _dynamics_part(dynamics)
    rows = _rows(lead, received_at)
    text = "\n".join([intro, "", *(_text_row(row) for row in rows), "", dynamics_text, "", _FOOTER])
    html_rows = "\n".join(_html_row(row) for row in rows)
    body_html = (
        _HTML_HEAD
        + f"<p>{_e(intro)}</p>\n"
        + f'<table cellpadding="4" cellspacing="0" style="border-collapse:collapse">\n{html_rows}\n</table>\n'
        + f"<p>{dynamics_html}</p>\n"
        + f'<p style="color:#666666;font-size:small">{_e(_FOOTER)}</p>\n'
        + _HTML_TAIL
    )
    return Email(subject=_subject(lead, dynamics.returning), text=text, html=body_html)


def _subject(lead: Lead, returning: bool = False) -> str:
    """``[Test] New marketplace lead: <offer> — <company> (<action>)`` (``Returning customer: …`` for a returning
    customer), each part capped, on one line."""
    offer = one_line(lead.offer_title) or one_line(lead.lead_source.offer_id) or "unnamed offer"
    parts = [cap(offer, _SUBJECT_PART_CHARS["offer"])]
    if company := one_line(lead.contact.company):
        parts.append(f" — {cap(company, _SUBJECT_PART_CHARS['company'])}")
    if action := one_line(lead.action):
        parts.append(f" ({cap(action, _SUBJECT_PART_CHARS['action'])})")
    kind = f"{returning_text.TITLE}: " if returning else "New marketplace lead: "
    return header_text(("[Test] " if lead.is_test else "") + kind + "".join(parts))


def _rows(lead: Lead, received_at: datetime) -> list[_Row]:
    contact = lead.contact
    offer, offer_id = one_line(lead.offer_title), one_line(lead.lead_source.offer_id)
    rows = [
        _Row("Name", one_line(f"{contact.first_name} {contact.last_name}")),
        _Row("Title", one_line(contact.title)),
        _Row("Company", one_line(contact.company)),
        _Row("Email", one_line(contact.email), "email"),
        _Row("Phone", one_line(contact.phone)),
        _Row("Country", one_line(contact.country)),
        _Row("Offer", f"{offer} ({offer_id})" if offer and offer_id else offer or offer_id),
        _Row("Lead source", one_line(lead.lead_source.raw)),
        _Row("Action", explain_action(one_line(lead.action))),
        _Row("Description", multi_line(lead.description), "multiline"),
        _Row("Received", utc_text(received_at)),
        _Row("Lead id", one_line(lead.lead_id)),
    ]
    if parameters := lead.campaign_parameters:
        rows.insert(-2, _Row("Campaign", one_line(campaign.summary(parameters))))
    return rows


def failure_alert(lead_id: str, offer_title: str, is_test: bool, error: str, received_at: datetime | None) -> Email:
    """The email saying a lead could not be delivered; holds no personal data, only ids and the error."""
    offer = one_line(offer_title) or "unnamed offer"
    subject = header_text(
        ("[Test] " if is_test else "")
        + "[Action needed] Marketplace lead could not be delivered: "
        + cap(offer, _SUBJECT_PART_CHARS["offer"])
    )
    rows = [
        _Row("Lead id", one_line(lead_id)),
        _Row("Offer", offer),
        _Row("Test lead", "yes" if is_test else "no"),
        _Row("Received", utc_text(received_at) if received_at else "unknown"),
        _Row("Error", multi_line(cap(error, _MAX_ERROR_CHARS)), "multiline"),
    ]
    steps = [
        "Run `python -m leads status` to see the failed leads and their errors.",
        failure_advice(error),
        "Run `python -m leads replay --failed` to send the failed leads again.",
    ]
    intro = (
        "A marketplace lead could not be delivered. It is stored in the leads table, so it is not lost, "
        "but it needs your attention."
    )
    text = "\n".join(
        [
            intro,
            "",
            *(_text_row(row) for row in rows),
            "",
            "What to do:",
            *(f"{number}. {step}" for number, step in enumerate(steps, 1)),
            "",
            _FOOTER,
        ]
    )
    html_rows = "\n".join(_html_row(row) for row in rows)
    html_steps = "".join(f"<li>{_e(step)}</li>" for step in steps)
    body_html = (
        _HTML_HEAD
        + f"<p>{_e(intro)}</p>\n"
        + f'<table cellpadding="4" cellspacing="0" style="border-collapse:collapse">\n{html_rows}\n</table>\n'
        + f"<p>What to do:</p>\n<ol>{html_steps}</ol>\n"
        + f'<p style="color:#666666;font-size:small">{_e(_FOOTER)}</p>\n'
        + _HTML_TAIL
    )
    return Email(subject=subject, text=text, html=body_html)


FailureClass = Literal["routing", "permission", "setting", "outage"]
_ROUTING = re.compile(r"\brouting\b|LEAD_ROUTING_FILE|\brule \d", re.IGNORECASE)
_OUTAGE = re.compile(
    r"\b\w*Unavailable\b|\bClaimBusy\b|\bLeadChanged\b|timed out|still after retries|could not reach|"
    r"did not answer|no error was recorded|\b(?:HTTP )?(?:429|5\d\d)\b",
    re.IGNORECASE,
)
_PERMISSION = re.compile(
    r"\b403\b|Forbidden|AccessDenied|privilege|\bprv[A-Z]\w+|permission|security role|consent|Send ?As|Mail\.Send|"
    r"not authori[sz]ed|application user",
    re.IGNORECASE,
)
FAILURE_ADVICE: dict[FailureClass, str] = {
    "routing": "A routing rule (LEAD_ROUTING_FILE) names something that is missing: `python -m leads check` checks "
    "every user, team, campaign and Teams channel the rules name; fix the rule, or create what it names.",
    "permission": "A permission is missing, and the error names it: give it to the application user's security role "
    "in Dynamics, or to the app for mail or Teams; `python -m leads check` confirms it.",
    "setting": "Fix the setting the error names in the Function App's configuration (with azd: `azd env set`, then "
    "`azd provision`); `python -m leads check` confirms it.",
    "outage": "A service was unavailable for longer than the retries last (about 20 minutes): check its status page "
    "(Dynamics 365, Microsoft 365 or Azure); once it is back, nothing needs changing.",
}


def failure_class(error: str) -> FailureClass:
    """What kind of failure a lead's LastError describes, from its words: routing, permission, setting or outage.
    After "last error:" (a lead given up on) that error decides."""
    text = error.rpartition("last error: ")[2] or error
    if _ROUTING.search(text):
        return "routing"
    if _PERMISSION.search(text):
        return "permission"
    if _OUTAGE.search(text) or text.startswith("gave up"):
        return "outage"
    return "setting"


def failure_advice(error: str) -> str:
    """What to do about a failure, by its class (the failure alert's second step)."""
    return FAILURE_ADVICE[failure_class(error)]


def mime_message(email: Email, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The message as both transports send it: plain text with an HTML alternative, every contact in To."""
    message = EmailMessage()
    message["Subject"] = header_text(email.subject)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.now(UTC))
    # make_msgid() would otherwise look up this machine's FQDN, which can be slow or meaningless in Azure.
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies should not answer it
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


# --- rendering -----------------------------------------------------------------------------------

_FOOTER = "Sent by marketplace-leads. Reply to the customer directly, not to this message."
_HTML_HEAD = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
    '<body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px">\n'
)
_HTML_TAIL = "</body></html>\n"


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _text_row(row: _Row) -> str:
    value = row.value or NOT_PROVIDED
    if row.kind == "multiline" and "\n" in value:
        return f"{row.label}:\n" + "\n".join(f"    {line}" for line in value.split("\n"))
    return f"{row.label}: {value}"


def _html_row(row: _Row) -> str:
    if not row.value:
        cell = f'<span style="color:#666666">{_e(NOT_PROVIDED)}</span>'
    elif row.kind == "email" and is_email_address(row.value):
        # quote() leaves only URL-safe characters, and escaping covers the rest of the attribute.
        cell = f'<a href="mailto:{_e(quote(row.value, safe="@"))}">{_e(row.value)}</a>'
    elif row.kind == "multiline":
        cell = "<br>\n".join(_e(line) for line in row.value.split("\n"))
    else:
        cell = _e(row.value)
    return (
        f'<tr><th align="left" valign="top" style="padding-right:12px">{_e(row.label)}</th>'
        f'<td valign="top">{cell}</td></tr>'
    )


def _dynamics_part(dynamics: DynamicsState) -> tuple[str, str]:
    """The sentence about Dynamics 365, as (text, html)."""
    text, html_part = _dynamics_outcome(dynamics)
    for note in dynamics.notes:
        text += f"\nNot applied: {one_line(note)}"
        html_part += f"<br>\nNot applied: {_e(one_line(note))}"
    return text, html_part


def _dynamics_outcome(dynamics: DynamicsState) -> tuple[str, str]:
    if dynamics.kind == "created":
        link = one_line(dynamics.link)
        text = "Dynamics 365: the lead was created in Dynamics 365."
        label = "Open the lead in Dynamics 365"
        if dynamics.returning:
            text = " ".join(filter(None, (returning_text.IN_DYNAMICS, returning_text.filled_sentence(dynamics.filled))))
            label = returning_text.OPEN_LINK
        if not _is_web_link(link):
            return text, _e(text)
        return f"{text}\nOpen it: {link}", f'{_e(text)}<br>\n<a href="{_e(link)}">{_e(label)}</a>'
    if dynamics.kind == "held":
        text = (
            "Dynamics 365: sending leads to Dynamics 365 is switched off (DYNAMICS_ENABLED=false). "
            "The lead is stored in the leads table; follow it up from this email. Once Dynamics is switched on, "
            "`python -m leads replay --held` sends the held leads there."
        )
        return text, _e(text)
    error = multi_line(cap(dynamics.error, _MAX_ERROR_CHARS)) or "no error details"
    text = (
        "Dynamics 365: the lead could NOT be written to Dynamics 365, so it is not there. "
        "Follow it up from this email so the customer is not missed. The lead is stored in the leads table."
    )
    error_html = "<br>\n".join(_e(line) for line in error.split("\n"))
    error_text = error.replace("\n", "\n    ")
    return (
        f"{text}\nDynamics said: {error_text}",
        f'<strong style="color:#a80000">{_e(text)}</strong><br>\nDynamics said: {error_html}',
    )


def _is_web_link(link: str) -> bool:
    # The link is built from DYNAMICS_URL, not from the lead; checking the scheme still keeps
    # javascript: and similar out of the href whatever the caller passes.
    parts = urlsplit(link)
    return parts.scheme in ("https", "http") and bool(parts.netloc)
