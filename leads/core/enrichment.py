"""What routing and contact linking add to the Dynamics lead: lookups (``…@odata.bind``), columns and facts for
the description; and which lookup a Dataverse refusal was about. Pure, no I/O."""

from __future__ import annotations

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
