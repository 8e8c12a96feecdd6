"""Storage queue triggers, settled as the Queues extension 5.x does with ``host.json``'s ``extensions.queues``."""

from __future__ import annotations

import base64
import contextlib
import logging
import math
import re
import threading
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.functions.queue import QueueMessage as TriggerMessage
from azure.storage.queue import LinearRetry, QueueClient, QueueMessage

from devtools.host.backoff import PollingBackoff
from devtools.host.config import LOGGER_NAME, MIN_POLLING_INTERVAL, HostError, QueueOptions
from devtools.host.functions import Function, Invoker

log = logging.getLogger(LOGGER_NAME)


def decode_message(text: str, encoding: str) -> bytes | None:
    """A message's bytes as the trigger sees them; None if ``base64`` is expected and the text isn't base64."""
    if encoding == "none":
        return text.encode("utf-8")
    try:  # like .NET Convert.FromBase64String: whitespace ignored, padding required
        return base64.b64decode(re.sub(r"\s", "", text), validate=True)
    except ValueError:
        return None


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"


class QueueListener:
    """Polls one queue for one function and settles its messages as the Queues extension 5.x does."""

    def __init__(self, local: Invoker, function: Function, options: QueueOptions) -> None:
        self.local, self.function, self.options = local, function, options
        self.queue_name = function.queue_name
        try:
            self.client = self._client(self.queue_name)
            # No poison queue for a poison queue (or when the name would be too long), as in the extension.
            no_poison = self.queue_name.endswith("-poison") or len(self.queue_name) > 56
            self.poison = None if no_poison else self._client(f"{self.queue_name}-poison")
        except ValueError as exc:
            raise HostError(f"function {function.name!r}: not a valid storage connection string: {exc}") from None
        self._in_flight = 0
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._poll, name=f"queue-{function.name}", daemon=True)

    def _client(self, queue_name: str) -> QueueClient:
        # Few, short SDK retries: the poll loop backs off on its own while storage is down.
        retry = LinearRetry(backoff=1, retry_total=2, random_jitter_range=0)
        return QueueClient.from_connection_string(
            self.function.connection, queue_name, retry_policy=retry, connection_timeout=5, read_timeout=30
        )

    def start(self) -> None:
        with contextlib.suppress(AzureError):  # now, so that the queue exists once started; else after the outage
            self._create_queue(retry_total=0)
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for polling to end (after the host's ``stopping`` is set): it hands over what it received."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _create_queue(self, **options: Any) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue(**options)

    def _poll(self) -> None:
        # As the extension's listener: poll again at once while messages come; after an empty poll (or while storage
        # is unreachable) wait as its randomized exponential back-off says, up to maxPollingInterval (backoff.py).
        stopping, outage, found = self.local.stopping, False, False
        backoff = PollingBackoff(MIN_POLLING_INTERVAL, self.options.max_polling_interval)
        while not stopping.is_set():
            batch, outage = self._receive(outage)
            if not batch:
                stopping.wait(backoff.next_delay(found))
                found = False
                continue
            found = True
            for message in batch:
                with self._changed:
                    self._in_flight += 1
                self.local.begin_work()
                threading.Thread(target=self._process, args=(message,), name=self._thread.name, daemon=True).start()
            with self._changed:  # receive again once in-flight drops to newBatchThreshold
                while self._in_flight > self.options.new_batch_threshold and not stopping.is_set():
                    self._changed.wait(0.5)

    def _receive(self, outage: bool) -> tuple[list[QueueMessage], bool]:
        """Up to batchSize messages, in one request, and whether storage is unreachable."""
        try:
            if outage:  # the queue may have gone with the storage
                self._create_queue()
            lock = math.ceil(self.local.lock_timeout)
            pages = self.client.receive_messages(messages_per_page=self.options.batch_size, visibility_timeout=lock)
            batch = list(next(pages.by_page(), []))
        except AzureError as exc:
            level = logging.DEBUG if outage else logging.WARNING
            log.log(level, "queue %r unreachable, retrying with back-off: %s", self.queue_name, _brief(exc))
            return [], True
        if outage:
            log.info("queue %r reachable again", self.queue_name)
        return batch, False

    def _process(self, message: QueueMessage) -> None:
        try:
            self._handle(message)
        except AzureError as exc:  # settling it failed: it becomes visible again when its lock expires
            log.warning("could not settle message %s on %r: %s", message.id, self.queue_name, _brief(exc))
        except Exception:
            log.exception("unexpected error processing message %s on %r", message.id, self.queue_name)
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()
            self.local.end_work()

    def _handle(self, message: QueueMessage) -> None:
        options, poison = self.options, self.poison
        text, count = str(message.content or ""), int(message.dequeue_count or 0)
        body = decode_message(text, options.message_encoding)
        # The poison queue gets the same content, encoded the same way (not valid base64: as received).
        content = base64.b64encode(body).decode() if body is not None and options.message_encoding == "base64" else text
        if body is None or (poison and count > options.max_dequeue_count):  # not base64, or its last try crashed
            problem = "is not valid base64" if body is None else f"was dequeued {count} times"
            where = f"moving it to {poison.queue_name!r}" if poison else "leaving it invisible"
            log.warning("message %s %s: %s without invoking %s", message.id, problem, where, self.function.name)
            if poison:
                self._move(message, str(message.pop_receipt), content, poison)
            return
        trigger = TriggerMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=count,
            pop_receipt=message.pop_receipt,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
        )
        succeeded, receipt = self._invoke_locked(message, trigger)
        if succeeded:
            self.client.delete_message(message.id, receipt)
        elif poison is None:
            log.warning("message %s failed on %r (no poison queue): it stays invisible", message.id, self.queue_name)
        elif count >= options.max_dequeue_count:  # that was the last attempt
            log.warning("message %s reached maxDequeueCount: moving it to %r", message.id, poison.queue_name)
            self._move(message, receipt, content, poison)
        else:
            self._update(message, receipt, int(options.visibility_timeout))

    def _invoke_locked(self, message: QueueMessage, trigger: TriggerMessage) -> tuple[bool, str]:
        """Invoke the function, renewing the message's invisibility at half-life meanwhile (the peek-lock).
        Whether it succeeded, and the message's latest pop receipt."""
        receipt, done = str(message.pop_receipt), threading.Event()

        def renew() -> None:
            nonlocal receipt
            while not done.wait(self.local.lock_timeout / 2):
                try:
                    receipt = self._update(message, receipt, math.ceil(self.local.lock_timeout))
                except AzureError as exc:
                    log.warning("could not renew the lock on message %s: %s", message.id, _brief(exc))

        renewer = threading.Thread(target=renew, name=f"renew-{message.id}", daemon=True)
        renewer.start()
        details = f"MessageId={message.id}, DequeueCount={trigger.dequeue_count}"
        succeeded, _ = self.local.invoke(self.function, trigger, details)
        done.set()
        renewer.join()  # a renewal in progress ends first, so that `receipt` is the latest
        return succeeded, receipt

    def _update(self, message: QueueMessage, receipt: str, visibility_timeout: int) -> str:
        return str(self.client.update_message(message.id, receipt, visibility_timeout=visibility_timeout).pop_receipt)

    def _move(self, message: QueueMessage, receipt: str, content: str, poison: QueueClient) -> None:
        with contextlib.suppress(ResourceExistsError):
            poison.create_queue()
        poison.send_message(content)
        self.client.delete_message(message.id, receipt)
