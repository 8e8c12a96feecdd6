"""The one reader of ``local.settings.json``, for the command line, the development host and `make run`.

As Core Tools does: the file's ``Values`` fill in what the environment does not set (the environment wins),
every value must be a string, and the file is never deployed.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from leads.settings.reader import SettingsError

FILE_NAME = "local.settings.json"
SAMPLE_NAME = "local.settings.sample.json"


def find(app_dir: Path) -> Path | None:
    """``local.settings.json`` in the folder, else the committed sample, else None."""
    for name in (FILE_NAME, SAMPLE_NAME):
        if (app_dir / name).is_file():
            return app_dir / name
    return None


def read(path: Path) -> dict[str, Any]:
    """The file's JSON object; SettingsError naming the file when it cannot be read or is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise SettingsError([f"{path}: cannot be read ({exc}); fix the file or delete it"]) from exc
    if not isinstance(document, dict):
        raise SettingsError([f"{path}: must hold a JSON object with a Values object"])
    return document


def values(document: dict[str, Any], path: Path) -> dict[str, str]:
    """The ``Values`` object, every value a string (Core Tools refuses others)."""
    found = document.get("Values") or {}
    if not isinstance(found, dict):
        raise SettingsError([f"{path}: Values must be an object of setting names and string values"])
    problems = [
        f"{path}: Values.{name} must be a string (got {_json_kind(value)}); put it in quotes"
        for name, value in found.items()
        if not isinstance(value, str)
    ]
    if problems:
        raise SettingsError(problems)
    return dict(found)


def apply(path: Path, environ: MutableMapping[str, str] | None = None) -> dict[str, Any]:
    """Put the file's Values in the environment without overriding what is set; returns the document."""
    environ = os.environ if environ is None else environ
    document = read(path)
    for name, value in values(document, path).items():
        environ.setdefault(name, value)
    return document


def _json_kind(value: object) -> str:
    """What a value is, without the value (it may be a password)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else "a list" if isinstance(value, list) else "an object"
