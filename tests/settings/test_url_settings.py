"""URL settings are read as the HTTP client reads them, and kept rebuilt from those parts: DYNAMICS_URL,
AZURE_AUTHORITY_HOST (with AZURE_TENANT_ID, the authority's path), GRAPH_URL and the storage endpoints. Each
refusal names the setting and the fix, and never quotes what came before an ``@``."""

from __future__ import annotations

import pytest

from leads.settings import SettingsError, load_dynamics, load_mail, load_marketplace_table, load_storage

DYNAMICS = {
    "DYNAMICS_URL": "https://contoso.crm4.dynamics.com",
    "AZURE_TENANT_ID": "00000000-0000-4000-8000-000000000000",
    "AZURE_CLIENT_ID": "client",
    "AZURE_CLIENT_SECRET": "S3CRET",
}
MAIL = {"NOTIFY_TO": "sales@contoso.example", "NOTIFY_FROM": "leads@contoso.example", "DYNAMICS_AUTH": "client_secret"}
SMUGGLED = [
    "login.microsoftonline.com@evil.example",
    "https://login.microsoftonline.com@evil.example",
    "https://login.microsoftonline.com:443@evil.example",
    "https://user:hunter2@evil.example",
    "https://evil.example\\@login.microsoftonline.com",
    "https://login.microsoftonline.com\t.evil.example",
    "https://evil.example%2F@login.microsoftonline.com",
]


def refusal(load: object, env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as raised:
        load(env)  # type: ignore[operator]
    text = str(raised.value)
    assert "evil.example" not in text and "hunter2" not in text and "S3CRET" not in text
    return text


@pytest.mark.parametrize("value", SMUGGLED)
def test_an_authority_host_with_a_user_name_or_a_backslash_is_refused(value: str) -> None:
    # Before: https://login.microsoftonline.com@evil.example was kept whole, and MSAL sent the secret to evil.
    text = refusal(load_dynamics, {**DYNAMICS, "AZURE_AUTHORITY_HOST": value})
    assert "AZURE_AUTHORITY_HOST" in text and "public cloud" in text


@pytest.mark.parametrize(
    "value", [v.replace("login.microsoftonline.com", "contoso.crm.dynamics.com") for v in SMUGGLED]
)
def test_a_dynamics_url_with_a_user_name_or_a_backslash_is_refused(value: str) -> None:
    text = refusal(load_dynamics, {**DYNAMICS, "DYNAMICS_URL": value})
    assert "DYNAMICS_URL" in text and "https://contoso.crm.dynamics.com" in text


@pytest.mark.parametrize("value", [v.replace("login.microsoftonline.com", "graph.microsoft.com") for v in SMUGGLED])
def test_a_graph_url_with_a_user_name_or_a_backslash_is_refused(value: str) -> None:
    text = refusal(load_mail, {**MAIL, "GRAPH_URL": value if "://" in value else f"https://{value}"})
    assert "GRAPH_URL" in text and "https://graph.microsoft.com" in text


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://graph.microsoft.com/", "https://graph.microsoft.com"),
        ("https://graph.microsoft.com/v1.0", "https://graph.microsoft.com"),  # the app adds /v1.0 itself
        ("HTTPS://Graph.Microsoft.US", "https://graph.microsoft.us"),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081"),
    ],
)
def test_the_graph_url_is_kept_as_scheme_host_and_port(value: str, kept: str) -> None:
    assert load_mail({**MAIL, "GRAPH_URL": value}).graph_url == kept


def test_a_graph_url_over_http_is_refused_except_on_loopback() -> None:
    assert "GRAPH_URL uses http://" in refusal(load_mail, {**MAIL, "GRAPH_URL": "http://graph.microsoft.com"})


@pytest.mark.parametrize("tenant", ["x@evil.example/", "contoso/../common", "t?x=1", "t#", "t\\x", "-t"])
def test_a_tenant_that_would_change_the_authority_url_is_refused(tenant: str) -> None:
    assert "AZURE_TENANT_ID may hold only" in refusal(load_dynamics, {**DYNAMICS, "AZURE_TENANT_ID": tenant})


@pytest.mark.parametrize("tenant", ["00000000-0000-4000-8000-000000000000", "contoso.onmicrosoft.com", "organizations"])
def test_tenant_ids_and_domains_are_accepted(tenant: str) -> None:
    settings = load_dynamics({**DYNAMICS, "AZURE_TENANT_ID": tenant})
    assert settings.authority == f"https://login.microsoftonline.com/{tenant}"


def test_identity_based_storage_endpoints_are_read_as_the_client_reads_them() -> None:
    env = {"AzureWebJobsStorage__queueServiceUri": "https://contosoleads.queue.core.windows.net/"}
    smuggled = env | {
        "AzureWebJobsStorage__tableServiceUri": "https://evil.example\\@contosoleads.table.core.windows.net"
    }
    assert "AzureWebJobsStorage__tableServiceUri contains a backslash" in refusal(load_storage, smuggled)
    settings = load_storage(
        env | {"AzureWebJobsStorage__tableServiceUri": "HTTPS://ContosoLeads.table.core.windows.net/"}
    )
    assert settings.table_endpoint == "https://contosoleads.table.core.windows.net"
    assert settings.queue_endpoint == "https://contosoleads.queue.core.windows.net"


def test_the_marketplace_table_endpoint_is_read_as_the_client_reads_it() -> None:
    env = {"MARKETPLACE_TABLE": "MarketplaceLeads"}
    text = refusal(load_marketplace_table, env | {"MARKETPLACE_TABLE_ENDPOINT": "https://u:hunter2@evil.example"})
    assert "MARKETPLACE_TABLE_ENDPOINT holds a user name or password" in text
    kept = load_marketplace_table(env | {"MARKETPLACE_TABLE_ENDPOINT": "https://Contoso.table.core.windows.net/"})
    assert kept.endpoint == "https://contoso.table.core.windows.net"


SMTP = {**MAIL, "MAIL_TRANSPORT": "smtp", "SMTP_HOST": "smtp.contoso.example", "SMTP_USERNAME": "leads"}


@pytest.mark.parametrize("port", ["587", "25", "2525"])
def test_smtp_without_starttls_is_refused_for_a_server_elsewhere(port: str) -> None:
    text = refusal(load_mail, {**SMTP, "SMTP_PORT": port, "SMTP_STARTTLS": "false"})
    assert "SMTP_STARTTLS is false for smtp.contoso.example" in text and "clear text" in text
    assert "set SMTP_STARTTLS=true" in text and "SMTP_PORT=465" in text


@pytest.mark.parametrize(
    ("host", "port"), [("smtp.contoso.example", "465"), ("localhost", "25"), ("127.0.0.1", "1025"), ("::1", "25")]
)
def test_smtp_without_starttls_is_allowed_on_this_machine_or_with_implicit_tls(host: str, port: str) -> None:
    mail = load_mail({**SMTP, "SMTP_HOST": host, "SMTP_PORT": port, "SMTP_STARTTLS": "false"})
    assert not mail.smtp_starttls


def test_smtp_starttls_false_is_not_checked_when_smtp_is_not_used() -> None:
    assert not load_mail({**MAIL, "SMTP_HOST": "smtp.contoso.example", "SMTP_STARTTLS": "false"}).smtp_starttls
