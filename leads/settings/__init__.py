"""Settings, read once from the environment into typed objects.

Each section loads on its own, so a mistake in the Dynamics or mail settings never stops leads from
being received and stored. Every problem names the setting and says how to fix it.
"""

from leads.settings import local_file
from leads.settings.catalogue import SETTINGS
from leads.settings.dynamics import (
    DEFAULT_AUTHORITY_HOST,
    AuthMode,
    DynamicsSettings,
    load_dynamics,
    normalise_authority_host,
    normalise_dynamics_url,
)
from leads.settings.mail import DEFAULT_GRAPH_URL, MailSettings, MailTransport, load_mail
from leads.settings.marketplace_table import DEFAULT_TABLE, MarketplaceTableSettings, load_marketplace_table
from leads.settings.reader import SettingsError
from leads.settings.reconcile import ReconcileSettings, load_reconcile
from leads.settings.retention import RetentionSettings, load_retention
from leads.settings.routing import RoutingSettings, load_routing
from leads.settings.storage import StorageSettings, load_storage

__all__ = [
    "DEFAULT_AUTHORITY_HOST",
    "DEFAULT_GRAPH_URL",
    "DEFAULT_TABLE",
    "SETTINGS",
    "AuthMode",
    "DynamicsSettings",
    "MailSettings",
    "MailTransport",
    "MarketplaceTableSettings",
    "ReconcileSettings",
    "RetentionSettings",
    "RoutingSettings",
    "SettingsError",
    "StorageSettings",
    "load_dynamics",
    "load_mail",
    "load_marketplace_table",
    "load_reconcile",
    "load_retention",
    "load_routing",
    "load_storage",
    "local_file",
    "normalise_authority_host",
    "normalise_dynamics_url",
]
