"""What the host reads before it starts: the settings file (through the app's one loader) and ``host.json``."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leads.settings import SettingsError, local_file

LOGGER_NAME = "devtools.host"  # one logger for the whole host: the tests and `--verbose` filter on it
DEFAULT_PORT = 7071  # func start's default
LOCK_TIMEOUT = 600.0  # the Queues extension receives with a 10-minute visibility timeout, renewed at half-life
MIN_POLLING_INTERVAL = 0.1  # the Queues extension's QueuePollingIntervals.Minimum (its back-off: backoff.py)
LOCAL_MAX_POLLING_INTERVAL = 2.0  # func start ("Development") replaces the 1-minute default with 2 s


class HostError(Exception):
    """A problem the developer must fix before the app can run (settings, host.json, bindings); says which."""


# Settings file ---------------------------------------------------------------------------------------------------


def find_settings_file(app_dir: Path, explicit: str | Path | None = None) -> tuple[Path | None, str | None]:
    """The settings file to use and a note to print about it: ``local.settings.json``, else the sample."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise HostError(f"settings file {explicit} not found")
        return Path(explicit), None
    found = local_file.find(app_dir)
    if found is None:
        return None, f"note: no {local_file.FILE_NAME} in {app_dir}; using the environment only"
    if found.name == local_file.SAMPLE_NAME:
        real, sample = local_file.FILE_NAME, local_file.SAMPLE_NAME
        return found, f"note: {real} not found, using {sample} (copy it to {real} to change settings)"
    return found, None


def load_settings(path: Path, environ: MutableMapping[str, str] | None = None) -> dict[str, Any]:
    """Put the file's ``Values`` in the environment without overriding what is set (as func does); the file."""
    try:
        return local_file.apply(path, environ)
    except SettingsError as exc:  # the host reports its setup problems as HostError, printed without a traceback
        raise HostError(str(exc)) from exc


# host.json -------------------------------------------------------------------------------------------------------


def read_host_json(path: Path) -> dict[str, Any]:
    """The object in ``host.json``."""
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise HostError(f"cannot read {path}: {exc}") from exc
    return document


def _lower_keys(section: Any) -> dict[str, Any]:
    """A host.json object with lower-cased keys (.NET configuration keys are case-insensitive)."""
    return {str(key).lower(): value for key, value in section.items()} if isinstance(section, dict) else {}


def _invalid(queues: Mapping[str, Any], name: str, expected: str) -> HostError:
    got = json.dumps(queues.get(name.lower()))
    return HostError(f"host.json extensions.queues.{name} must be {expected} (got {got})")


def _integer(queues: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = queues.get(name.lower(), default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(queues, name, f"an integer from {low} to {high}")
    return value


def _timespan(queues: Mapping[str, Any], name: str, default: float, low: float) -> float:
    text = queues.get(name.lower())
    if text is None:
        return default
    # A .NET TimeSpan, [d.]hh:mm[:ss[.fff]] (a number would be read as days).
    match = re.fullmatch(r"(?:(\d+)\.)?(\d+):(\d+)(?::(\d+(?:\.\d+)?))?", str(text).strip())
    if isinstance(text, str) and match:
        days, hours, minutes, seconds = match.groups()
        total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds or 0)
        if total >= low:
            return total
    raise _invalid(queues, name, f'a TimeSpan like "00:00:30", at least {low} s')


@dataclass(frozen=True)
class QueueOptions:
    """``host.json`` ``extensions.queues``, with the Queues extension's defaults and limits."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = LOCAL_MAX_POLLING_INTERVAL
    message_encoding: str = "base64"

    @property
    def concurrency(self) -> int:
        return self.batch_size + self.new_batch_threshold

    @classmethod
    def from_host_json(cls, host_json: Mapping[str, Any]) -> QueueOptions:
        queues = _lower_keys(_lower_keys(_lower_keys(host_json).get("extensions")).get("queues"))
        batch_size = _integer(queues, "batchSize", 16, 1, 32)
        encoding = str(queues.get("messageencoding", "base64")).lower()
        if encoding not in ("base64", "none"):
            raise _invalid(queues, "messageEncoding", '"base64" or "none"')
        return cls(
            batch_size=batch_size,
            # Unset: batchSize/2 × processor count, as the extension computes it on this machine.
            new_batch_threshold=_integer(
                queues, "newBatchThreshold", batch_size // 2 * (os.cpu_count() or 1), 0, 10_000
            ),
            max_dequeue_count=_integer(queues, "maxDequeueCount", 5, 1, 10_000),
            visibility_timeout=_timespan(queues, "visibilityTimeout", 0.0, 0.0),
            # Only the default is shortened locally: an explicit value is honoured (extension 5.x, "Development").
            max_polling_interval=_timespan(
                queues, "maxPollingInterval", LOCAL_MAX_POLLING_INTERVAL, MIN_POLLING_INTERVAL
            ),
            message_encoding=encoding,
        )
