"""What a cold start imports: indexing the functions needs azure.functions and the wiring in function_app.py, not the
steps, the settings (with the routing engine they parse) or the SDKs; those load with the first invocation.
`make bench` §3 measures the time; this test names what must stay off the import path, without timing anything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each of these took milliseconds at cold start before it moved to first use (python -X importtime).
FIRST_USE_ONLY = (
    "leads.settings",
    "leads.core.payload",
    "leads.core.routing",
    "leads.core.mapping",
    "leads.core.lead_row",
    "leads.steps.intake",
    "leads.steps.processing",
    "requests",
    "msal",
    "azure.data.tables",
    "azure.storage.queue",
    "tomllib",
)


def imported_by(statement: str) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_indexing_the_functions_loads_only_the_wiring() -> None:
    modules = imported_by("import function_app\nfunction_app.app.get_functions()")
    loaded = sorted(name for name in FIRST_USE_ONLY if name in modules)
    assert not loaded, f"importing function_app loads {loaded}: import them where they are first used"
