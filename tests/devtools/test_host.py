"""The local development host (devtools/host) against the fixture apps in tests/devtools/hostapps and a real Azurite."""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueMessage, TextBase64EncodePolicy

from devtools import host
from devtools.azurite import Azurite, free_port
from devtools.host import (
    CronSchedule,
    HostError,
    LocalHost,
    QueueOptions,
    decode_message,
    find_settings_file,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "hostapps"


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        time.sleep(interval)


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@contextmanager
def running(app: str | Path, **options: Any) -> Iterator[LocalHost]:
    local = LocalHost(APPS / app if isinstance(app, str) else app, port=0, **options).start()
    try:
        yield local
    finally:
        local.stop(timeout=10)


def write_app(directory: Path, source: str, host_json: dict[str, Any] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "function_app.py").write_text(source, encoding="utf-8")
    (directory / "host.json").write_text(json.dumps(host_json or {"version": "2.0"}), encoding="utf-8")
    return directory


def queue_host_json(tmp_path: Path, **queues: Any) -> Path:
    settings = {"batchSize": 4, "newBatchThreshold": 2, "maxDequeueCount": 3, "visibilityTimeout": "00:00:01"}
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"version": "2.0", "extensions": {"queues": settings | queues}}), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------------------------
# Timer schedules (no Azurite)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 */5 * * * *", "2024-03-08T12:03:10", "2024-03-08T12:05:00"),
        ("0 */5 * * * *", "2024-03-08T12:05:00", "2024-03-08T12:10:00"),  # strictly after
        ("*/15 * * * * *", "2024-03-08T12:00:14", "2024-03-08T12:00:15"),
        ("5/20 * * * * *", "2024-03-08T12:00:26", "2024-03-08T12:00:45"),  # a/n means a-max/n
        ("0 30 9 * * 1-5", "2024-03-08T10:00:00", "2024-03-11T09:30:00"),  # Friday → Monday
        ("0 0 12 * * Sun", "2024-03-08T10:00:00", "2024-03-10T12:00:00"),
        ("0 0 0 1 Jan,7 *", "2024-03-08T10:00:00", "2024-07-01T00:00:00"),
        ("0 0 0 13 * 5", "2024-01-01T00:00:00", "2024-09-13T00:00:00"),  # day AND weekday: Friday the 13th
        ("0 0 0 29 2 *", "2024-03-01T00:00:00", "2028-02-29T00:00:00"),
        ("0 15-45/15 8 * * *", "2024-03-08T08:20:00", "2024-03-08T08:30:00"),
        ("0 59 23 31 12 *", "2024-12-31T23:59:00", "2025-12-31T23:59:00"),
        ("*/5 * * * *", "2024-03-08T12:03:10", "2024-03-08T12:05:00"),  # five fields: seconds = 0
    ],
)
def test_cron_next_occurrence(expression: str, after: str, expected: str) -> None:
    assert CronSchedule(expression).next_after(at(after)) == at(expected)


def test_cron_fields_are_parsed_like_ncrontab() -> None:
    schedule = CronSchedule("0,30 1-3 */6 1,15 Jan-Mar Mon-Fri")
    assert schedule.seconds == {0, 30}
    assert schedule.minutes == {1, 2, 3}
    assert schedule.hours == {0, 6, 12, 18}
    assert schedule.days == {1, 15}
    assert schedule.months == {1, 2, 3}
    assert schedule.weekdays == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    "expression",
    ["* * * *", "60 * * * * *", "* * 24 * * *", "* * * 0 * *", "* * * * 13 *", "* * * * * 7", "*/0 * * * * *",
     "5-1 * * * * *", "a * * * * *", "0 0 0 30 2 *", "", "25:00:00"],
)  # fmt: skip
def test_invalid_schedules_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        CronSchedule(expression)


# ----------------------------------------------------------------------------------------------------------------
# host.json, settings, message decoding (no Azurite)


