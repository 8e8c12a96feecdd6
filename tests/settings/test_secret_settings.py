"""Settings objects never show a secret in repr() (which tracebacks with locals, debuggers and log lines print)."""

from __future__ import annotations

from leads.settings import load_dynamics, load_mail, load_marketplace_table, load_storage
from leads.settings.teams import load_teams

ACCOUNT_KEY = "QWNjb3VudEtleVNlY3JldA=="
CONNECTION = (
    f"DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net"
)
SIGNATURE = "SIGNATURESECRET"
WEBHOOK = (
    "https://default0a.1b.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/0a/triggers/"
    f"manual/paths/invoke?api-version=1&sv=1.0&sig={SIGNATURE}"
)


def test_no_settings_object_shows_a_secret_in_its_repr() -> None:
    dynamics = load_dynamics(
        {"DYNAMICS_URL": "contoso.crm.dynamics.com", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c",
         "AZURE_CLIENT_SECRET": "CLIENTSECRET", "DYNAMICS_USERNAME": "u@contoso.example",
         "DYNAMICS_PASSWORD": "USERPASSWORD"}
    )  # fmt: skip
    storage = load_storage({"AzureWebJobsStorage": CONNECTION})
    shown: list[object] = [
        dynamics,
        storage,
        load_mail(
            {"NOTIFY_TO": "a@contoso.example", "NOTIFY_FROM": "l@contoso.example", "MAIL_TRANSPORT": "smtp",
             "SMTP_HOST": "smtp.contoso.example", "SMTP_USERNAME": "l", "SMTP_PASSWORD": "SMTPPASSWORD"}
        ),
        load_marketplace_table({"MARKETPLACE_TABLE": "MarketplaceLeads", "MARKETPLACE_TABLE_CONNECTION": CONNECTION}),
        load_teams({"TEAMS_WEBHOOK_URL": WEBHOOK}),
    ]  # fmt: skip
    text = "\n".join(repr(settings) + str(settings) for settings in shown)
    for secret in ("CLIENTSECRET", "USERPASSWORD", "SMTPPASSWORD", ACCOUNT_KEY, SIGNATURE):
        assert secret not in text
    assert "contoso.crm.dynamics.com" in text and "smtp.contoso.example" in text  # the rest is still shown
    assert dynamics.client_secret == "CLIENTSECRET" and storage.connection_string == CONNECTION  # and still there
