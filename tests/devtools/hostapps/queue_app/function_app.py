"""Queue fixture app: `work` records what it got and fails on request; `work_poison` watches the poison queue.

Message bodies are commands: ``fail:N`` fails while dequeue_count <= N (``fail:always``), ``sleep:S`` sleeps S
seconds; anything else succeeds. Every invocation appends a JSON line to the file named by RECORD_FILE.
"""

import json
import os
import threading
import time

import azure.functions as func

app = func.FunctionApp()
_lock = threading.Lock()


def _record(function: str, msg: func.QueueMessage) -> str:
    body = msg.get_body().decode("utf-8")
    entry = {
        "function": function,
        "id": msg.id,
        "body": body,
        "dequeue_count": msg.dequeue_count,
        "has_pop_receipt": bool(msg.pop_receipt),
        "has_times": None not in (msg.insertion_time, msg.expiration_time),
        "at": time.time(),
    }
    with _lock, open(os.environ["RECORD_FILE"], "a", encoding="utf-8") as file:
        file.write(json.dumps(entry) + "\n")
    return body


@app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage) -> None:
    command, _, argument = _record("work", msg).partition(":")
    if command == "fail" and (argument == "always" or (msg.dequeue_count or 0) <= int(argument)):
        raise RuntimeError("failing on purpose")
    if command == "sleep":
        time.sleep(float(argument))


@app.queue_trigger(arg_name="msg", queue_name="%POISON_QUEUE%", connection="AzureWebJobsStorage")
def work_poison(msg: func.QueueMessage) -> None:
    if "poison-fails" in _record("work_poison", msg):
        raise RuntimeError("failing on purpose in the poison queue")
