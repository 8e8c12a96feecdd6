"""Shared fixtures: a real Azurite for the session, and fresh table/queue names for each test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.azurite import Azurite
from leads import runtime
from leads.settings import StorageSettings, load_storage


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    emulator = Azurite(tmp_path_factory.mktemp("azurite")).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def storage_env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[StorageSettings]:
    """Point the app at Azurite, with a table and queue of this test's own."""
    suffix = uuid.uuid4().hex[:10]
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("LEADS_TABLE", f"leads{suffix}")
    monkeypatch.setenv("LEADS_QUEUE", f"leads-{suffix}")
    runtime.reset()
    yield load_storage()
    runtime.reset()


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
