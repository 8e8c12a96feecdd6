import pytest

from leads.core.addresses import parse_addresses
from leads.settings import (
    SettingsError,
    load_dynamics,
    load_mail,
    load_reconcile,
    load_storage,
    normalise_dynamics_url,
)

GOOD_DYNAMICS = {
    "DYNAMICS_URL": "https://contoso.crm4.dynamics.com",
    "AZURE_TENANT_ID": "tenant",
    "AZURE_CLIENT_ID": "client",
    "AZURE_CLIENT_SECRET": "secret",
}


def test_storage_defaults() -> None:
    settings = load_storage({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert (settings.table_name, settings.queue_name) == ("leads", "leads")
    assert not settings.uses_identity


def test_missing_storage_names_the_setting_and_the_fix() -> None:
    with pytest.raises(SettingsError) as caught:
        load_storage({})
    assert "AzureWebJobsStorage is not set" in str(caught.value)
    assert "UseDevelopmentStorage=true" in str(caught.value)


def test_identity_based_storage() -> None:
    settings = load_storage(
        {
            "AzureWebJobsStorage__accountName": "contosoleads",
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": "uami",
        }
    )
    assert settings.uses_identity and settings.managed_identity_credential
    assert settings.table_endpoint == "https://contosoleads.table.core.windows.net"
    assert settings.queue_endpoint == "https://contosoleads.queue.core.windows.net"
    with pytest.raises(SettingsError, match="AzureWebJobsStorage__queueServiceUri is 'http://x'"):
        load_storage(
            {"AzureWebJobsStorage__tableServiceUri": "https://t", "AzureWebJobsStorage__queueServiceUri": "http://x"}
        )


@pytest.mark.parametrize(
    ("name", "value"),
    [("LEADS_TABLE", "le-ads"), ("LEADS_TABLE", "1leads"), ("LEADS_QUEUE", "Leads"), ("LEADS_QUEUE", "a--b")],
)
def test_bad_table_and_queue_names_are_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_storage({"AzureWebJobsStorage": "UseDevelopmentStorage=true", name: value})


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_storage({"AzureWebJobsStorage": "nonsense", "LEADS_TABLE": "x", "LEADS_QUEUE": "Y"})
    assert len(caught.value.problems) == 3


@pytest.mark.parametrize(
    ("pasted", "normalised"),
    [
        (
            "https://contoso.crm4.dynamics.com/main.aspx?appid=1234&pagetype=dashboard",
            "https://contoso.crm4.dynamics.com",
        ),
        ("contoso.crm4.dynamics.com", "https://contoso.crm4.dynamics.com"),
        ("https://contoso.crm.dynamics.com/", "https://contoso.crm.dynamics.com"),
        ("  HTTPS://Contoso.CRM.dynamics.com/api/data/v9.2/  ", "https://contoso.crm.dynamics.com"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://localhost:5555", "http://localhost:5555"),
    ],
)
def test_dynamics_url_is_normalised(pasted: str, normalised: str) -> None:
    assert normalise_dynamics_url(pasted) == normalised


@pytest.mark.parametrize("url", ["http://contoso.crm.dynamics.com", "ftp://x", "https://", "https://x:notaport"])
def test_dynamics_url_must_be_https_except_loopback(url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is checked through load_dynamics below
        normalise_dynamics_url(url)
    with pytest.raises(SettingsError, match="DYNAMICS_URL"):
        load_dynamics({**GOOD_DYNAMICS, "DYNAMICS_URL": url})


def test_dynamics_client_secret_mode() -> None:
    settings = load_dynamics(GOOD_DYNAMICS)
    assert settings.auth == "client_secret"
    assert settings.api_url == "https://contoso.crm4.dynamics.com/api/data/v9.2"
    assert settings.authority == "https://login.microsoftonline.com/tenant"
    assert (
        settings.record_link("abc")
        == "https://contoso.crm4.dynamics.com/main.aspx?etn=lead&pagetype=entityrecord&id=abc"
    )


def test_dynamics_missing_secret_is_named() -> None:
    with pytest.raises(SettingsError) as caught:
        load_dynamics({"DYNAMICS_URL": "contoso.crm.dynamics.com"})
    text = str(caught.value)
    assert "AZURE_TENANT_ID" in text and "AZURE_CLIENT_ID" in text and "AZURE_CLIENT_SECRET" in text


def test_username_password_mode_needs_user_and_password() -> None:
    with pytest.raises(SettingsError) as caught:
        load_dynamics({"DYNAMICS_URL": "contoso.crm.dynamics.com", "DYNAMICS_AUTH": "username_password"})
    assert "DYNAMICS_USERNAME" in str(caught.value) and "DYNAMICS_PASSWORD" in str(caught.value)


def test_managed_identity_mode_needs_no_secret() -> None:
    settings = load_dynamics({"DYNAMICS_URL": "contoso.crm.dynamics.com", "DYNAMICS_AUTH": "Managed_Identity"})
    assert settings.auth == "managed_identity"


def test_duplicates_create_by_default_and_each_mode_with_its_window() -> None:
    settings = load_dynamics(GOOD_DYNAMICS)
    assert (settings.duplicates, settings.duplicates_days) == ("create", 90)  # as before the setting existed
    settings = load_dynamics({**GOOD_DYNAMICS, "DYNAMICS_DUPLICATES": "Attach", "DYNAMICS_DUPLICATES_DAYS": "30"})
    assert (settings.duplicates, settings.duplicates_days) == ("attach", 30)
    assert load_dynamics({**GOOD_DYNAMICS, "DYNAMICS_DUPLICATES": "rules"}).duplicates == "rules"
    with pytest.raises(SettingsError) as caught:
        load_dynamics({**GOOD_DYNAMICS, "DYNAMICS_DUPLICATES": "merge", "DYNAMICS_DUPLICATES_DAYS": "0"})
    assert "DYNAMICS_DUPLICATES is 'merge'; set it to one of: create, attach, rules" in str(caught.value)
    assert "DYNAMICS_DUPLICATES_DAYS is '0'; set it to a whole number from 1 to 3650" in str(caught.value)


def test_disabled_dynamics_needs_no_url() -> None:
    settings = load_dynamics({"DYNAMICS_ENABLED": "false"})
    assert not settings.enabled and settings.url == ""
    with pytest.raises(SettingsError, match="DYNAMICS_ENABLED is 'maybe'"):
        load_dynamics({**GOOD_DYNAMICS, "DYNAMICS_ENABLED": "maybe"})


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("", "https://login.microsoftonline.com"),
        ("login.microsoftonline.us", "https://login.microsoftonline.us"),
        ("https://127.0.0.1:8443/", "https://127.0.0.1:8443"),
    ],
)
def test_authority_host(value: str, host: str) -> None:
    assert load_dynamics({**GOOD_DYNAMICS, "AZURE_AUTHORITY_HOST": value}).authority_host == host


def test_authority_host_must_be_https() -> None:
    with pytest.raises(SettingsError, match="AZURE_AUTHORITY_HOST"):
        load_dynamics({**GOOD_DYNAMICS, "AZURE_AUTHORITY_HOST": "http://127.0.0.1:8443"})


def test_contacts_separated_by_semicolons_commas_and_spaces() -> None:
    valid, invalid = parse_addresses(" sales@contoso.com; ceo@contoso.com ,ops@contoso.com;; SALES@contoso.com ")
    assert valid == ["sales@contoso.com", "ceo@contoso.com", "ops@contoso.com"]
    assert invalid == []


def test_bad_contact_is_named() -> None:
    with pytest.raises(SettingsError) as caught:
        load_mail({"NOTIFY_TO": "sales@contoso.com;not-an-address;x@y", "NOTIFY_FROM": "leads@contoso.com"})
    assert "NOTIFY_TO" in str(caught.value)
    assert "'not-an-address'" in str(caught.value) and "'x@y'" in str(caught.value)


def test_mail_settings() -> None:
    mail = load_mail({"NOTIFY_TO": "a@contoso.com", "NOTIFY_FROM": "leads@contoso.com"})
    assert mail.enabled and mail.transport == "graph" and mail.graph_url == "https://graph.microsoft.com"
    assert not load_mail({}).enabled
    assert not load_mail({"NOTIFY_TO": "a@contoso.com", "MAIL_TRANSPORT": "none"}).enabled
    with pytest.raises(SettingsError, match="NOTIFY_FROM is not set"):
        load_mail({"NOTIFY_TO": "a@contoso.com"})
    with pytest.raises(SettingsError, match="SMTP_HOST"):
        load_mail({"NOTIFY_TO": "a@contoso.com", "NOTIFY_FROM": "l@contoso.com", "MAIL_TRANSPORT": "smtp"})
    with pytest.raises(SettingsError, match="SMTP_PORT"):
        load_mail({"SMTP_PORT": "70000"})
    with pytest.raises(SettingsError, match="MAIL_TRANSPORT"):
        load_mail({"MAIL_TRANSPORT": "pigeon"})


def test_reconcile_settings() -> None:
    assert load_reconcile({}).grace_minutes == 10
    with pytest.raises(SettingsError, match="RECONCILE_GRACE_MINUTES"):
        load_reconcile({"RECONCILE_GRACE_MINUTES": "0"})


def test_graph_mail_needs_the_sign_in_even_with_dynamics_off() -> None:
    mail = {"NOTIFY_TO": "a@contoso.com", "NOTIFY_FROM": "leads@contoso.com", "DYNAMICS_ENABLED": "false"}
    with pytest.raises(SettingsError) as caught:
        load_mail(mail)
    assert "AZURE_CLIENT_SECRET" in str(caught.value)
    assert "MAIL_TRANSPORT=graph" in str(caught.value)
    assert load_mail(mail | {"DYNAMICS_AUTH": "managed_identity"}).enabled
    assert load_mail(mail | {"MAIL_TRANSPORT": "smtp", "SMTP_HOST": "smtp.contoso.com"}).enabled
