"""The development host polls its queues with the Queues extension's back-off (devtools/host/backoff.py), honouring
host.json's maxPollingInterval: the algorithm exactly (a fixed random source), then the polls as Azurite receives
them, counted by a proxy in front of its queue port (devtools/storage_proxy.py). The counts are compared with
what the algorithm allows, so only a slower machine lowers them: nothing here asserts a duration."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.azurite import ACCOUNT, ACCOUNT_KEY, Azurite
from devtools.host import QueueOptions
from devtools.host.backoff import PollingBackoff
from devtools.storage_proxy import CountingProxy
from tests.devtools.test_host import QueueEnv, queue_host_json, running, wait_for

ROOT = Path(__file__).resolve().parents[2]
IDLE = 4.0  # seconds of an empty queue whose polls are counted


def delays(backoff: PollingBackoff, count: int, found_first: bool = False) -> list[float]:
    return [backoff.next_delay(found_first and index == 0) for index in range(count)]


def test_backoff_is_the_extensions_randomized_exponential_strategy() -> None:
    middle = PollingBackoff(0.1, 5.0, uniform=lambda: 0.5)  # factor 1.0
    assert delays(middle, 10) == pytest.approx([0.1, 0.2, 0.3, 0.5, 0.9, 1.7, 3.3, 5.0, 5.0, 5.0])
    assert delays(middle, 3, found_first=True) == pytest.approx([0.1, 0.2, 0.3])  # messages reset it
    shortest = PollingBackoff(0.1, 60.0, uniform=lambda: 0.0)  # factor 0.8
    assert delays(shortest, 4) == pytest.approx([0.1, 0.18, 0.26, 0.42])
    longest = PollingBackoff(0.1, 60.0, uniform=lambda: 1.0)  # factor 1.2 (the bound itself is never drawn)
    assert delays(longest, 12)[-3:] == pytest.approx([30.82, 60.0, 60.0])  # the default maximum: one minute
    with pytest.raises(ValueError, match="minimum"):
        PollingBackoff(1.0, 0.5)


def most_polls(maximum: float, seconds: float) -> int:
    """The most polls the algorithm allows in ``seconds`` from any point of its sequence: the first, then one
    after each of the shortest delays it can draw that fit (the sequence never gets shorter as it goes on)."""
    backoff, elapsed, polls = PollingBackoff(0.1, maximum, uniform=lambda: 0.0), 0.0, 1
    while (elapsed := elapsed + backoff.next_delay(False)) <= seconds:
        polls += 1
    return polls


def test_the_projects_host_json_sets_the_polling_interval() -> None:
    options = QueueOptions.from_host_json(json.loads((ROOT / "host.json").read_text()))
    assert options.max_polling_interval == 5.0  # README "Queue settings (host.json)" says what it costs


@pytest.fixture
def counted_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CountingProxy, QueueEnv]]:
    """Azurite of its own with a counting proxy in front of its queue port; the app's settings point at the proxy."""
    emulator = Azurite(tmp_path / "azurite").start()
    try:
        with CountingProxy("queue", emulator.queue_port) as proxy:
            base = f"http://127.0.0.1:{{}}/{ACCOUNT}"
            connection = (
                f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={base.format(emulator.blob_port)};QueueEndpoint={base.format(proxy.port)};"
                f"TableEndpoint={base.format(emulator.table_port)};"
            )
            queue = f"work-{uuid.uuid4().hex[:12]}"
            monkeypatch.setenv("AzureWebJobsStorage", connection)
            monkeypatch.setenv("WORK_QUEUE", queue)
            monkeypatch.setenv("POISON_QUEUE", f"{queue}-poison")
            monkeypatch.setenv("RECORD_FILE", str(tmp_path / "calls.jsonl"))
            yield proxy, QueueEnv(connection, queue, f"{queue}-poison", tmp_path / "calls.jsonl")
    finally:
        emulator.stop()


def polls_while_idle(proxy: CountingProxy, queue: str, seconds: float) -> int:
    """Receives on ``queue`` that Azurite answered in the next ``seconds``; one more may be a poll sent before."""
    proxy.take()
    time.sleep(seconds)
    return sum(1 for call in proxy.take() if call.operation == "receive messages" and call.path == f"/{queue}/messages")


def test_polls_follow_host_json_and_reset_when_a_message_comes(
    counted_queue: tuple[CountingProxy, QueueEnv], tmp_path: Path
) -> None:
    proxy, env = counted_queue
    queue = env.queue
    with running("queue_app", host_json=queue_host_json(tmp_path, maxPollingInterval="00:00:00.200")):
        honoured = polls_while_idle(proxy, queue, IDLE)
    with running("queue_app"):  # no maxPollingInterval: the local default of 2 s
        defaulted = polls_while_idle(proxy, queue, IDLE)
        env.send("wake up")
        wait_for(lambda: len(env.calls()) == 1)
        after_message = polls_while_idle(proxy, queue, 1.0)
    # About IDLE / 0.2 s = 20 polls: never more than the algorithm allows, and far more than with the default.
    assert most_polls(0.2, IDLE) + 1 >= honoured >= most_polls(0.2, IDLE) // 2 > most_polls(2.0, IDLE) + 1, honoured
    assert defaulted <= most_polls(2.0, IDLE) + 1, defaulted
    # The message reset the back-off to 100 ms (polls about 0.1, 0.3, 0.6, 1.1 s after it): at 2 s, one at most.
    assert after_message >= 2, after_message
