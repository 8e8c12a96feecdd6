"""OData text the Dataverse adapter writes into a query."""

from __future__ import annotations


def odata_string(value: str) -> str:
    """An OData string literal: quoted, with each ``'`` doubled, so a value can never end the literal early and
    widen the filter (``o'brien@x`` → ``'o''brien@x'``)."""
    return "'" + value.replace("'", "''") + "'"
