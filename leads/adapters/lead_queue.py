"""The lead queue (Azure Queue storage), created on first use.

Messages are base64-encoded (``TextBase64EncodePolicy``) because that is what the Functions host
expects by default (host.json ``extensions.queues.messageEncoding: base64``): the SDK's own default
is plain text, which the host would poison silently. Keeping the host's default means messages added
by hand (Azure portal, Storage Explorer) are read the same way.
"""

from __future__ import annotations

import contextlib

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from leads.adapters import storage
from leads.core.errors import StorageUnavailable
from leads.settings import StorageSettings


class LeadQueue:
    """Holds one QueueClient per queue for the process's lifetime."""

    def __init__(self, settings: StorageSettings, queue_name: str | None = None) -> None:
        self.name = queue_name or settings.queue_name
        policies = {
            "message_encode_policy": TextBase64EncodePolicy(),
            "message_decode_policy": TextBase64DecodePolicy(),
            "transport": storage.transport(),
            **storage.CLIENT_OPTIONS,
        }
        if settings.connection_string:
            self.client = QueueClient.from_connection_string(settings.connection_string, self.name, **policies)
        else:
            self.client = QueueClient(
                settings.queue_endpoint, self.name, credential=storage.credential(settings), **policies
            )

    def send(self, text: str, delay_seconds: int = 0) -> None:
        try:
            try:
                self.client.send_message(text, visibility_timeout=delay_seconds or None)
            except ResourceNotFoundError:
                self._create()
                self.client.send_message(text, visibility_timeout=delay_seconds or None)
        except AzureError as exc:
            raise StorageUnavailable(f"queue {self.name}: {exc.__class__.__name__}") from exc

    def _create(self) -> None:
        with contextlib.suppress(ResourceExistsError):  # another worker may have created it meanwhile
            self.client.create_queue()
