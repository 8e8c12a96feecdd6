"""A marketplace lead → the Dataverse `lead` record. Pure functions, no I/O."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from leads.core import campaign
from leads.core.enrichment import Enrichment
from leads.core.payload import Lead, cut

# Fixed namespace: the same marketplace lead always maps to the same Dataverse leadid, so a repeated
# create is answered "already exists" instead of making a second lead.
LEAD_NAMESPACE = uuid.UUID("5d0c2f0e-3c9a-4b59-9a57-1f6f2b0d9c41")
LEAD_SOURCE_WEB = 8  # leadsourcecode option "Web"

# Column lengths of the standard lead table (Dataverse reference); longer text is cut, not refused.
COLUMN_LENGTHS = {
    "subject": 300,
    "firstname": 50,
    "lastname": 50,
    "emailaddress1": 100,
    "telephone1": 50,
    "companyname": 100,
    "jobtitle": 100,
    "address1_country": 80,
    "description": 2000,
}

SOURCE_NAMES = {
    "azuremarketplace": "Azure Marketplace",
    "appsource": "AppSource",
    "appsource (spza)": "AppSource",
    "spza": "AppSource",
    "azureportal": "Azure portal",
    "testdrive": "Test Drive",
}


def dataverse_lead_id(lead_id: str) -> str:
    return str(uuid.uuid5(LEAD_NAMESPACE, lead_id))


def source_name(lead: Lead) -> str:
    source = lead.lead_source.source
    return SOURCE_NAMES.get(source.lower(), source) if source and not lead.is_test else "Marketplace"


def subject(lead: Lead) -> str:
    """Never empty: names the offer and the action, and marks Microsoft's test leads."""
    offer = lead.offer_title or lead.lead_source.offer_id or "unknown offer"
    action = f" ({lead.action})" if lead.action else ""
    test = "[Test] " if lead.is_test else ""
    return f"{test}{source_name(lead)} lead: {offer}{action}"


def description(lead: Lead, received_at: datetime, more_facts: tuple[str, ...] = ()) -> str:
    """Our facts first, so they survive when a long customer note is cut to the column length."""
    facts = [
        f"Marketplace lead id: {lead.lead_id}",
        f"Received: {received_at.isoformat(timespec='seconds')}",
        f"Lead source: {cut(lead.lead_source.raw, 300) or 'not given'}",
        f"Action: {cut(lead.action, 100) or 'not given'}",
        f"Offer: {cut(lead.offer_title, 300) or 'not given'} ({cut(lead.lead_source.offer_id, 300) or 'no offer id'})",
    ]
    if parameters := lead.campaign_parameters:
        facts.append(f"Campaign parameters: {cut(campaign.summary(parameters), 500)}")
    facts += more_facts
    if lead.is_test:
        facts.insert(0, "Microsoft marketplace test lead (sent when the lead destination is validated).")
    note = f"\n\n{lead.description}" if lead.description else ""
    return "\n".join(facts) + note


def to_dataverse(lead: Lead, received_at: datetime, enrichment: Enrichment | None = None) -> dict[str, Any]:
    """The JSON body for creating the lead. Empty contact fields are left out (.edu leads have none).
    ``enrichment`` (routing, an existing contact) adds lookups, columns and description facts."""
    more = enrichment or Enrichment()
    contact = lead.contact
    columns = {
        "subject": subject(lead),
        "firstname": contact.first_name,
        "lastname": contact.last_name,
        "emailaddress1": contact.email,
        "telephone1": contact.phone,
        "companyname": contact.company,
        "jobtitle": contact.title,
        "address1_country": contact.country,
        "description": description(lead, received_at, (*more.facts, *more.notes)),
    }
    body: dict[str, Any] = {name: cut(value, COLUMN_LENGTHS[name]) for name, value in columns.items() if value}
    body["leadsourcecode"] = LEAD_SOURCE_WEB
    return body | more.body()
