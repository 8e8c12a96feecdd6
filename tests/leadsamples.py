"""Marketplace payloads as they arrive (shapes from Microsoft's docs; see shared/REFERENCE.md §1)."""

from __future__ import annotations

import json
from typing import Any


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
    """The lead Partner Center sends when the publisher presses Validate."""
    name = f"MSFT_TEST_{ticks}"
    return {
        "UserDetails": {
            "FirstName": name,
            "LastName": name,
            "Email": f"{name}@test.com",
            "Phone": "1234567890",
            "Country": "US",
            "Company": name,
            "Title": name,
        },
        "LeadSource": "AzureMarketplace",
        "ActionCode": "INS",
        "OfferTitle": "Contoso Test",
        "Description": name,
    }


def body(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")