def test_queue_options_defaults_and_limits() -> None:
    defaults = QueueOptions.from_host_json({"version": "2.0"})
    assert (defaults.batch_size, defaults.max_dequeue_count, defaults.visibility_timeout) == (16, 5, 0.0)
    assert defaults.new_batch_threshold == 8 * (os.cpu_count() or 1)  # batchSize/2 × processors, as locally
    assert defaults.max_polling_interval == 2.0  # func start's local default instead of 1 minute
    assert defaults.message_encoding == "base64"

    explicit = QueueOptions.from_host_json(
        {"extensions": {"Queues": {"BatchSize": 4, "newBatchThreshold": 2, "maxPollingInterval": "00:01:00",
                                   "visibilityTimeout": "00:00:01.5", "messageEncoding": "None"}}}
    )  # fmt: skip
    assert (explicit.batch_size, explicit.new_batch_threshold, explicit.concurrency) == (4, 2, 6)
    assert explicit.max_polling_interval == 60.0  # an explicit value is honoured, as in extension 5.x
    assert explicit.visibility_timeout == 1.5
    assert explicit.message_encoding == "none"

    bad_settings: list[dict[str, Any]] = [
        {"batchSize": 33},
        {"batchSize": 0},
        {"maxDequeueCount": 0},
        {"visibilityTimeout": 30},  # a number: .NET would read days
        {"maxPollingInterval": "00:00:00.05"},
        {"messageEncoding": "utf8"},
        {"newBatchThreshold": -1},
    ]
    for bad in bad_settings:
        with pytest.raises(HostError, match=r"host\.json extensions\.queues"):
            QueueOptions.from_host_json({"extensions": {"queues": bad}})


def test_decode_message_like_the_extension() -> None:
    assert decode_message("aMOpbGxv", "base64") == "héllo".encode()
    assert decode_message("aMOp\nbGxv ", "base64") == "héllo".encode()  # whitespace is ignored, as in .NET
    assert decode_message("", "base64") == b""
    assert decode_message("not base64!", "base64") is None
    assert decode_message("aMOpbGx", "base64") is None  # missing padding
    assert decode_message("not base64!", "none") == b"not base64!"


def test_settings_file_values_do_not_override_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": {"A": "file", "B": "file"}}), encoding="utf-8")
    environ = {"B": "environment"}
    document = load_settings(path, environ)
    assert environ == {"A": "file", "B": "environment"}
    assert document["Values"]["A"] == "file"

    path.write_text(json.dumps({"Values": {"PORT": 7071}}), encoding="utf-8")
    with pytest.raises(HostError, match=r"Values\.PORT must be a string"):
        load_settings(path, {})


def test_settings_file_falls_back_to_the_sample(tmp_path: Path) -> None:
    assert find_settings_file(tmp_path)[0] is None
    (tmp_path / "local.settings.sample.json").write_text("{}", encoding="utf-8")
    path, note = find_settings_file(tmp_path)
    assert path == tmp_path / "local.settings.sample.json"
    assert note is not None and "local.settings.json not found" in note
    (tmp_path / "local.settings.json").write_text("{}", encoding="utf-8")
    assert find_settings_file(tmp_path) == (tmp_path / "local.settings.json", None)
    with pytest.raises(HostError, match="not found"):
        find_settings_file(tmp_path, tmp_path / "missing.json")


# ----------------------------------------------------------------------------------------------------------------
# Function discovery errors (no Azurite)

UNSUPPORTED_APP = """
import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="in", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="out", connection="AzureWebJobsStorage")
def relay(msg: func.QueueMessage, out: func.Out[str]) -> None:
    out.set("x")


@app.blob_trigger(arg_name="blob", path="c/{name}", connection="AzureWebJobsStorage")
def on_blob(blob: func.InputStream) -> None:
    pass


@app.route(route="ctx")
def with_context(req: func.HttpRequest, context: func.Context) -> str:
    return "x"


@app.retry(strategy="fixed_delay", max_retry_count="3", delay_interval="00:00:01")
@app.timer_trigger(schedule="0 0 * * * *", arg_name="timer")
def retried(timer: func.TimerRequest) -> None:
    pass
"""


def test_unsupported_bindings_are_refused_naming_the_function(tmp_path: Path) -> None:
    with pytest.raises(HostError) as error:
        LocalHost(write_app(tmp_path, UNSUPPORTED_APP), port=0).start()
    message = str(error.value)
    assert "'relay': binding queue 'out' is not supported" in message
    assert "'on_blob': trigger blobTrigger is not supported" in message
    assert "'with_context': parameter 'context'" in message
    assert "'retried': @app.retry policies are not supported" in message


