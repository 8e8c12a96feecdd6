"""Marketplace payloads as they arrive (shapes from Microsoft's docs; see shared/REFERENCE.md §1)."""

from __future__ import annotations

import json
from typing import Any

from leads.core.validation_lead import test_lead_payload


def marketplace_lead(**overrides: Any) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "UserDetails": {
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Email": "ada@contoso.example",
            "Phone": "+44 20 7946 0000",
            "Country": "United Kingdom",
            "Company": "Contoso Ltd",
            "Title": "CTO",
        },
        "LeadSource": "AzureMarketplace-INS|contoso.crm-connector",
        "ActionCode": "INS",
        "OfferTitle": "Contoso CRM Connector",
        "Description": "Please contact me about pricing",
    }
    lead.update(overrides)
    return lead


def validation_lead(ticks: int = 637000000000000000) -> dict[str, Any]:
    """The lead Partner Center sends when the publisher presses Validate (send-test-lead posts the same)."""
    return test_lead_payload(ticks)


def body(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")
