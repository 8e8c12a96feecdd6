"""Microsoft's Azure Table destination, read by `import --from-table` and, when MARKETPLACE_TABLE is set, followed
by the timer. Its storage account is the publisher's own (Microsoft writes there with a connection string)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from leads.core.urls import AddressProblem, parse_web_address
from leads.settings.reader import Reader

DEFAULT_TABLE = "MarketplaceLeads"  # the name public code reading the destination uses (REFERENCE.md §1.5)
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")


@dataclass(frozen=True)
class MarketplaceTableSettings:
    table_name: str  # "" when not followed (the timer does nothing)
    connection_string: str = field(repr=False)  # holds the AccountKey (or a SAS): kept out of repr()
    endpoint: str  # identity-based: https://<account>.table.core.windows.net

    @property
    def followed(self) -> bool:
        return bool(self.table_name)


def load_marketplace_table(
    env: Mapping[str, str] | None = None, table: str = "", default_table: str = ""
) -> MarketplaceTableSettings:
    """The settings; ``table`` (from the command line) replaces MARKETPLACE_TABLE, ``default_table`` fills in for
    an empty one. Where to read is checked only when there is a table to read: an empty MARKETPLACE_TABLE turns
    the timer off and needs nothing else."""
    read = Reader(env)
    table_name = table or read.text("MARKETPLACE_TABLE", default_table)
    connection_string = read.text("MARKETPLACE_TABLE_CONNECTION")
    endpoint = read.text("MARKETPLACE_TABLE_ENDPOINT").rstrip("/")
    if table_name:
        name = "MARKETPLACE_TABLE" if not table else "--table"
        if not _TABLE_NAME.match(table_name):
            read.problem(name, f"is {table_name!r}; a table name is 3-63 letters and digits, starting with a letter")
        if not (connection_string or endpoint):
            read.problem(
                "MARKETPLACE_TABLE_CONNECTION",
                "and MARKETPLACE_TABLE_ENDPOINT are both empty; set the connection string Microsoft's Azure Table "
                "destination was given (Partner Center → offer → Customer leads), or the account's table endpoint "
                "(https://<account>.table.core.windows.net) to read it with this app's identity",
            )
    if endpoint and not connection_string:
        # Read with the app's identity: its token goes to this host, so the host is the one the client reads.
        try:
            address = parse_web_address(endpoint)
            if address.scheme != "https" and not address.loopback:
                read.problem("MARKETPLACE_TABLE_ENDPOINT", f"is {address.origin!r}; it must be an https:// URL")
            endpoint = address.url.rstrip("/")
        except AddressProblem as exc:
            read.problem("MARKETPLACE_TABLE_ENDPOINT", f"{exc}; use https://<account>.table.core.windows.net")
    read.done()
    return MarketplaceTableSettings(table_name, connection_string, endpoint)