def test_missing_app_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SCHEDULE", "WORK_QUEUE", "POISON_QUEUE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(HostError, match=r"'tick': app setting 'SCHEDULE' \(used as %SCHEDULE%"):
        LocalHost(APPS / "timer_app", port=0).start()
    monkeypatch.setenv("SCHEDULE", "0 0 0 30 2 *")
    with pytest.raises(HostError, match=r"'tick': schedule '0 0 0 30 2 \*' is not valid: .* never fires"):
        LocalHost(APPS / "timer_app", port=0).start()

    monkeypatch.setenv("WORK_QUEUE", "work")
    monkeypatch.setenv("POISON_QUEUE", "work-poison")
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    with pytest.raises(HostError, match="'work': connection setting 'AzureWebJobsStorage' is not set"):
        LocalHost(APPS / "queue_app", port=0).start()


def test_main_reports_setup_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SCHEDULE", raising=False)
    monkeypatch.setenv("AZURE_FUNCTIONS_ENVIRONMENT", "Development")  # serve() sets it; restored after the test
    assert host.main(["--app-dir", str(APPS / "timer_app"), "--port", "0"]) == 1
    captured = capsys.readouterr()
    assert "no local.settings.json" in captured.out
    assert "error: cannot host this app" in captured.err and "SCHEDULE" in captured.err


# ----------------------------------------------------------------------------------------------------------------
# HTTP (no Azurite: the HTTP app has no queue functions)


def test_http_round_trip() -> None:
    with running("http_app") as local, requests.Session() as http:
        api = f"{local.base_url}/api"
        response = http.post(f"{api}/echo/Al%20ice?x=1&x=2&code=not-checked", data=b"hello", headers={"X-Test": "t"})
        assert response.status_code == 201
        assert response.headers["X-Echo"] == "yes"
        assert response.headers["Content-Type"] == "application/json"
        echoed = response.json()
        assert echoed["method"] == "POST"
        assert echoed["route_params"] == {"name": "Al ice"}
        assert echoed["params"] == {"x": "1,2", "code": "not-checked"}
        assert echoed["body"] == "hello"
        assert echoed["x_test"] == "t"
        assert echoed["url"].endswith("/api/echo/Al%20ice?x=1&x=2&code=not-checked")

        assert http.get(f"{api}/ECHO/bob").status_code == 201  # routes ignore case, as in ASP.NET

        assert http.get(f"{api}/things/special").text == "literal"  # a literal segment beats a parameter
        assert http.get(f"{api}/things/other").text == "parameter other"

        text = http.get(f"{api}/text")
        assert (text.status_code, text.text) == (200, "plain text")
        assert text.headers["Content-Type"] == "text/plain; charset=utf-8"

        failed = http.get(f"{api}/boom")
        assert failed.status_code == 500
        assert "details" not in failed.text
        assert http.get(f"{api}/nothing").status_code == 500  # None is not a response

        not_allowed = http.delete(f"{api}/echo/x", data=b"ignored body")
        assert not_allowed.status_code == 405
        assert not_allowed.headers["Allow"] == "GET, POST"
        missing = http.post(f"{api}/nope", data=b"body left unread would break keep-alive")
        assert (missing.status_code, missing.json()) == (404, {"error": "not found"})
        assert http.get(f"{local.base_url}/leads").status_code == 404  # outside the route prefix
        assert http.get(f"{api}/echo/again").status_code == 201  # the kept-alive connection is still in step

        assert "echo: GET,POST http://127.0.0.1:" in "\n".join(local.describe())


# ----------------------------------------------------------------------------------------------------------------
# Queues (Azurite)


@pytest.fixture(scope="module")
def host_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    emulator = Azurite(tmp_path_factory.mktemp("host-azurite")).start()
    yield emulator
    emulator.stop()


@dataclass
class QueueEnv:
    connection_string: str
    queue: str
    poison: str
    record_file: Path

    def client(self, name: str, base64: bool = True) -> QueueClient:
        policy = TextBase64EncodePolicy() if base64 else None
        return QueueClient.from_connection_string(self.connection_string, name, message_encode_policy=policy)

    def send(self, *bodies: str, base64: bool = True) -> None:
        client = self.client(self.queue, base64)
        for body in bodies:
            client.send_message(body)

    def calls(self, function: str = "work") -> list[dict[str, Any]]:
        return [entry for entry in records(self.record_file) if entry["function"] == function]

    def peek(self, name: str) -> list[QueueMessage]:
        try:
            return list(self.client(name, base64=False).peek_messages(max_messages=32))
        except ResourceNotFoundError:
            return []

    def count(self, name: str) -> int:
        return int(self.client(name).get_queue_properties().approximate_message_count or 0)


