"""`make run` and local.settings.json (devtools/local_settings.py): your values last across restarts, the stand-ins'
own values follow them, and a file of your own is used as it is, with a word on what the app will do."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from unittest import mock

from devtools import local_settings
from leads.__main__ import load_local_settings
from leads.settings import load_routing

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "local.settings.sample.json"


def standin_values(port: int) -> dict[str, str]:
    """What the stand-ins write to standins.json (the parts that matter here), on ports of this run."""
    return {
        "DYNAMICS_URL": f"http://127.0.0.1:{port}",
        "AZURE_CLIENT_SECRET": f"test-secret-{port}",
        "LOOPBACK_CA_FILE": "/work/.local/standins/ca.pem",
        "SMTP_PORT": str(port + 1),
        "STANDIN_DATAVERSE_CONTROL": f"http://127.0.0.1:{port}/_standin",
        "STANDIN_TEAMS_WEBHOOK_URL": f"http://127.0.0.1:{port + 2}/workflows/x?sig=test",
    }


def values(path: Path) -> dict[str, str]:
    found: dict[str, str] = json.loads(path.read_text())["Values"]
    return found


def test_your_values_last_across_restarts_while_the_standins_move(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    assert local_settings.uses_standins(path)
    assert local_settings.write_standin_settings(path, SAMPLE, standin_values(5000)) == []
    first = values(path)
    assert first[local_settings.MARK] == "true" and first["DYNAMICS_URL"] == "http://127.0.0.1:5000"
    assert first["DYNAMICS_ENABLED"] == "true" and first["MAIL_TRANSPORT"] == "smtp"
    assert first["TEAMS_WEBHOOK_URL"].startswith("http://127.0.0.1:5002/")
    assert not any(name.startswith("STANDIN_") for name in first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # test secrets

    document = json.loads(path.read_text())
    document["Values"] |= {"LEAD_ROUTING_FILE": "routing.example.toml", "NOTIFY_TO": "me@contoso.example"}
    path.write_text(json.dumps(document))
    kept = local_settings.write_standin_settings(path, SAMPLE, standin_values(6000))  # the next `make run`
    assert kept == ["LEAD_ROUTING_FILE", "NOTIFY_TO"]
    second = values(path)
    assert second["LEAD_ROUTING_FILE"] == "routing.example.toml" and second["NOTIFY_TO"] == "me@contoso.example"
    assert second["DYNAMICS_URL"] == "http://127.0.0.1:6000" and second["AZURE_CLIENT_SECRET"] == "test-secret-6000"
    assert local_settings.uses_standins(path)

    # The command line reads the same file: what you set there is what `check` and `route` see.
    with mock.patch.dict(os.environ, clear=False):
        os.environ.pop("LEAD_ROUTING_FILE", None)
        load_local_settings(path)
        assert load_routing().file == ROOT / "routing.example.toml"


def test_the_standins_ca_no_longer_replaces_the_machines(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    old = json.loads(SAMPLE.read_text())
    old["Values"] |= {local_settings.MARK: "true", "REQUESTS_CA_BUNDLE": "/work/.local/standins/ca.pem"}
    path.write_text(json.dumps(old))
    local_settings.write_standin_settings(path, SAMPLE, standin_values(5000))
    assert "REQUESTS_CA_BUNDLE" not in values(path)
    assert values(path)["LOOPBACK_CA_FILE"] == "/work/.local/standins/ca.pem"


def test_a_file_of_your_own_is_used_as_it_is_with_a_word_on_what_that_means(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(SAMPLE.read_text())  # README's Core Tools path: a copy of the sample, not yet filled in
    assert not local_settings.uses_standins(path)
    said = "\n".join(local_settings.describe_own_settings(path, environ={}))
    assert "no stand-ins" in said
    assert "Dynamics 365: off (DYNAMICS_ENABLED=false): leads are stored and kept `held`" in said
    assert "mail: none" in said
    assert f'delete local.settings.json, or add "{local_settings.MARK}": "true"' in said
    document = json.loads(path.read_text())
    document["Values"] |= {"DYNAMICS_ENABLED": "true", "DYNAMICS_URL": "https://contoso.crm4.dynamics.com"}
    path.write_text(json.dumps(document))
    said = "\n".join(local_settings.describe_own_settings(path, environ={}))
    assert "leads will fail until these are fixed: AZURE_TENANT_ID is not set" in said
