"""What routing and contact linking add to the Dynamics lead: lookups (``…@odata.bind``), columns and facts for
the description; and which lookup or column a Dataverse refusal was about. Pure, no I/O."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

# Navigation property → what it is, for the notes ("owner not applied: …").
BINDINGS = {
    "ownerid": "owner",
    "campaignid": "campaign",
    "parentcontactid": "existing contact",
    "parentaccountid": "contact's account",
}
# Privileges a refusal can name (0x80040220 "… is missing prvAssignLead privilege …"), and the lookup needing them.
_PRIVILEGE_BINDINGS = (
    ("prvassign", "ownerid"),
    ("campaign", "campaignid"),
    ("contact", "parentcontactid"),
    ("account", "parentaccountid"),
    ("prvappendlead", "campaignid"),  # linking anything to a lead needs Append on it: drop one link at a time
    ("prvappendlead", "parentcontactid"),
    ("prvappendlead", "parentaccountid"),
)
# How Dataverse names the column it refuses (REFERENCE §9.3 and the stand-in's docstrings): an unknown property
# (0x80048d19 in a body, 0x80060888 elsewhere), a choice value outside its options, text over MaxLength, column
# security.
_NAMED_COLUMN = (
    re.compile(r"property '(\w+)' does not exist on type", re.IGNORECASE),
    re.compile(r"could not find a property named '(\w+)'", re.IGNORECASE),
    re.compile(r"the value .{0,40}? of '(\w+)' on record of type", re.IGNORECASE),
    re.compile(r"the length of the '(\w+)' attribute", re.IGNORECASE),
    re.compile(r"permissions? for the '?(\w+)'? attribute", re.IGNORECASE),
)
# A value of the wrong type: OData names the value, not the property (OData/odata.net issue 1900).
_LITERAL = re.compile(r"cannot convert the literal '(.*?)' to the expected type", re.IGNORECASE | re.DOTALL)
_PAYLOAD = "error identified in payload"
_WHY = (
    ("does not exist on type", "not a column of the lead table"),
    ("could not find a property", "not a column of the lead table"),
    ("outside the valid range", "not one of its options"),
    ("maximum allowed length", "longer than the column allows"),
    ("cannot convert", "a value of the wrong type"),
    ("permission", "no permission to set it"),
)


@dataclass(frozen=True)
class ExistingContact:
    """A contact in Dynamics with the lead's email address, and its parent account if it has one."""

    contact_id: str
    account_id: str = ""


@dataclass(frozen=True)
class Enrichment:
    """What goes into the lead's body beside the mapped marketplace fields."""

    bindings: dict[str, str] = field(default_factory=dict)  # navigation property → "/entityset(id)"
    columns: dict[str, Any] = field(default_factory=dict)
    facts: tuple[str, ...] = ()  # lines for the description's facts
    notes: tuple[str, ...] = ()  # what routing asked for and could not do (also in LastError and the mail)

    def body(self) -> dict[str, Any]:
        return self.columns | {f"{name}@odata.bind": target for name, target in self.bindings.items()}

    def bound(self, name: str, entity_set: str, record_id: str) -> Enrichment:
        return replace(self, bindings=self.bindings | {name: f"/{entity_set}({record_id})"})

    def with_fact(self, fact: str) -> Enrichment:
        return replace(self, facts=(*self.facts, fact))

    def noted(self, note: str) -> Enrichment:
        return replace(self, notes=(*self.notes, note))

    def without(self, name: str, note: str) -> Enrichment:
        bindings = {key: value for key, value in self.bindings.items() if key != name}
        return replace(self, bindings=bindings, notes=(*self.notes, note))

    def without_columns(self, names: tuple[str, ...], note: str) -> Enrichment:
        columns = {key: value for key, value in self.columns.items() if key not in names}
        return replace(self, columns=columns, notes=(*self.notes, note))


def refused_binding(enrichment: Enrichment, status: int | None, message: str) -> str | None:
    """The navigation property a Dataverse refusal is about, or None when it is about the lead itself.

    A bound record that no longer exists is named by its id ("team With Id = … Does Not Exist"); a missing
    privilege by its name (prvAssignLead for an owner)."""
    if status not in (400, 403, 404) or not enrichment.bindings:
        return None
    text = message.lower()
    for name, target in enrichment.bindings.items():
        record_id = re.search(r"\(([^()]*)\)$", target)
        if record_id and record_id.group(1).lower() in text:
            return name
    privilege = re.search(r"missing (prv\w+) privilege", text) if status == 403 else None
    if privilege is not None:
        for fragment, name in _PRIVILEGE_BINDINGS:
            if fragment in privilege.group(1) and name in enrichment.bindings:
                return name
    return None


def refused_columns(
    enrichment: Enrichment, status: int | None, message: str, quoted: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """The columns routing added that a Dataverse refusal is about, or () when it is about the lead itself.

    A column Dataverse names is that column (if routing set it); a value of the wrong type is every routing column
    with that value (``quoted``: the columns whose values the adapter found quoted, when it took the values out of
    the message); any other refusal of the payload (the app's own columns are always text of the right length,
    and leadsourcecode 8) is put down to all of routing's columns, so the lead can still be created without them."""
    if status not in (400, 403) or not enrichment.columns:
        return ()
    for pattern in _NAMED_COLUMN:
        if found := pattern.search(message):
            return (found.group(1),) if found.group(1) in enrichment.columns else ()
    if literal := _LITERAL.search(message):
        same = tuple(name for name, value in enrichment.columns.items() if _as_literal(value) == literal.group(1))
        same = same or tuple(name for name in quoted if name in enrichment.columns)
        return same or tuple(enrichment.columns)
    return tuple(enrichment.columns) if _PAYLOAD in message.lower() else ()


def refusal_why(message: str) -> str:
    """A few words on why Dataverse refused a column (never a value: it may be personal data)."""
    text = message.lower()
    return next((why for fragment, why in _WHY if fragment in text), "refused")


def _as_literal(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
