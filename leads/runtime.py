"""The composition root: the process's settings and adapters, each created once, on first use, and the steps
wired to them.

A Functions worker process serves many invocations: keeping one table client, one queue client, one
HTTP session and one token cache per process means a burst of leads costs one token request and
reuses connections. Nothing heavy is imported or created at import: the settings (with the routing engine they
parse), the SDKs (storage, requests, MSAL) and the steps load with the first invocation that needs them, so the
worker indexes the functions quickly (`make bench` §3 measures it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import cache, wraps
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    import requests

    from leads import settings
    from leads.adapters.dataverse import Dataverse
    from leads.adapters.lead_queue import LeadQueue
    from leads.adapters.lead_table import LeadTable
    from leads.adapters.signin import TokenSource
    from leads.adapters.teams import TeamsWebhook
    from leads.core.payload import Lead
    from leads.steps.follow_table import TableFollower
    from leads.steps.ports import Mailer
    from leads.steps.processing import LeadProcessor
    from leads.steps.retention import Retention
    from leads.steps.returning import ReturningCustomers
    from leads.steps.routing import LeadRouter

log = logging.getLogger(__name__)
T = TypeVar("T")
_creating = threading.RLock()  # re-entrant: factories call each other


class _Once(Generic[T]):
    """A factory whose first result is kept for the process. Invocations run on several threads at once, and
    a cold start sends them in together: the lock makes them share one client (and one sign-in)."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._cached = cache(factory)
        wraps(factory)(self)

    def __call__(self) -> T:
        with _creating:
            return self._cached()

    def cache_clear(self) -> None:
        self._cached.cache_clear()


@_Once
def storage_settings() -> settings.StorageSettings:
    from leads import settings

    return settings.load_storage()


@_Once
def dynamics_settings() -> settings.DynamicsSettings:
    from leads import settings

    return settings.load_dynamics()


@_Once
def mail_settings() -> settings.MailSettings:
    from leads import settings

    return settings.load_mail()


@_Once
def reconcile_settings() -> settings.ReconcileSettings:
    from leads import settings

    return settings.load_reconcile()


@_Once
def routing_settings() -> settings.RoutingSettings:
    from leads import settings

    return settings.load_routing()


@_Once
def marketplace_table_settings() -> settings.MarketplaceTableSettings:
    from leads import settings

    return settings.load_marketplace_table()


@_Once
def lead_table() -> LeadTable:
    from leads.adapters.lead_table import LeadTable

    return LeadTable(storage_settings())


@_Once
def lead_queue() -> LeadQueue:
    from leads.adapters.lead_queue import LeadQueue

    return LeadQueue(storage_settings())


@_Once
def http_session() -> requests.Session:
    from leads.adapters.webapi import new_session

    return new_session()


@_Once
def mail_session() -> requests.Session:
    from leads.adapters.webapi import new_session, send_retry_rules

    return new_session(send_retry_rules())


@_Once
def tokens() -> TokenSource:
    """One token source (and so one token cache) for Dataverse and Graph alike."""
    from leads.adapters.signin import token_source

    return token_source(dynamics_settings())


@_Once
def dataverse() -> Dataverse:
    from leads.adapters.dataverse import Dataverse

    return Dataverse(dynamics_settings(), tokens(), http_session())


@_Once
def mailer() -> Mailer | None:
    from leads.adapters.mailers import new_mailer

    mail = mail_settings()
    return new_mailer(mail, tokens() if mail.enabled and mail.transport == "graph" else None, mail_session())


@_Once
def router() -> LeadRouter | None:
    """Routing rules and contact linking, with the process's cache of names resolved in Dynamics. A rules file
    with problems is reported here, once per process, and every lead says so: it is routed as if there were none,
    rather than held back."""
    from leads.settings import SettingsError
    from leads.steps.routing import LeadRouter

    try:
        routing = routing_settings()
    except SettingsError as exc:
        log.error("routing is off until the settings are fixed: %s", exc)
        return LeadRouter(None, False, dataverse, problem="; ".join(exc.problems))
    if routing.rules is None and not routing.link_contacts:
        return None
    return LeadRouter(routing.rules, routing.link_contacts, dataverse)


@_Once
def returning_customers() -> ReturningCustomers | None:
    """DYNAMICS_DUPLICATES attach or rules: a returning customer's event joins their open lead; None for create."""
    dynamics = dynamics_settings()
    if dynamics.duplicates == "create":
        return None
    from leads.steps.returning import ReturningCustomers

    def owner(lead: Lead) -> dict[str, str]:
        routing = router()
        return routing.returning_owner(lead) if routing is not None else {}

    return ReturningCustomers(dynamics.duplicates, dynamics.duplicates_days, dataverse, lead_table(), owner=owner)


@_Once
def processor() -> LeadProcessor:
    from leads.steps.processing import LeadProcessor

    return LeadProcessor(
        lead_table(), dynamics_settings, dataverse, mailer, router=router, teams=teams_channel,
        returning=returning_customers,
    )  # fmt: skip


def teams_channel(setting: str = "") -> TeamsWebhook | None:
    """The Teams channel whose webhook URL the app setting holds ("": TEAMS_WEBHOOK_URL); None when it is empty.
    One per setting for the process; a malformed URL raises SettingsError naming the setting."""
    from leads.settings.teams import DEFAULT_SETTING

    with _creating:
        return _teams_channel(setting or DEFAULT_SETTING)


@cache
def _teams_channel(setting: str) -> TeamsWebhook | None:
    from leads.adapters.teams import TeamsWebhook
    from leads.settings.teams import load_teams

    url = load_teams(setting=setting).webhook_url
    return TeamsWebhook(url, teams_session()) if url else None


@_Once
def teams_session() -> requests.Session:
    from leads.adapters import teams

    return teams.teams_session()


@_Once
def telemetry() -> bool:
    """The app's log records, with their fields, to Application Insights (leads/adapters/telemetry.py); in Azure
    only. Once per process, and not reset: OpenTelemetry's providers are set once per process."""
    import os

    from leads.adapters.telemetry import send_to_application_insights

    return send_to_application_insights(os.environ)


@_Once
def table_follower() -> TableFollower | None:
    """Following Microsoft's Azure Table destination; None while MARKETPLACE_TABLE is empty (the timer idles)."""
    source = marketplace_table_settings()
    if not source.followed:
        return None
    from leads.adapters.marketplace_table import MarketplaceTable
    from leads.steps.follow_table import TableFollower

    return TableFollower(MarketplaceTable(source, storage_settings()), lead_table(), lead_queue(), lead_table())


@_Once
def retention() -> Retention | None:
    """Removing done leads' personal data after LEAD_RETENTION_DAYS; None when it is 0 (the timer idles)."""
    from leads import settings

    days = settings.load_retention().days
    if not days:
        return None
    from leads.steps.retention import Retention

    return Retention(lead_table(), lead_table(), days)


def reset() -> None:
    """Forget everything created so far (settings are read again on next use)."""
    for cached in (storage_settings, dynamics_settings, mail_settings, reconcile_settings, routing_settings,
                   marketplace_table_settings, lead_table, lead_queue, http_session, mail_session, tokens, dataverse,
                   mailer, router, returning_customers, processor, table_follower, teams_session,
                   retention):  # fmt: skip
        cached.cache_clear()
    _teams_channel.cache_clear()
