"""Azure Functions entry point (Python v2 programming model): wiring only, the work is in `leads/`."""

import azure.functions as func

from leads import intake

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="leads", methods=["POST"])
def receive_lead(req: func.HttpRequest) -> func.HttpResponse:
    """The marketplace's HTTPS endpoint: store the lead, enqueue it, answer 202."""
    return intake.handle(req)
