"""The process's settings and adapters, each created once, on first use.

A Functions worker process serves many invocations: keeping one table client, one queue client, one
HTTP session and one token cache per process means a burst of leads costs one token request and
reuses connections. Nothing heavy is imported or created at import: the SDKs (storage, requests, MSAL)
load with the first invocation that needs them, so the worker indexes the functions quickly.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from leads import settings

if TYPE_CHECKING:
    import requests

    from leads.dataverse import Dataverse
    from leads.identity import TokenSource
    from leads.mail import Mailer
    from leads.processing import Pipeline
    from leads.queue import LeadQueue
    from leads.table import LeadTable


@cache
def storage_settings() -> settings.StorageSettings:
    return settings.load_storage()


@cache
def dynamics_settings() -> settings.DynamicsSettings:
    return settings.load_dynamics()


@cache
def mail_settings() -> settings.MailSettings:
    return settings.load_mail()


@cache
def reconcile_settings() -> settings.ReconcileSettings:
    return settings.load_reconcile()


@cache
def lead_table() -> LeadTable:
    from leads.table import LeadTable

    return LeadTable(storage_settings())


@cache
def lead_queue() -> LeadQueue:
    from leads.queue import LeadQueue

    return LeadQueue(storage_settings())


@cache
def http_session() -> requests.Session:
    from leads.http import new_session

    return new_session()


@cache
def tokens() -> TokenSource:
    """One token source (and so one token cache) for Dataverse and Graph alike."""
    from leads.identity import token_source

    return token_source(dynamics_settings())


@cache
def dataverse() -> Dataverse:
    from leads.dataverse import Dataverse

    return Dataverse(dynamics_settings(), tokens(), http_session())


@cache
def mailer() -> Mailer | None:
    from leads.mail import new_mailer

    mail = mail_settings()
    return new_mailer(mail, tokens() if mail.enabled and mail.transport == "graph" else None, http_session())


@cache
def pipeline() -> Pipeline:
    from leads.processing import Pipeline

    return Pipeline(lead_table(), dynamics_settings, dataverse, mailer)


def reset() -> None:
    """Forget everything created so far (settings are read again on next use)."""
    for cached in (storage_settings, dynamics_settings, mail_settings, reconcile_settings, lead_table, lead_queue,
                   http_session, tokens, dataverse, mailer, pipeline):  # fmt: skip
        cached.cache_clear()
