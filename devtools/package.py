"""``python -m devtools.package``: the zip that ``func azure functionapp publish`` or ``azd deploy`` uploads.

Every file of the project except what ``.funcignore`` excludes (as Core Tools reads it when it publishes) and what
``.gitignore`` excludes (local-only files: venvs, node_modules, local.settings.json, .local). Both files use
gitignore syntax, matched with pathspec; as in git, nothing inside an excluded folder is looked at. The list it
prints is what would ship.
"""

from __future__ import annotations

import argparse
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pathspec

ROOT = Path(__file__).resolve().parent.parent
IGNORE_FILES = (".funcignore", ".gitignore")
DEFAULT_OUTPUT = ROOT / ".local" / "package.zip"  # .local is git-ignored: the zip never packs itself


def ignore_rules(project: Path) -> Callable[[str], bool]:
    """Whether a project-relative path (a folder ends with ``/``) is excluded by either ignore file."""
    specs = [
        pathspec.GitIgnoreSpec.from_lines(path.read_text(encoding="utf-8").splitlines())
        for path in (project / name for name in IGNORE_FILES)
        if path.is_file()
    ]
    return lambda relative: any(spec.match_file(relative) for spec in specs)


def package_files(project: Path) -> list[str]:
    """The project-relative paths, sorted, that the deployment zip holds."""
    excluded = ignore_rules(project)
    files: list[str] = []
    for directory, folders, names in os.walk(project):
        base = Path(directory).relative_to(project)
        folders[:] = [folder for folder in folders if not excluded(f"{(base / folder).as_posix()}/")]
        files += [path for name in names if not excluded(path := (base / name).as_posix())]
    return sorted(files)


def build(project: Path, output: Path) -> list[str]:
    """Write the deployment zip of the project to ``output``; the paths it holds."""
    project, output = project.resolve(), output.resolve()
    files = [name for name in package_files(project) if project / name != output]  # an earlier zip stays out
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in files:
            archive.write(project / name, name)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.package",
        description="Build the zip that `func azure functionapp publish` / `azd deploy` would upload "
        "(the project less .funcignore and .gitignore) and list what it holds.",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="zip to write (default: %(default)s)")
    parser.add_argument("--app-dir", type=Path, default=ROOT, help="project to package (default: this repository)")
    args = parser.parse_args(argv)
    files = build(args.app_dir, args.output)
    print(*files, sep="\n")
    print(f"{len(files)} files in {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
