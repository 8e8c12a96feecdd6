"""Every command answers in words: with storage that cannot be reached, with odd arguments, unreadable files and a
closed pipe, the real command line (a fresh process, as an operator runs it) prints a sentence and an exit code
(leads/ops/failures.py), never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from leads import runtime
from leads.core import clock, lead_row
from leads.core.payload import parse_lead
from leads.ops import failures
from leads.settings import SETTINGS, StorageSettings
from tests.leadsamples import marketplace_lead

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "tests" / "fixtures" / "partner-center-export.csv"
# Azurite's account, at a port where nothing listens.
UNREACHABLE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
    "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;"
)
STORAGE_DOWN = "storage could not be reached"
LEAD_ID = "0123456789abcdef0123456789abcdef"


def command_env(**settings: str) -> dict[str, str]:
    """An operator's shell: none of the app's settings but those given (no settings file in the folder either)."""
    env = {name: value for name, value in os.environ.items() if name not in SETTINGS and not name.startswith("PYTEST")}
    return env | {"PYTHONPATH": str(ROOT)} | settings


def leads(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "leads", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def files(folder: Path) -> dict[str, str]:
    (folder / "a-folder").mkdir()
    (folder / "lead.json").write_text(json.dumps(marketplace_lead()), encoding="utf-8")
    (folder / "broken.settings.json").write_text("{not json", encoding="utf-8")
    return {"folder": str(folder / "a-folder"), "lead": str(folder / "lead.json"),
            "broken": str(folder / "broken.settings.json"), "export": str(EXPORT)}  # fmt: skip


# (arguments, exit code, words the answer holds); {name} is one of the files above.
WITH_STORAGE_DOWN = [
    (["status"], failures.UNREACHABLE, STORAGE_DOWN),
    (["status", "--json"], failures.UNREACHABLE, STORAGE_DOWN),
    (["status", "--since", "yesterday"], failures.UNREACHABLE, STORAGE_DOWN),
    (["status", "--since", "1w", "--status", "failed"], failures.UNREACHABLE, STORAGE_DOWN),
    (["replay", "--failed"], failures.UNREACHABLE, STORAGE_DOWN),
    (["replay", "--held"], failures.UNREACHABLE, STORAGE_DOWN),
    (["replay", LEAD_ID], failures.UNREACHABLE, STORAGE_DOWN),
    (["import", "{export}"], failures.UNREACHABLE, STORAGE_DOWN),
    (["import", "{export}", "--apply"], failures.UNREACHABLE, STORAGE_DOWN),
    (["check"], 1, "✗ storage: unreachable"),
    (["send-test-lead", "--url", "http://127.0.0.1:9/api/leads", "--wait", "1"], failures.UNREACHABLE,
     "the endpoint did not answer"),
    (["route", "{lead}"], failures.OK, "rule: none matched"),
]  # fmt: skip
ODD_ARGUMENTS = [
    (["status", "--since", "2026-13-45"], failures.UNUSABLE, "is not a time: give 30m, 12h, 7d, 1w, today"),
    (["status", "--since", "a fortnight"], failures.UNUSABLE, "is not a time"),
    (["status", "--since", "99999999999d"], failures.UNUSABLE, "is not a time"),
    (["status", "--limit", "-5"], failures.UNUSABLE, "not a whole number of 1 or more"),
    (["status", "--status", "lost"], failures.UNUSABLE, "invalid choice"),
    (["replay"], failures.UNUSABLE, "replay needs lead ids, --failed or --held"),
    (["replay", "../../etc"], failures.ATTENTION, "not a lead id"),
    (["import"], failures.UNUSABLE, "import needs a FILE or --from-table"),
    (["import", "{export}", "--from-table"], failures.UNUSABLE, "import needs a FILE or --from-table"),
    (["import", "/nonexistent/export.csv"], failures.UNUSABLE, "no such file"),
    (["import", "{folder}"], failures.UNUSABLE, "a folder, not a file"),
    (["import", "{export}", "--since", "last spring"], failures.UNUSABLE, "give a date"),
    (["import", "{export}", "--column", "nonsense"], failures.UNUSABLE, "cannot import"),
    (["send-test-lead", "--url", "127.0.0.1:7071"], failures.UNUSABLE, "is not an endpoint URL"),
    (["send-test-lead", "--wait", "soon"], failures.UNUSABLE, "is not a number of seconds"),
    (["--settings", "/nonexistent/local.settings.json", "status"], failures.UNUSABLE, "no such file"),
    (["--settings", "{broken}", "status"], failures.UNUSABLE, "cannot be read"),
    (["route", "/nonexistent/lead.json"], failures.UNUSABLE, "lead.json"),
    (["nonsense"], failures.UNUSABLE, "invalid choice"),
]


def test_every_command_answers_in_words_without_a_traceback(tmp_path: Path) -> None:
    named = files(tmp_path)
    down = command_env(AzureWebJobsStorage=UNREACHABLE)
    cases = [(args, code, words, down) for args, code, words in WITH_STORAGE_DOWN + ODD_ARGUMENTS]
    cases.append(
        (["status"], failures.UNUSABLE, "AzureWebJobsStorage cannot be used", command_env(AzureWebJobsStorage="a=b"))
    )
    cases.append((["status"], failures.UNUSABLE, "AzureWebJobsStorage is not set", command_env()))

    def answer(case: tuple[list[str], int, str, dict[str, str]]) -> str | None:
        args, code, words, env = case
        args = [arg.format(**named) for arg in args]
        done = leads(args, tmp_path, env)
        text = done.stdout + done.stderr
        if "Traceback" in text or done.returncode != code or words not in text:
            return f"python -m leads {' '.join(args)} → exit {done.returncode} (expected {code}, {words!r}):\n{text}"
        return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        wrong = [problem for problem in pool.map(answer, cases) if problem]
    assert not wrong, "\n\n".join(wrong)


def test_a_closed_pipe_ends_status_quietly(storage_env: StorageSettings, tmp_path: Path) -> None:
    for n in range(30):
        lead = parse_lead(marketplace_lead(Description=f"lead {n}"))
        runtime.lead_table().insert(lead_row.new_entity(lead, clock.now()))
    env = command_env(**{name: value for name, value in os.environ.items() if name in SETTINGS})
    for args in (["status", "--json"], ["status"]):
        reader_gone = subprocess.Popen([sys.executable, "-m", "leads", *args], cwd=tmp_path, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        assert reader_gone.stdout is not None and reader_gone.stderr is not None
        reader_gone.stdout.close()  # as `| head` does once it has its lines
        errors = reader_gone.stderr.read().decode()
        assert reader_gone.wait(timeout=120) == failures.CLOSED_PIPE, errors
        assert errors == ""  # no traceback, not even Python's "Exception ignored" at exit
    assert leads(["status"], tmp_path, env).stdout.startswith("30 lead(s)")


def test_exit_codes_are_in_every_help(tmp_path: Path) -> None:
    env = command_env()
    for command in ([], ["check"], ["route"], ["send-test-lead"], ["status"], ["replay"]):
        shown = leads([*command, "--help"], tmp_path, env).stdout
        assert failures.EXIT_CODES in shown, command
    assert "some rows are unusable" in leads(["import", "--help"], tmp_path, env).stdout


def test_serve_starts_the_development_host_from_a_clone_and_explains_itself_where_it_is_not(tmp_path: Path) -> None:
    assert "usage: python -m devtools.host" in leads(["serve", "--help"], ROOT, command_env()).stdout
    deployed = tmp_path / "deployed"  # what the package holds: leads/ and no devtools/ (.funcignore)
    shutil.copytree(ROOT / "leads", deployed / "leads", ignore=shutil.ignore_patterns("__pycache__"))
    done = leads(["serve"], deployed, {**command_env(), "PYTHONPATH": str(deployed)})
    assert done.returncode == failures.UNUSABLE
    assert "not of the deployed app" in done.stderr and "python -m devtools.host" in done.stderr


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        (
            RuntimeError("https://contoso.example/hook?sig=secret"),
            failures.ATTENTION,
            "unexpected error (RuntimeError)",
        ),
        (PermissionError(13, "Permission denied", "/etc/shadow"), failures.UNUSABLE, "/etc/shadow: Permission denied"),
    ],
)
def test_unexpected_errors_are_named_without_their_text(error: Exception, code: int, words: str) -> None:
    message, exit_code = failures.in_words(error)
    assert exit_code == code and words in message
    assert "sig=" not in message
