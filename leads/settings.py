"""Settings, read once from the environment into typed objects.

Each section loads on its own, so a mistake in the Dynamics or mail settings never stops leads from
being received and stored. Every problem names the setting and says how to fix it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Literal
from urllib.parse import urlsplit

# Every setting the app reads: name → what it is. The README's table and infra's drift test use it.
SETTINGS: dict[str, str] = {
    "AzureWebJobsStorage": "Storage connection string (`UseDevelopmentStorage=true` for Azurite). "
    "Or identity-based: `AzureWebJobsStorage__tableServiceUri` + `__queueServiceUri` (or `__accountName`).",
    "AzureWebJobsStorage__tableServiceUri": "Table endpoint for identity-based storage access.",
    "AzureWebJobsStorage__queueServiceUri": "Queue endpoint for identity-based storage access.",
    "AzureWebJobsStorage__accountName": "Storage account name; derives both endpoints (public cloud).",
    "AzureWebJobsStorage__credential": "`managedidentity` for identity-based storage access.",
    "AzureWebJobsStorage__clientId": "Client id of the user-assigned identity used for storage.",
    "LEADS_TABLE": "Table holding every lead (default `leads`).",
    "LEADS_QUEUE": "Queue of leads waiting to be sent (default `leads`; poison queue `<name>-poison`).",
    "DYNAMICS_URL": "Your Dynamics 365 URL, as the browser shows it (e.g. `https://contoso.crm4.dynamics.com`).",
    "DYNAMICS_API_VERSION": "Dataverse Web API version (default `v9.2`).",
    "DYNAMICS_ENABLED": "`true` (default) sends leads to Dynamics; `false` keeps them stored as `held`.",
    "DYNAMICS_AUTH": "`client_secret` (default), `username_password` or `managed_identity`.",
    "AZURE_TENANT_ID": "Entra ID tenant (directory) id.",
    "AZURE_CLIENT_ID": "App registration client id; with `managed_identity`, a user-assigned identity's client id.",
    "AZURE_CLIENT_SECRET": "App registration client secret (`client_secret` mode).",
    "DYNAMICS_USERNAME": "Office 365 user name (`username_password` mode).",
    "DYNAMICS_PASSWORD": "Office 365 password (`username_password` mode; expires, no MFA).",
    "AZURE_AUTHORITY_HOST": "Entra ID host (default `login.microsoftonline.com`; sovereign clouds differ).",
    "NOTIFY_TO": "Contact emails for each lead, separated by semicolons. Empty: no email.",
    "NOTIFY_FROM": "Mailbox the notifications are sent from.",
    "MAIL_TRANSPORT": "`graph` (default), `smtp` or `none`.",
    "GRAPH_URL": "Microsoft Graph endpoint (default `https://graph.microsoft.com`).",
    "SMTP_HOST": "SMTP server (`smtp` transport).",
    "SMTP_PORT": "SMTP port (default 587).",
    "SMTP_USERNAME": "SMTP user name (optional).",
    "SMTP_PASSWORD": "SMTP password (optional).",
    "SMTP_STARTTLS": "`true` (default) upgrades the SMTP connection with STARTTLS.",
    "RECONCILE_SCHEDULE": "Six-field CRON schedule of the reconciliation timer (default every 5 minutes).",
    "RECONCILE_GRACE_MINUTES": "Leads still `received` after this many minutes are re-enqueued (default 10).",
}

DEFAULT_AUTHORITY_HOST = "login.microsoftonline.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
AuthMode = Literal["client_secret", "username_password", "managed_identity"]
MailTransport = Literal["graph", "smtp", "none"]
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_QUEUE_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class SettingsError(ValueError):
    """One or more settings are missing or malformed; ``problems`` lists them, each naming its setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n" + "\n".join(f"  - {problem}" for problem in problems))
        self.problems = problems


