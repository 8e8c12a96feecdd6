"""The process's settings and adapters, each created once, on first use.

A Functions worker process serves many invocations: keeping one table client, one queue client, one
HTTP session and one token cache per process means a burst of leads costs one token request and
reuses connections. Nothing heavy is created at import, so cold starts stay short.
"""

from __future__ import annotations

from functools import cache

import requests

from leads.dataverse import Dataverse
from leads.http import new_session
from leads.identity import TokenSource, token_source
from leads.mail import Mailer, new_mailer
from leads.processing import Pipeline
from leads.queue import LeadQueue
from leads.settings import (
    DynamicsSettings,
    MailSettings,
    ReconcileSettings,
    StorageSettings,
    load_dynamics,
    load_mail,
    load_reconcile,
    load_storage,
)
from leads.table import LeadTable


@cache
def storage_settings() -> StorageSettings:
    return load_storage()


@cache
def dynamics_settings() -> DynamicsSettings:
    return load_dynamics()


@cache
def mail_settings() -> MailSettings:
    return load_mail()


@cache
def reconcile_settings() -> ReconcileSettings:
    return load_reconcile()


@cache
def lead_table() -> LeadTable:
    return LeadTable(storage_settings())


@cache
def lead_queue() -> LeadQueue:
    return LeadQueue(storage_settings())


@cache
def http_session() -> requests.Session:
    return new_session()


@cache
def tokens() -> TokenSource:
    """One token source (and so one token cache) for Dataverse and Graph alike."""
    return token_source(dynamics_settings())


@cache
def dataverse() -> Dataverse:
    return Dataverse(dynamics_settings(), tokens(), http_session())


@cache
def mailer() -> Mailer | None:
    mail = mail_settings()
    return new_mailer(mail, tokens() if mail.enabled and mail.transport == "graph" else None, http_session())


@cache
def pipeline() -> Pipeline:
    return Pipeline(lead_table(), dynamics_settings, dataverse, mailer)


def reset() -> None:
    """Forget everything created so far (settings are read again on next use)."""
    for cached in (
        storage_settings,
        dynamics_settings,
        mail_settings,
        reconcile_settings,
        lead_table,
        lead_queue,
        http_session,
        tokens,
        dataverse,
        mailer,
        pipeline,
    ):
        cached.cache_clear()
