"""Shared fixtures: a real Azurite for the session, and fresh table/queue names for each test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.azurite import Azurite
from devtools.standins import StandIns, start_all
from leads import runtime
from leads.settings import StorageSettings, load_storage


@pytest.fixture(autouse=True)
def environment_left_as_found() -> Iterator[None]:
    """A test that leaks environment variables (the command line and the host load settings files into the
    process environment) would change what later tests see: fail it instead."""
    before = dict(os.environ)
    yield
    names = (set(before) | set(os.environ)) - {"PYTEST_CURRENT_TEST"}  # pytest's own, changed per phase
    leaked = {name for name in names if before.get(name) != os.environ.get(name)}
    assert not leaked, f"the test changed environment variables without restoring them: {sorted(leaked)}"


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


@pytest.fixture(scope="session")
def standins_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIns]:
    """Entra ID, Dataverse, Graph and SMTP stand-ins over real loopback sockets, for the whole run."""
    with start_all(tmp_path_factory.mktemp("standins")) as running:
        yield running


@pytest.fixture
def standins(standins_session: StandIns) -> Iterator[StandIns]:
    standins_session.reset()
    yield standins_session
    standins_session.reset()


@pytest.fixture
def app_env(
    storage_env: StorageSettings, standins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """Every setting the app reads, pointing at Azurite and the stand-ins (client secret sign-in, Graph mail)."""
    env = {name: value for name, value in standins.settings.items() if not name.startswith("STANDIN_")}
    env |= {
        "DYNAMICS_AUTH": "client_secret",
        "NOTIFY_TO": "sales@contoso.example; ceo@contoso.example",
        "MAIL_TRANSPORT": "graph",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    yield env
    runtime.reset()
