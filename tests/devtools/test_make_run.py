"""`make run` itself, as a newcomer uses it: it serves a lead end to end, then shuts down cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import certifi
import pytest

from devtools.azurite import DEFAULT_PORTS, port_open
from devtools.run import APP_PORT
from leads.settings import SETTINGS


def copy_project(source: Path, target: Path) -> None:
    """The files git would check out (tracked and not ignored), as a fresh clone has them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for name in listed:
        if (source / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target / name)
    # Reuse the installed tools rather than installing them again.
    (target / "node_modules").symlink_to(source / "node_modules")


def run_leads(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leads", *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_make_run_serves_a_lead_end_to_end_and_stops_cleanly(project_root: Path, tmp_path: Path) -> None:
    busy = [port for port in (APP_PORT, *DEFAULT_PORTS) if port_open(port)]
    assert not busy, f"ports {busy} are in use: stop the running app or Azurite before running this test"
    project = tmp_path / "project"
    copy_project(project_root, project)
    # A newcomer's shell: none of the app's settings (they come from local.settings.json) and no pytest state.
    env = {name: value for name, value in os.environ.items()
           if name not in SETTINGS and not name.startswith(("PYTEST", "AzureWebJobs"))}  # fmt: skip
    log_path = tmp_path / "make-run.log"
    with log_path.open("w") as log:
        make = subprocess.Popen(
            # -o: the copy shares node_modules with this checkout; never let make reinstall it (npm ci would empty it).
            ["make", "-o", "node_modules/.installed", "run", f"VENV={project_root / '.venv'}"],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "The lead endpoint is up" not in log_path.read_text():
            assert make.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        output = log_path.read_text()
        assert "curl -i -X POST http://127.0.0.1:7071/api/leads" in output
        assert (project / "local.settings.json").exists()

        sent = run_leads(project, "send-test-lead", "--wait", "60", env=env)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "✓ 202" in sent.stdout
        assert "in Dynamics as" in sent.stdout
        assert "contacts notified" in sent.stdout
        assert "is done" in sent.stdout

        status = run_leads(project, "status", env=env)
        assert "1 lead(s) · done 1" in status.stdout

        # A machine with a corporate CA bundle set globally (this one sets it): no prefix needed, the stand-ins' CA is
        # trusted beside it (LOOPBACK_CA_FILE in local.settings.json).
        corporate = env | {"REQUESTS_CA_BUNDLE": certifi.where(), "SSL_CERT_FILE": certifi.where()}
        checked = run_leads(project, "check", env=corporate)
        assert checked.returncode == 0, checked.stdout
        assert "all checks passed" in checked.stdout

        wrong = run_leads(project, "check", env=corporate | {"AZURE_CLIENT_SECRET": "x"})
        assert wrong.returncode == 1
        assert "AZURE_CLIENT_SECRET is wrong" in wrong.stdout
    finally:
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
        code = make.wait(timeout=60)
    output = log_path.read_text()
    assert code in (0, -signal.SIGINT), output  # make itself ends by the interrupt it was sent
    assert "stopped everything `make run` started" in output
    assert not [port for port in (APP_PORT, *DEFAULT_PORTS) if port_open(port)]
