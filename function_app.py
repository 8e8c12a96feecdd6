"""Azure Functions entry point (Python v2 programming model): wiring only, the work is in `leads/`.

Binding expressions (`%LEADS_QUEUE%`, `%RECONCILE_SCHEDULE%`) are app settings the host resolves:
local.settings.sample.json and infra/ set them.

Only what the worker needs to index the functions is imported here; each function imports the steps it runs on
first use, so a cold start does not pay for the payload parser, routing or the SDKs (`make bench` §3).
"""

import logging
from datetime import timedelta

import azure.functions as func

from leads import runtime

# In Azure (APPLICATIONINSIGHTS_CONNECTION_STRING set), the lead events' fields become customDimensions, which the
# alerts and the workbook in infra/ query; elsewhere this does nothing. It loads the OpenTelemetry distro (part of
# the cold start in Azure), before any function runs, so no event is logged without its fields.
runtime.telemetry()

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="leads", methods=["POST"])
def receive_lead(req: func.HttpRequest) -> func.HttpResponse:
    """The marketplace's HTTPS endpoint: store the lead, enqueue it, answer 202."""
    from leads.core import clock
    from leads.steps import intake

    answer = intake.answer(req.get_body(), runtime.lead_table, runtime.lead_queue, clock.now())
    return func.HttpResponse(answer.body, status_code=answer.status, mimetype="application/json",
                             headers=answer.headers)  # fmt: skip


@app.queue_trigger(arg_name="msg", queue_name="%LEADS_QUEUE%", connection="AzureWebJobsStorage")
def process_lead(msg: func.QueueMessage) -> None:
    """Put the lead into Dynamics 365 and notify the contacts; raising makes the queue retry."""
    runtime.processor().process_message(msg.get_body().decode("utf-8", errors="replace"))


@app.queue_trigger(arg_name="msg", queue_name="%LEADS_QUEUE%-poison", connection="AzureWebJobsStorage")
def lead_failed(msg: func.QueueMessage) -> None:
    """A lead that exhausted its retries: mark it failed and alert the contacts."""
    from leads.core import lead_row

    try:
        lead_id = lead_row.lead_id_from_message(msg.get_body().decode("utf-8", errors="replace"))
    except ValueError as exc:
        logging.getLogger(__name__).error("ignoring poison message: %s", exc)
        return
    runtime.processor().give_up(lead_id, "gave up: every delivery failed (host.json maxDequeueCount)")


@app.timer_trigger(schedule="%RECONCILE_SCHEDULE%", arg_name="timer", run_on_startup=False)
def reconcile_leads(timer: func.TimerRequest) -> None:
    """Re-enqueue leads stranded in 'received'."""
    from leads.steps.reconcile import reconcile

    grace = timedelta(minutes=runtime.reconcile_settings().grace_minutes)
    reconcile(runtime.lead_table(), runtime.lead_queue(), grace)


# A fixed schedule, not a setting: an app that does not follow a table needs nothing new to keep starting cleanly.
@app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
def follow_marketplace_table(timer: func.TimerRequest) -> None:
    """Import new leads from Microsoft's Azure Table destination; nothing while MARKETPLACE_TABLE is empty."""
    if (follower := runtime.table_follower()) is not None:
        follower.run()


# Hourly on a fixed schedule, and LEAD_RETENTION_DAYS has a default: existing apps need no new setting.
@app.timer_trigger(schedule="0 17 * * * *", arg_name="timer", run_on_startup=False)
def scrub_finished_leads(timer: func.TimerRequest) -> None:
    """Remove the personal data of leads done more than LEAD_RETENTION_DAYS ago (at most 500 a run)."""
    if (retention := runtime.retention()) is not None:
        retention.run()
