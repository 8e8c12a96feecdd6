"""Where the lead events' fields go (leads/adapters/telemetry.py): Application Insights in Azure, nowhere else."""

from __future__ import annotations

import gzip
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

from leads.adapters import telemetry
from leads.core import events

ROOT = Path(__file__).resolve().parents[2]

AZURE = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000000",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "ClientId=11111111-2222-3333-4444-555555555555;Authorization=AAD",
}


def test_without_a_connection_string_nothing_is_configured() -> None:
    assert telemetry.exporter_options({}) is None
    assert telemetry.send_to_application_insights({"APPLICATIONINSIGHTS_CONNECTION_STRING": "  "}) is False


def test_only_the_leads_logs_are_exported_without_tracing_or_instrumentation() -> None:
    options = telemetry.exporter_options(AZURE)
    assert options is not None
    assert options["logger_name"] == "leads" and options["connection_string"] == AZURE[telemetry.CONNECTION_STRING]
    assert options["disable_tracing"] and options["disable_metrics"] and not options["enable_live_metrics"]
    assert all(not setting["enabled"] for setting in options["instrumentation_options"].values())


def test_the_exporter_signs_in_as_the_identity_the_host_uses() -> None:
    assert telemetry.identity_client_id(AZURE) == "11111111-2222-3333-4444-555555555555"
    assert telemetry.identity_client_id({}) is None
    assert telemetry.identity_client_id({telemetry.AUTHENTICATION_STRING: "ClientId=x;Authorization=Key"}) is None


# What the exporter posts to Application Insights' ingestion endpoint (Track API: a JSON list of envelopes; a trace's
# baseData.properties are its customDimensions), captured by a local endpoint the connection string points at.
_SEND_ONE_EVENT = """
import logging, os
from opentelemetry._logs import get_logger_provider
from leads.adapters import telemetry
from leads.core import events
from leads.core.lead_row import Status

logging.getLogger().setLevel(logging.INFO)  # as the Functions worker sets it
assert telemetry.send_to_application_insights(os.environ)
entity = {"LeadId": "abc12345", "OfferId": "contoso.crm", "Action": "INS", "Status": "received"}
logging.getLogger("leads.steps.processing").info("lead abc12345 done", extra=events.finished(entity, Status.DONE))
get_logger_provider().shutdown()  # flushes the batch
"""


class _Ingestion(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        type(self).received.extend(json.loads(data))
        reply = json.dumps({"itemsReceived": 1, "itemsAccepted": 1, "errors": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


def test_extra_fields_reach_application_insights_as_custom_dimensions(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ingestion)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    key = "00000000-0000-0000-0000-000000000000"
    env = {
        **os.environ,
        telemetry.CONNECTION_STRING: f"InstrumentationKey={key};IngestionEndpoint=http://127.0.0.1:{server.server_port}/",
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",  # no self-diagnostics to Microsoft from a test
        "TMPDIR": str(tmp_path),  # the exporter's retry files
    }
    env.pop(telemetry.AUTHENTICATION_STRING, None)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _SEND_ONE_EVENT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    traces = [e for e in _Ingestion.received if e.get("data", {}).get("baseType") == "MessageData"]
    (trace,) = [t for t in traces if t["data"]["baseData"]["message"] == "lead abc12345 done"]
    dimensions = trace["data"]["baseData"]["properties"]
    assert dimensions[events.EVENT] == events.DONE
    assert dimensions["lead_id"] == "abc12345" and dimensions["offer_id"] == "contoso.crm"
    assert dimensions["status"] == "done" and dimensions["action"] == "INS"
