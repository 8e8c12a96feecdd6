"""Dynamics 365 and how to sign in to it (Graph mail signs in the same way)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from leads.core.urls import AddressProblem, parse_web_address
from leads.settings.reader import Reader, require_sign_in, sign_in_mode

DEFAULT_AUTHORITY_HOST = "login.microsoftonline.com"
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")
AuthMode = Literal["client_secret", "username_password", "managed_identity"]
# What to do with a marketplace lead of a person who already has an open lead in Dynamics (steps/returning.py):
# create a new lead anyway (as before: the default, see README "Returning customers"), attach the event to that
# open lead as a note, or let the organisation's own duplicate detection rules decide (and attach on a duplicate).
Duplicates = Literal["create", "attach", "rules"]
DUPLICATE_MODES = ("create", "attach", "rules")
# `attach` looks for an open lead of the same email created within this many days: an open lead older than a
# quarter is one nobody followed up, and a new lead makes the returning customer visible again.
DEFAULT_DUPLICATES_DAYS = 90
MAX_DUPLICATES_DAYS = 3650


@dataclass(frozen=True)
class DynamicsSettings:
    url: str  # normalised: https://host[:port]
    api_version: str
    enabled: bool
    auth: AuthMode
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)  # secrets stay out of repr() (and so out of tracebacks and logs)
    username: str
    password: str = field(repr=False)
    authority_host: str  # normalised: https://host[:port]
    duplicates: Duplicates = "create"  # DYNAMICS_DUPLICATES
    duplicates_days: int = DEFAULT_DUPLICATES_DAYS  # DYNAMICS_DUPLICATES_DAYS: how far back `attach` looks

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/data/{self.api_version}"

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id or 'organizations'}"

    def record_link(self, dynamics_lead_id: str) -> str:
        return f"{self.url}/main.aspx?etn=lead&pagetype=entityrecord&id={dynamics_lead_id}"


def normalise_dynamics_url(value: str) -> str:
    """What the browser shows (``contoso.crm4.dynamics.com/main.aspx?appid=…``) → ``https://host``.

    Raises ValueError with the reason. https is required except for loopback hosts (tests, ``make run``).
    Rebuilt from the host and port as the HTTP client reads them (leads.core.urls): nothing else of the text
    reaches a request.
    """
    address = parse_web_address(value.strip(), default_scheme="https", origin_only=True)
    if address.scheme == "http" and not address.loopback:
        raise AddressProblem("uses http://; Dynamics 365 is only reachable over https://")
    return address.origin


def normalise_authority_host(value: str) -> str:
    """``login.microsoftonline.com`` or ``https://host:port`` → ``https://host[:port]``, rebuilt from the host and
    port as the HTTP client reads them: text before an ``@`` would otherwise be taken as a user name and the
    client secret sent to the host after it."""
    address = parse_web_address(value, default_scheme="https", origin_only=True)
    if address.scheme != "https":
        raise AddressProblem("must be a host name or an https:// URL (MSAL refuses http authorities)")
    return address.origin


def load_dynamics(env: Mapping[str, str] | None = None) -> DynamicsSettings:
    read = Reader(env)
    enabled = read.flag("DYNAMICS_ENABLED", True)
    url = ""
    raw_url = read.text("DYNAMICS_URL")
    if raw_url or enabled:
        try:
            url = normalise_dynamics_url(raw_url)
        except ValueError as exc:
            hint = "set it to your Dynamics 365 address, e.g. https://contoso.crm.dynamics.com"
            if not enabled:
                hint += ", or leave it empty while DYNAMICS_ENABLED is false"
            read.problem("DYNAMICS_URL", f"{exc}; {hint}")
    api_version = read.text("DYNAMICS_API_VERSION", "v9.2")
    if not re.fullmatch(r"v\d+\.\d+", api_version):
        read.problem("DYNAMICS_API_VERSION", f"is {api_version!r}; use a Web API version such as v9.2")
    auth = sign_in_mode(read)
    tenant_id = read.text("AZURE_TENANT_ID")
    if tenant_id and not _TENANT.fullmatch(tenant_id):
        # It becomes the authority's path: a / ? # or @ in it would change the URL MSAL signs in at.
        read.problem(
            "AZURE_TENANT_ID",
            "may hold only letters, digits, dots and hyphens; copy the Directory (tenant) ID (a GUID) from the app "
            "registration's Overview page, or use the tenant's domain (contoso.onmicrosoft.com)",
        )
    client_id = read.text("AZURE_CLIENT_ID")
    client_secret = read.text("AZURE_CLIENT_SECRET")
    username = read.text("DYNAMICS_USERNAME")
    password = read.text("DYNAMICS_PASSWORD")
    if enabled:
        require_sign_in(read, auth)
    authority_host = DEFAULT_AUTHORITY_HOST
    try:
        authority_host = normalise_authority_host(read.text("AZURE_AUTHORITY_HOST", DEFAULT_AUTHORITY_HOST))
    except ValueError as exc:
        read.problem("AZURE_AUTHORITY_HOST", f"{exc}; leave it empty for the public cloud")
    duplicates = read.choice("DYNAMICS_DUPLICATES", "create", DUPLICATE_MODES)
    duplicates_days = read.integer("DYNAMICS_DUPLICATES_DAYS", DEFAULT_DUPLICATES_DAYS, 1, MAX_DUPLICATES_DAYS)
    read.done()
    return DynamicsSettings(
        url=url,
        api_version=api_version,
        enabled=enabled,
        auth=auth,  # type: ignore[arg-type]  # checked by choice()
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=client_secret,
        username=username,
        password=password,
        authority_host=authority_host,
        duplicates=duplicates,  # type: ignore[arg-type]  # checked by choice()
        duplicates_days=duplicates_days,
    )