@pytest.fixture
def queue_env(host_azurite: Azurite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> QueueEnv:
    queue = f"work-{uuid.uuid4().hex[:12]}"
    env = QueueEnv(host_azurite.connection_string, queue, f"{queue}-poison", tmp_path / "calls.jsonl")
    monkeypatch.setenv("AzureWebJobsStorage", env.connection_string)
    monkeypatch.setenv("WORK_QUEUE", queue)
    monkeypatch.setenv("POISON_QUEUE", env.poison)
    monkeypatch.setenv("RECORD_FILE", str(env.record_file))
    return env


def test_base64_message_is_delivered_decoded(queue_env: QueueEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="devtools.host")
    with running("queue_app") as local:
        assert f"work: queue {queue_env.queue}" in local.describe()
        assert f"work_poison: queue {queue_env.poison}" in local.describe()
        queue_env.send("héllo private body")
        wait_for(lambda: len(queue_env.calls()) == 1)
        wait_for(lambda: queue_env.count(queue_env.queue) == 0)  # deleted after success
    [call] = queue_env.calls()
    assert call["body"] == "héllo private body"
    assert call["dequeue_count"] == 1
    assert call["has_pop_receipt"] and call["has_times"]
    assert "Executed 'Functions.work' (Succeeded" in caplog.text
    assert "private body" not in caplog.text  # logs never carry message bodies


def test_failing_message_is_retried_then_poisoned(queue_env: QueueEnv) -> None:
    with running("queue_app"):  # maxDequeueCount 3, visibilityTimeout 1 s
        queue_env.send("fail:always", "fail:1")
        wait_for(lambda: len(queue_env.calls("work_poison")) == 1, timeout=15)
        wait_for(lambda: len(queue_env.calls()) == 5)
        time.sleep(0.3)
    always = [call for call in queue_env.calls() if call["body"] == "fail:always"]
    assert [call["dequeue_count"] for call in always] == [1, 2, 3]  # tried maxDequeueCount times
    gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(always)]
    assert all(gap >= 0.9 for gap in gaps), gaps  # visibilityTimeout between attempts
    once = [call for call in queue_env.calls() if call["body"] == "fail:1"]
    assert [call["dequeue_count"] for call in once] == [1, 2]  # succeeded on its second attempt
    [poisoned] = queue_env.calls("work_poison")
    assert (poisoned["body"], poisoned["dequeue_count"]) == ("fail:always", 1)  # same content, a new message
    assert queue_env.count(queue_env.queue) == 0
    assert queue_env.count(queue_env.poison) == 0


def test_a_failure_on_the_poison_queue_is_not_released(queue_env: QueueEnv) -> None:
    # A "-poison" queue has no poison queue of its own: a failed message stays invisible until its lock expires.
    with running("queue_app"):
        queue_env.client(queue_env.poison).send_message("poison-fails")
        wait_for(lambda: len(queue_env.calls("work_poison")) == 1)
        time.sleep(1.5)  # longer than visibilityTimeout: a released message would have been retried
        assert len(queue_env.calls("work_poison")) == 1
        assert queue_env.count(queue_env.poison) == 1
    with pytest.raises(ResourceNotFoundError):
        queue_env.client(f"{queue_env.poison}-poison").get_queue_properties()


def test_message_encoding_none(queue_env: QueueEnv, tmp_path: Path) -> None:
    with running("queue_app", host_json=queue_host_json(tmp_path, messageEncoding="none")):
        queue_env.send('{"lead": "ünïcode"}', base64=False)
        wait_for(lambda: len(queue_env.calls()) == 1)
    assert queue_env.calls()[0]["body"] == '{"lead": "ünïcode"}'


