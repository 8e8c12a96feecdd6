"""The one reader of local.settings.json (command line, development host, make run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leads.settings import SettingsError, local_file


def write(tmp_path: Path, document: object, name: str = local_file.FILE_NAME) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_values_fill_what_the_environment_lacks(tmp_path: Path) -> None:
    path = write(tmp_path, {"Values": {"LEADS_TABLE": "fromfile", "LEADS_QUEUE": "fromfile"}})
    environ = {"LEADS_TABLE": "fromenv"}
    local_file.apply(path, environ)
    assert environ == {"LEADS_TABLE": "fromenv", "LEADS_QUEUE": "fromfile"}


def test_the_sample_is_found_when_there_is_no_settings_file(tmp_path: Path) -> None:
    assert local_file.find(tmp_path) is None
    sample = write(tmp_path, {"Values": {}}, local_file.SAMPLE_NAME)
    assert local_file.find(tmp_path) == sample
    real = write(tmp_path, {"Values": {}})
    assert local_file.find(tmp_path) == real


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"Values": {"DYNAMICS_ENABLED": False}}, "Values.DYNAMICS_ENABLED must be a string"),
        ({"Values": ["a"]}, "Values must be an object"),
        (["not", "an", "object"], "must hold a JSON object"),
    ],
)
def test_a_malformed_file_is_named_with_the_fix(tmp_path: Path, document: object, named: str) -> None:
    path = write(tmp_path, document)
    with pytest.raises(SettingsError, match=named):
        local_file.apply(path, {})


def test_a_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / local_file.FILE_NAME
    path.write_text("{ not json", encoding="utf-8")
    with pytest.raises(SettingsError, match=str(path)):
        local_file.apply(path, {})
