"""What every section runs against: one Azurite and the Entra ID/Dataverse/Graph stand-ins, started once per run,
and the app settings pointing at them (the same wiring as tests/conftest.py)."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

from devtools.azurite import ACCOUNT, ACCOUNT_KEY, Azurite
from devtools.standins import Ports, StandIns, TokenRequest, start_all
from leads import runtime
from leads.core.payload import parse_lead
from tests.leadsamples import marketplace_lead

ROOT = Path(__file__).resolve().parent.parent
# git-ignored: Azurite's data, stand-in state, host logs (BENCH_WORK moves it, e.g. for a test of the bench itself)
WORK = Path(os.environ.get("BENCH_WORK") or ROOT / "bench" / ".work")
NEVER = "0 0 0 1 1 *"  # the reconciliation timer: midnight on 1 January only, i.e. not during a run
NOTIFY_TO = "sales@contoso.example; ceo@contoso.example"


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the report."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BenchLead:
    lead_id: str
    body: bytes


class LeadFactory:
    """Marketplace payloads no one has sent before in this run (distinct lead ids)."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self._next = 0

    def make(self, count: int) -> list[BenchLead]:
        leads = []
        for _ in range(count):
            n = self._next
            self._next += 1
            document = marketplace_lead(
                UserDetails={
                    "FirstName": "Ada",
                    "LastName": f"Lovelace {n}",
                    "Email": f"ada.{self.tag}.{n}@contoso.example",
                    "Phone": "+44 20 7946 0000",
                    "Country": "United Kingdom",
                    "Company": "Contoso Ltd",
                    "Title": "CTO",
                },
                Description=f"Please contact me about pricing (bench {self.tag} #{n})",
            )
            leads.append(BenchLead(parse_lead(document).lead_id, json.dumps(document).encode()))
        return leads


@dataclass
class Stack:
    azurite: Azurite
    standins: StandIns

    @classmethod
    @contextmanager
    def running(cls, work: Path) -> Iterator[Stack]:
        azurite = Azurite(work / "azurite").start()
        try:
            pid = azurite.process.pid if azurite.process else "?"
            progress(f"Azurite (pid {pid}) on ports {azurite.table_port} (table), {azurite.queue_port} (queue)")
            # user_realm=None: no listener on port 443 (only the username/password sign-in needs it).
            with start_all(work / "standins", ports=Ports(user_realm=None)) as standins:
                yield cls(azurite, standins)
        finally:
            azurite.stop()

    def connection_string(self, *, queue_port: int | None = None, table_port: int | None = None) -> str:
        """Azurite's connection string, optionally with the queue and table endpoints moved (to a proxy)."""
        base = "http://127.0.0.1:{}/" + ACCOUNT
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={base.format(self.azurite.blob_port)};"
            f"QueueEndpoint={base.format(queue_port or self.azurite.queue_port)};"
            f"TableEndpoint={base.format(table_port or self.azurite.table_port)};"
        )

    def settings(self, table: str, queue: str, connection_string: str | None = None) -> dict[str, str]:
        """Every setting the app reads: Azurite, the stand-ins, client-secret sign-in and Graph mail."""
        values = {name: value for name, value in self.standins.settings.items() if not name.startswith("STANDIN_")}
        return values | {
            "AzureWebJobsStorage": connection_string or self.connection_string(),
            "LEADS_TABLE": table,
            "LEADS_QUEUE": queue,
            "DYNAMICS_AUTH": "client_secret",
            "NOTIFY_TO": NOTIFY_TO,
            "MAIL_TRANSPORT": "graph",
            "RECONCILE_SCHEDULE": NEVER,
        }

    def resource(self, token: TokenRequest) -> str:
        """Which stand-in a token was for: Dataverse, Graph (or its audience as requested)."""
        if token.audience in self.standins.dataverse.audiences:
            return "Dataverse"
        if token.audience in self.standins.graph.audiences:
            return "Graph"
        return token.audience or token.scope

    def token_scopes(self) -> Counter[str]:
        """Tokens issued since the stand-ins' last reset, per resource."""
        return Counter(self.resource(t) for t in self.standins.entra.token_requests if t.error is None)

    @staticmethod
    def use(settings: dict[str, str]) -> None:
        """Point this process's app at ``settings`` and forget its cached adapters: like a fresh worker."""
        os.environ.update(settings)
        runtime.reset()

    @staticmethod
    def fresh_names() -> tuple[str, str]:
        suffix = uuid.uuid4().hex[:12]
        return f"bench{suffix}", f"bench-{suffix}"

    def table_client(self, table: str) -> TableClient:
        return TableClient.from_connection_string(self.connection_string(), table)

    def queue_client(self, queue: str) -> QueueClient:
        return QueueClient.from_connection_string(self.connection_string(), queue)

    def create(self, table: str, queue: str) -> None:
        """Outside any timing: the app creates them on first use, once per storage account."""
        with suppress(ResourceExistsError):
            self.table_client(table).create_table()
        with suppress(ResourceExistsError):
            self.queue_client(queue).create_queue()

    def delete(self, table: str, queue: str) -> None:
        """Keeps Azurite's database small, so later rounds are not slowed by earlier ones."""
        self.table_client(table).delete_table()
        for name in (queue, f"{queue}-poison"):
            with suppress(ResourceNotFoundError):
                self.queue_client(name).delete_queue()

    def entities(self, table: str, *select: str) -> dict[str, dict[str, Any]]:
        """Every entity of the table by RowKey (the lead id), with only the selected properties."""
        client = self.table_client(table)
        columns = ["RowKey", *select]
        return {entity["RowKey"]: dict(entity) for entity in client.list_entities(select=columns)}

    def message_count(self, queue: str) -> int:
        """Visible and invisible messages alike (Azure's approximate count; exact on Azurite)."""
        try:
            return int(self.queue_client(queue).get_queue_properties().approximate_message_count or 0)
        except ResourceNotFoundError:
            return 0