def test_invalid_base64_goes_to_poison_without_invoking(queue_env: QueueEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POISON_QUEUE", f"other-{uuid.uuid4().hex[:8]}")  # nothing consumes <queue>-poison here
    with running("queue_app"):
        queue_env.send("not base64!", base64=False)
        wait_for(lambda: queue_env.peek(queue_env.poison) != [], timeout=10)
        [poisoned] = queue_env.peek(queue_env.poison)
        assert poisoned.content == "not base64!"  # copied as received
        wait_for(lambda: queue_env.count(queue_env.queue) == 0)
    assert queue_env.calls() == []


def test_long_invocations_keep_their_lock_and_concurrency_is_bounded(queue_env: QueueEnv) -> None:
    with running("queue_app", lock_timeout=1.0):  # renewed every 0.5 s
        queue_env.send("sleep:2.2", *["sleep:0.3"] * 9)
        wait_for(lambda: len(queue_env.calls()) >= 10, timeout=15)
        wait_for(lambda: queue_env.count(queue_env.queue) == 0)
        time.sleep(0.5)
    calls = queue_env.calls()
    assert len(calls) == 10  # the long one wasn't redelivered while it ran
    assert all(call["dequeue_count"] == 1 for call in calls)
    spans = [(call["at"], call["at"] + float(call["body"].split(":")[1])) for call in calls]
    most = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
    assert most <= 6  # batchSize 4 + newBatchThreshold 2


def test_queue_workers_survive_storage_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = Azurite(tmp_path / "azurite").start()
    try:
        env = QueueEnv(emulator.connection_string, f"work-{uuid.uuid4().hex[:12]}", "", tmp_path / "calls.jsonl")
        monkeypatch.setenv("AzureWebJobsStorage", env.connection_string)
        monkeypatch.setenv("WORK_QUEUE", env.queue)
        monkeypatch.setenv("POISON_QUEUE", f"{env.queue}-poison")
        monkeypatch.setenv("RECORD_FILE", str(env.record_file))
        caplog.set_level(logging.INFO, logger="devtools.host")
        with running("queue_app") as local:
            env.send("before")
            wait_for(lambda: len(env.calls()) == 1)
            emulator.stop()
            wait_for(lambda: "unreachable" in caplog.text, timeout=15)
            time.sleep(1.0)
            emulator = Azurite(tmp_path / "azurite", (emulator.blob_port, emulator.queue_port, emulator.table_port))
            emulator.start()
            wait_for(lambda: "reachable again" in caplog.text, timeout=15)
            env.send("after")
            wait_for(lambda: [call["body"] for call in env.calls()] == ["before", "after"], timeout=15)
            assert all(listener._thread.is_alive() for listener in local._listeners)
    finally:
        emulator.stop()


# ----------------------------------------------------------------------------------------------------------------
# Timers


def test_timer_runs_on_startup_and_on_schedule(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    record_file = tmp_path / "ticks.jsonl"
    monkeypatch.setenv("SCHEDULE", "* * * * * *")  # every second, through a %SETTING%
    monkeypatch.setenv("RECORD_FILE", str(record_file))
    with running("timer_app") as local:
        assert "tick: timer * * * * * * (runOnStartup)" in local.describe()
        wait_for(lambda: len(records(record_file)) >= 3, timeout=5)
    ticks = records(record_file)
    assert not any(tick["past_due"] for tick in ticks)
    assert ticks[1]["at"] - ticks[0]["at"] < 1.1  # the startup run, then on each whole second
    assert all(0.8 < later["at"] - earlier["at"] < 1.2 for earlier, later in itertools.pairwise(ticks[1:]))


# ----------------------------------------------------------------------------------------------------------------
# The command line, as a subprocess


def test_subprocess_serves_and_shuts_down_gracefully_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"Values": {"X": "1"}, "Host": {"LocalHttpPort": port}}), encoding="utf-8")
    command = [sys.executable, "-m", "devtools.host", "--app-dir", str(APPS / "http_app"), "--settings", str(settings)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def listening() -> bool:
            assert process.poll() is None, process.communicate()
            try:
                return requests.get(f"{base}/api/text", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_for(listening, timeout=20, interval=0.1)
        results: list[requests.Response] = []
        slow = threading.Thread(target=lambda: results.append(requests.get(f"{base}/api/slow?seconds=1", timeout=10)))
        slow.start()
        time.sleep(0.4)  # the slow call is in flight
        process.send_signal(signal.SIGTERM)
        slow.join(10)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert [(r.status_code, r.text) for r in results] == [(200, "slow done")]  # finished before exit
    assert f"Settings:  {settings}" in out
    assert f"echo: GET,POST http://127.0.0.1:{port}/api/echo/{{name}}" in out
    assert "received SIGTERM" in err and "Executed 'Functions.slow' (Succeeded" in err
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/api/text", timeout=1)