class _Reader:
    """Reads settings from an environment mapping and collects every problem before raising."""

    def __init__(self, env: Mapping[str, str] | None) -> None:
        self.env = os.environ if env is None else env
        self.problems: list[str] = []

    def text(self, name: str, default: str = "") -> str:
        return (self.env.get(name) or "").strip() or default

    def required(self, name: str, why: str) -> str:
        value = self.text(name)
        if not value:
            self.problem(name, f"is not set; {why}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name).lower()
        if not value:
            return default
        if value in ("true", "1", "yes", "on"):
            return True
        if value in ("false", "0", "no", "off"):
            return False
        self.problem(name, f"is {value!r}; set it to true or false")
        return default

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.text(name)
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            self.problem(name, f"is {value!r}; set it to a whole number from {low} to {high}")
            return default
        return number

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            self.problem(name, f"is {value!r}; set it to one of: {', '.join(choices)}")
            return default
        return value

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{name} {message}")

    def done(self) -> None:
        if self.problems:
            raise SettingsError(self.problems)


# --- storage -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StorageSettings:
    """Either a connection string, or endpoints reached with an Entra ID credential."""

    connection_string: str
    table_endpoint: str
    queue_endpoint: str
    managed_identity_credential: bool  # AzureWebJobsStorage__credential=managedidentity
    managed_identity_client_id: str
    table_name: str
    queue_name: str

    @property
    def uses_identity(self) -> bool:
        return not self.connection_string


def load_storage(env: Mapping[str, str] | None = None) -> StorageSettings:
    read = _Reader(env)
    prefix = "AzureWebJobsStorage"
    connection_string = read.text(prefix)
    table_endpoint = read.text(f"{prefix}__tableServiceUri")
    queue_endpoint = read.text(f"{prefix}__queueServiceUri")
    account = read.text(f"{prefix}__accountName")
    if account and not (table_endpoint or queue_endpoint):
        table_endpoint = f"https://{account}.table.core.windows.net"
        queue_endpoint = f"https://{account}.queue.core.windows.net"
    if connection_string:
        if connection_string != "UseDevelopmentStorage=true" and "=" not in connection_string:
            read.problem(
                prefix,
                "is not a storage connection string; copy it from the storage account's "
                "'Access keys' page, or use UseDevelopmentStorage=true for Azurite",
            )
    elif not (table_endpoint and queue_endpoint):
        read.problem(
            prefix,
            "is not set; set it to a storage connection string (UseDevelopmentStorage=true "
            f"for Azurite), or set {prefix}__tableServiceUri and {prefix}__queueServiceUri "
            "(or __accountName) for identity-based access",
        )
    for name, endpoint in (
        (f"{prefix}__tableServiceUri", table_endpoint),
        (f"{prefix}__queueServiceUri", queue_endpoint),
    ):
        if endpoint and not connection_string and urlsplit(endpoint).scheme != "https":
            read.problem(name, f"is {endpoint!r}; it must be an https:// URL")
    table_name = read.text("LEADS_TABLE", "leads")
    if not _TABLE_NAME.match(table_name):
        read.problem(
            "LEADS_TABLE", f"is {table_name!r}; a table name is 3-63 letters and digits, starting with a letter"
        )
    queue_name = read.text("LEADS_QUEUE", "leads")
    if not _QUEUE_NAME.match(queue_name) or len(queue_name) > 56:
        read.problem(
            "LEADS_QUEUE",
            f"is {queue_name!r}; a queue name is 3-56 lower-case letters, digits and "
            "single hyphens (the poison queue adds '-poison')",
        )
    read.done()
    return StorageSettings(
        connection_string=connection_string,
        table_endpoint=table_endpoint.rstrip("/"),
        queue_endpoint=queue_endpoint.rstrip("/"),
        managed_identity_credential=read.text(f"{prefix}__credential").lower() == "managedidentity",
        managed_identity_client_id=read.text(f"{prefix}__clientId"),
        table_name=table_name,
        queue_name=queue_name,
    )


# --- Dynamics 365 --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DynamicsSettings:
    url: str  # normalised: https://host[:port]
    api_version: str
    enabled: bool
    auth: AuthMode
    tenant_id: str
    client_id: str
    client_secret: str
    username: str
    password: str
    authority_host: str  # normalised: https://host[:port]

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
    """
    value = value.strip()
    if not value:
        raise ValueError("is empty")
    parts = urlsplit(value if "://" in value else f"https://{value}")
    if parts.scheme not in ("https", "http"):
        raise ValueError(f"has scheme {parts.scheme!r}; use https://")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if not host:
        raise ValueError("has no host name")
    loopback = host in _LOOPBACK_HOSTS
    if parts.scheme == "http" and not loopback:
        raise ValueError("uses http://; Dynamics 365 is only reachable over https://")
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}{f':{port}' if port else ''}"


def normalise_authority_host(value: str) -> str:
    """``login.microsoftonline.com`` or ``https://host:port`` → ``https://host[:port]``."""
    parts = urlsplit(value if "://" in value else f"https://{value}")
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be a host name or an https:// URL (MSAL refuses http authorities)")
    return f"https://{parts.netloc}"


def load_dynamics(env: Mapping[str, str] | None = None) -> DynamicsSettings:
    read = _Reader(env)
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
    auth = read.choice("DYNAMICS_AUTH", "client_secret", ("client_secret", "username_password", "managed_identity"))
    tenant_id = read.text("AZURE_TENANT_ID")
    client_id = read.text("AZURE_CLIENT_ID")
    client_secret = read.text("AZURE_CLIENT_SECRET")
    username = read.text("DYNAMICS_USERNAME")
    password = read.text("DYNAMICS_PASSWORD")
    if enabled:
        _require_sign_in(read, auth)
    authority_host = DEFAULT_AUTHORITY_HOST
    try:
        authority_host = normalise_authority_host(read.text("AZURE_AUTHORITY_HOST", DEFAULT_AUTHORITY_HOST))
    except ValueError as exc:
        read.problem("AZURE_AUTHORITY_HOST", f"{exc}; leave it empty for the public cloud")
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
    )


