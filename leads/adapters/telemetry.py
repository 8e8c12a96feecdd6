"""The app's own log records, with their structured fields, sent to Application Insights as custom dimensions.

Why not just the host: the Functions host forwards what the Python worker logs to Application Insights as `traces`,
but only the message, level and category; fields given with ``logging``'s ``extra=`` do not arrive as customDimensions
that way (Azure/azure-functions-python-worker#1327). Microsoft's documented way for a Python function app to export
its own telemetry is the Azure Monitor OpenTelemetry distro ("Use OpenTelemetry with Azure Functions", Python:
``azure-monitor-opentelemetry`` + ``configure_azure_monitor()``; supported on Flex Consumption). Its logging handler
turns every attribute a record carries beyond the standard ones, which is what ``extra=`` adds, into an OpenTelemetry
log attribute, and the Azure Monitor exporter stores the attributes as the trace's properties: customDimensions.

Scope: only the ``leads`` loggers (the events in leads/core/events.py and the app's other messages), only logs (the
host already reports executions, dependencies are not needed for the alerts), no live metrics. The host still
forwards the same messages without fields; the alerts and the workbook select on ``customDimensions.lead_event``,
so they count each event once. Application Insights accepts only Entra ID-authenticated telemetry
(``DisableLocalAuth``), so the exporter signs in as the identity named by APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
the same one the host uses.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

LOGGER = "leads"
CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
AUTHENTICATION_STRING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
# Every instrumentation the distro would otherwise switch on: the alerts and the workbook need the logs only.
_INSTRUMENTATIONS = ("azure_sdk", "django", "fastapi", "flask", "httpx", "psycopg2", "requests", "urllib", "urllib3")


def exporter_options(env: Mapping[str, str]) -> dict[str, Any] | None:
    """``configure_azure_monitor``'s arguments for this environment; None where there is no Application Insights
    (local runs and tests: the records stay with the host's console and pytest)."""
    connection_string = env.get(CONNECTION_STRING, "").strip()
    if not connection_string:
        return None
    return {
        "connection_string": connection_string,
        "logger_name": LOGGER,
        "disable_tracing": True,
        "disable_metrics": True,
        "enable_live_metrics": False,
        "enable_performance_counters": False,
        "instrumentation_options": {name: {"enabled": False} for name in _INSTRUMENTATIONS},
    }


def identity_client_id(env: Mapping[str, str]) -> str | None:
    """The client id in ``ClientId=<id>;Authorization=AAD``; None when telemetry is not Entra ID-authenticated."""
    parts = dict(part.split("=", 1) for part in env.get(AUTHENTICATION_STRING, "").split(";") if "=" in part)
    if parts.get("Authorization", "").upper() != "AAD":
        return None
    return parts.get("ClientId", "").strip() or None


def send_to_application_insights(env: Mapping[str, str]) -> bool:
    """Export the ``leads`` log records with their fields; False (and nothing imported) without a connection string.
    The distro is imported here, not at module level, so local runs and tests never load it."""
    options = exporter_options(env)
    if options is None:
        return False
    from azure.identity import ManagedIdentityCredential
    from azure.monitor.opentelemetry import configure_azure_monitor

    client_id = identity_client_id(env)
    if client_id:
        options["credential"] = ManagedIdentityCredential(client_id=client_id)
    try:
        configure_azure_monitor(**options)
    except Exception:
        # Runs while the worker indexes the functions: a telemetry problem must not stop the lead endpoint.
        log.exception("lead events are not sent to Application Insights with their fields")
        return False
    log.info("lead events go to Application Insights with their fields (customDimensions)")
    return True
