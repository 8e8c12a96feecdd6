"""The deployment zip (devtools/package.py): the app ships, development and local-only files don't.

Built from a copy of the repository's files (tracked, or untracked but not ignored), plus the local-only files a
developer's checkout has (a venv, node_modules, Azurite data, local.settings.json, bytecode), so that what is
checked does not depend on what happens to lie in this working tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from devtools import package

ROOT = Path(__file__).resolve().parents[2]
APP_FILES = {"function_app.py", "host.json", "requirements.txt"}
DEVELOPMENT_FOLDERS = ("devtools/", "tests/", "bench/", "docs/", "infra/", ".ci/")
LOCAL_ONLY_FILES = (
    ".venv/bin/python",
    "node_modules/azurite/package.json",
    ".local/azurite/__azurite_db_queue__.json",
    ".azure/dev/.env",
    ".git/HEAD",
    "local.settings.json",
    "leads/__pycache__/runtime.cpython-311.pyc",
    "leads/core/__pycache__/payload.cpython-311.pyc",
    ".python_packages/lib/site-packages/x.py",
    ".hypothesis/constants/0123456789abcdef",  # written by the stateful tests
)


def repository_files() -> list[str]:
    """What a fresh clone holds, as far as this working tree has it: tracked and not-ignored new files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name and (ROOT / name).is_file()})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("project")
    for name in repository_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    for name in LOCAL_ONLY_FILES:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text("local only\n", encoding="utf-8")
    return copy


@pytest.fixture(scope="module")
def shipped(project: Path, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    output = tmp_path_factory.mktemp("out") / "app.zip"
    package.build(project, output)
    with zipfile.ZipFile(output) as archive:
        return set(archive.namelist())


def test_the_app_ships(project: Path, shipped: set[str]) -> None:
    assert shipped >= APP_FILES
    app_modules = {name for name in repository_files() if name.startswith("leads/") and name.endswith(".py")}
    assert "leads/__init__.py" in app_modules
    assert sorted(app_modules - shipped) == []


def test_development_and_local_files_stay_out(project: Path, shipped: set[str]) -> None:
    assert all((project / name).is_file() for name in LOCAL_ONLY_FILES)  # they were there to be left out
    assert any((project / folder).is_dir() for folder in DEVELOPMENT_FOLDERS)
    development = sorted(name for name in shipped if name.startswith(DEVELOPMENT_FOLDERS))
    local_only = sorted(
        name
        for name in shipped
        if name in LOCAL_ONLY_FILES
        or name.startswith(("node_modules/", ".local/", ".venv/", ".git/", ".azure/", ".python_packages/"))
        or PurePosixPath(name).match("local.settings*.json")
        or "__pycache__" in PurePosixPath(name).parts
        or name.endswith(".pyc")
    )
    assert (development, local_only) == ([], [])


def test_the_command_prints_what_it_packed(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], shipped: set[str]
) -> None:
    output = tmp_path / "cli.zip"
    assert package.main(["--app-dir", str(project), "--output", str(output)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:-1] == sorted(shipped)
    assert lines[-1] == f"{len(shipped)} files in {output}"
    with zipfile.ZipFile(output) as archive:
        assert set(archive.namelist()) == shipped

    # Written inside the project, a second build leaves out the zip of the first.
    inside = project / "app.zip"
    try:
        for _ in range(2):
            package.main(["--app-dir", str(project), "--output", str(inside)])
        with zipfile.ZipFile(inside) as archive:
            assert set(archive.namelist()) == shipped
    finally:
        inside.unlink(missing_ok=True)


def test_the_routing_file_ships_with_the_app_and_is_found_relative_to_it(project: Path, tmp_path: Path) -> None:
    # A publisher's own rules beside function_app.py, as docs/deploy.md says: deployed with the code, no setting path.
    own = project / "routing.toml"
    own.write_text((ROOT / "routing.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    output = tmp_path / "app.zip"
    try:
        package.build(project, output)
    finally:
        own.unlink()
    deployed = tmp_path / "wwwroot"
    with zipfile.ZipFile(output) as archive:
        assert {"routing.toml", "routing.example.toml"} <= set(archive.namelist())
        archive.extractall(deployed)
    # The deployed app, elsewhere on disk and run from another folder, finds LEAD_ROUTING_FILE=routing.toml beside it.
    code = (
        "from leads.settings import load_routing\n"
        "routing = load_routing({'LEAD_ROUTING_FILE': 'routing.toml'})\n"
        "print(routing.file, len(routing.rules.rules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(deployed)},
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    path, rules = done.stdout.split()
    assert Path(path) == deployed / "routing.toml" and int(rules) > 0