def _require_sign_in(read: _Reader, auth: str, purpose: str = "") -> None:
    """The settings DYNAMICS_AUTH's sign-in needs (Dynamics, and Graph mail, sign in the same way)."""
    mode = f"DYNAMICS_AUTH={auth}{purpose}"
    registration = "the Entra ID app registration's"
    if auth == "client_secret":
        read.required("AZURE_TENANT_ID", f"{mode} needs {registration} directory (tenant) id")
        read.required("AZURE_CLIENT_ID", f"{mode} needs {registration} application (client) id")
        read.required("AZURE_CLIENT_SECRET", f"{mode} needs a client secret of {registration}")
    elif auth == "username_password":
        read.required(
            "AZURE_CLIENT_ID",
            f"{mode} needs the client id of a public client app registration with the Dynamics CRM "
            "user_impersonation permission",
        )
        read.required("DYNAMICS_USERNAME", f"{mode} needs the Office 365 user name")
        read.required("DYNAMICS_PASSWORD", f"{mode} needs the Office 365 password")


# --- notification mail --------------------------------------------------------------------------


@dataclass(frozen=True)
class MailSettings:
    notify_to: tuple[str, ...]
    notify_from: str
    transport: MailTransport
    graph_url: str
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_password: str
    smtp_starttls: bool

    @property
    def enabled(self) -> bool:
        return bool(self.notify_to) and self.transport != "none"


def parse_addresses(value: str) -> tuple[list[str], list[str]]:
    """``a@x; b@y, c@z`` → (valid addresses, invalid entries). Semicolons, commas and spaces all separate."""
    valid: list[str] = []
    invalid: list[str] = []
    for entry in re.split(r"[;,\s]+", value):
        if not entry:
            continue
        if is_email_address(entry):
            if entry.lower() not in (address.lower() for address in valid):
                valid.append(entry)
        else:
            invalid.append(entry)
    return valid, invalid


def is_email_address(value: str) -> bool:
    if not re.fullmatch(r"[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", value):
        return False
    try:
        address = Address(addr_spec=value)
    except (HeaderParseError, ValueError, IndexError):
        return False
    return address.addr_spec == value


def load_mail(env: Mapping[str, str] | None = None) -> MailSettings:
    read = _Reader(env)
    notify_to, invalid = parse_addresses(read.text("NOTIFY_TO"))
    if invalid:
        read.problem(
            "NOTIFY_TO",
            f"has entries that are not email addresses: {', '.join(map(repr, invalid))}; "
            "list addresses separated by semicolons, e.g. sales@contoso.com;ceo@contoso.com",
        )
    transport = read.choice("MAIL_TRANSPORT", "graph", ("graph", "smtp", "none"))
    notify_from = read.text("NOTIFY_FROM")
    if notify_to and transport != "none":
        if not notify_from:
            read.problem("NOTIFY_FROM", "is not set; set it to the mailbox the lead notifications are sent from")
        elif not is_email_address(notify_from):
            read.problem("NOTIFY_FROM", f"is {notify_from!r}; set it to one email address")
    graph_url = read.text("GRAPH_URL", DEFAULT_GRAPH_URL).rstrip("/")
    graph_parts = urlsplit(graph_url)
    if (
        graph_parts.scheme not in ("https", "http")
        or not graph_parts.hostname
        or (graph_parts.scheme == "http" and graph_parts.hostname not in _LOOPBACK_HOSTS)
    ):
        read.problem(
            "GRAPH_URL", f"is {graph_url!r}; use https://graph.microsoft.com or your national cloud's Graph URL"
        )
    if transport == "graph" and notify_to and not read.flag("DYNAMICS_ENABLED", True):
        # With Dynamics on, its own settings check the sign-in; Graph mail signs in the same way.
        auth = read.choice("DYNAMICS_AUTH", "client_secret", ("client_secret", "username_password", "managed_identity"))
        _require_sign_in(read, auth, " (used for MAIL_TRANSPORT=graph)")
    smtp_host = read.text("SMTP_HOST")
    if transport == "smtp" and notify_to and not smtp_host:
        read.problem("SMTP_HOST", "is not set; MAIL_TRANSPORT=smtp needs the SMTP server's host name")
    mail = MailSettings(
        notify_to=tuple(notify_to),
        notify_from=notify_from,
        transport=transport,  # type: ignore[arg-type]  # checked by choice()
        graph_url=graph_url,
        smtp_host=smtp_host,
        smtp_port=read.integer("SMTP_PORT", 587, 1, 65535),
        smtp_username=read.text("SMTP_USERNAME"),
        smtp_password=read.text("SMTP_PASSWORD"),
        smtp_starttls=read.flag("SMTP_STARTTLS", True),
    )
    read.done()
    return mail


# --- reconciliation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconcileSettings:
    grace_minutes: int


def load_reconcile(env: Mapping[str, str] | None = None) -> ReconcileSettings:
    read = _Reader(env)
    grace = read.integer("RECONCILE_GRACE_MINUTES", 10, 1, 7 * 24 * 60)
    read.done()
    return ReconcileSettings(grace_minutes=grace)
