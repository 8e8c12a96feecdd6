"""The test lead Partner Center sends when the publisher presses Validate (``MSFT_TEST_<ticks>``), as
`send-test-lead`, `make run` and the tests send it. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def test_lead_payload(ticks: int) -> dict[str, Any]:
    """A lead shaped like the one Partner Center sends when the publisher presses Validate."""
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


def dotnet_ticks(moment: datetime) -> int:
    """.NET ticks (100 ns since 0001-01-01), as Microsoft's test lead names use."""
    return int((moment.replace(tzinfo=None) - datetime(1, 1, 1)).total_seconds() * 10_000_000)
