"""Parsing a marketplace lead payload: pure functions, no I/O.

The marketplace POSTs JSON shaped like
``{"UserDetails": {...}, "LeadSource": "...", "ActionCode": "...", "OfferTitle": "...", "Description": "..."}``.
Key casing varies between senders (``UserDetails`` and ``userDetails`` both occur), any field may be
missing (.edu leads arrive without personal data), and unknown keys must survive in the raw payload.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from leads.core import campaign

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32  # a lead is two levels deep; this keeps recursive processing safe
TEST_LEAD_PREFIX = "MSFT_TEST"
_LEAD_KEYS = ("userdetails", "leadsource", "offertitle", "actioncode")


class InvalidLead(ValueError):
    """The request is not a marketplace lead; the message says why (safe to return to the caller)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Contact:
    """The customer's details; every field is "" when the marketplace left it out."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    country: str = ""
    company: str = ""
    title: str = ""

    def as_marketplace_json(self) -> dict[str, str]:
        """The UserDetails object as Microsoft's own Table destination stores it in ``CustomerInfo``."""
        return {
            "FirstName": self.first_name,
            "LastName": self.last_name,
            "Email": self.email,
            "Phone": self.phone,
            "Country": self.country,
            "Company": self.company,
            "Title": self.title,
        }


@dataclass(frozen=True)
class LeadSource:
    """``Source-Action|publisherid.offerid``, parsed leniently: what does not parse stays in ``raw``."""

    raw: str = ""
    source: str = ""
    action: str = ""
    offer_id: str = ""


@dataclass(frozen=True)
class Lead:
    lead_id: str
    contact: Contact
    lead_source: LeadSource
    action_code: str = ""
    offer_title: str = ""
    description: str = ""
    is_test: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def action(self) -> str:
        """The action the customer took: ActionCode, else the one in LeadSource."""
        return self.action_code or self.lead_source.action

    @cached_property
    def campaign_parameters(self) -> Mapping[str, str]:
        """The offer link's campaign parameters in the Description (core/campaign.py), worked out once per lead:
        the row, the routing plan, the Dynamics description, the mail and the card all ask for them."""
        return campaign.parameters(self.description)


def parse_lead_source(value: str) -> LeadSource:
    """Split ``AzureMarketplace-INS|contoso.crm-connector``; never fails."""
    value = value.strip()
    head, sep, offer = value.partition("|")
    source, dash, action = head.rpartition("-")
    if not dash:
        source, action = head, ""
    return LeadSource(raw=value, source=source.strip(), action=action.strip(), offer_id=offer.strip() if sep else "")


def decode_body(body: bytes) -> dict[str, Any]:
    """Bytes of a request body → the JSON object, or InvalidLead saying what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidLead(f"request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}", status=413)
    if not body.strip():
        raise InvalidLead("request body is empty; expected a marketplace lead as a JSON object")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidLead(f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidLead(f"request body is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise InvalidLead("request body is not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts (4,300 digits)
        raise InvalidLead(f"request body is not valid JSON ({str(exc).splitlines()[0][:100]})") from None
    if not isinstance(document, dict):
        raise InvalidLead(f"expected a JSON object, got {_json_type(document)}")
    if _depth(document) > MAX_DEPTH:
        raise InvalidLead(f"request body is nested more than {MAX_DEPTH} levels deep")
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidLead("request body has a \\u escape that is not a character (a lone surrogate)") from None
    return document


def parse_lead(document: dict[str, Any]) -> Lead:
    """A decoded JSON object → Lead, or InvalidLead if none of the lead's keys are present."""
    fields = {key.strip().lower(): value for key, value in document.items()}
    if not any(key in fields for key in _LEAD_KEYS):
        raise InvalidLead("not a marketplace lead: none of UserDetails, LeadSource, OfferTitle, ActionCode is present")
    details = fields.get("userdetails")
    details = {key.strip().lower(): value for key, value in details.items()} if isinstance(details, dict) else {}
    contact = Contact(
        first_name=_text(details.get("firstname")),
        last_name=_text(details.get("lastname")),
        email=_text(details.get("email")),
        phone=_text(details.get("phone")),
        country=_text(details.get("country")),
        company=_text(details.get("company")),
        title=_text(details.get("title")),
    )
    lead_source = parse_lead_source(_text(fields.get("leadsource")))
    return Lead(
        lead_id=lead_id_of(document),
        contact=contact,
        lead_source=lead_source,
        action_code=_text(fields.get("actioncode")),
        offer_title=_text(fields.get("offertitle")),
        description=_text(fields.get("description")),
        is_test=_is_test(contact, lead_source),
        raw=document,
    )


def lead_id_of(document: dict[str, Any]) -> str:
    """Deterministic id: the same lead delivered twice (key case and whitespace aside) gets the same id."""
    canonical = json.dumps(_canonical(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def cut(value: str, limit: int) -> str:
    """Cut to ``limit`` UTF-16 code units, never splitting a character. Dataverse columns and Table storage
    properties count UTF-16, where a character outside the BMP (an emoji) takes two units."""
    return next(utf16_chunks(value, limit), "")


def utf16_chunks(value: str, limit: int) -> Iterator[str]:
    """``value`` in consecutive pieces of at most ``limit`` UTF-16 code units, never splitting a character."""
    if len(value) <= limit // 2:  # short enough whatever the characters are
        yield value
        return
    start = units = 0
    for index, char in enumerate(value):
        width = 2 if ord(char) > 0xFFFF else 1
        if units + width > limit:
            yield value[start:index]
            start, units = index, 0
        units += width
    yield value[start:]


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key).strip().lower(): _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, str):
        return value.strip()
    return value


def _text(value: Any) -> str:
    """Marketplace values are strings; tolerate numbers and nested objects without failing."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _is_test(contact: Contact, lead_source: LeadSource) -> bool:
    names = (contact.first_name, contact.last_name, contact.email, lead_source.raw)
    return any(name.upper().startswith(TEST_LEAD_PREFIX) for name in names)


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, computed without recursion."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in children)
    return deepest


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
