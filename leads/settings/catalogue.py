"""Every setting the app reads, with what it is: the README's table and infra's drift test use it."""

from __future__ import annotations

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
    "SMTP_STARTTLS": "`true` (default) upgrades the SMTP connection with STARTTLS; `false` only for a server on "
    "this machine (or port 465, TLS from the start).",
    "LEAD_ROUTING_FILE": "Routing rules file (TOML), relative to the app's folder: owner, campaign, recipients and "
    "columns per offer. Empty: no routing.",
    "DYNAMICS_LINK_CONTACTS": "`true` links each lead to the one active contact with its email address (default "
    "`false`).",
    "DYNAMICS_DUPLICATES": "A lead from someone who already has an open lead in Dynamics: `create` (default) a new "
    "lead anyway, `attach` the event to their open lead as a note, or `rules`: the organisation's duplicate detection "
    "rules decide (a duplicate gets the note).",
    "DYNAMICS_DUPLICATES_DAYS": "With `attach`: how recent (created within this many days, default 90) the open lead "
    "must be.",
    "TEAMS_WEBHOOK_URL": "Teams Workflows webhook URL of the sales channel (a secret: it carries a signature). "
    "Empty: no Teams card.",
    "LOOPBACK_CA_FILE": "A CA certificate file trusted, in addition to the usual bundle (`REQUESTS_CA_BUNDLE`), for "
    "HTTPS to 127.0.0.1, localhost and ::1 only: `make run` sets it to its stand-ins' test CA. Not for Azure.",
    "RECONCILE_SCHEDULE": "Six-field CRON schedule of the reconciliation timer (default every 5 minutes).",
    "RECONCILE_GRACE_MINUTES": "Leads still `received` after this many minutes are re-enqueued (default 10).",
    "LEAD_RETENTION_DAYS": "Days after a lead is done before its row loses the customer's personal data (default 90; "
    "0: kept). Received, held and failed leads keep theirs.",
    "MARKETPLACE_TABLE": "Microsoft's Azure Table destination to follow (e.g. `MarketplaceLeads`): a timer imports "
    "its new rows. Empty (default): not followed.",
    "MARKETPLACE_TABLE_CONNECTION": "Connection string of the storage account holding that table (the one given "
    "to Partner Center).",
    "MARKETPLACE_TABLE_ENDPOINT": "Or its table endpoint (`https://<account>.table.core.windows.net`), read with "
    "the app's identity (Storage Table Data Reader).",
}
