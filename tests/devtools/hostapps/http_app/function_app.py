"""HTTP fixture app: echo with a route parameter, literal-first precedence, a str return, errors, a slow call."""

import json
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="echo/{name}", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    payload = {
        "method": req.method,
        "url": req.url,
        "route_params": dict(req.route_params),
        "params": dict(req.params),
        "body": req.get_body().decode("utf-8"),
        "x_test": req.headers.get("x-test"),
    }
    return func.HttpResponse(
        json.dumps(payload), status_code=201, mimetype="application/json", headers={"X-Echo": "yes"}
    )


@app.route(route="things/{name}", methods=["GET"])
def thing(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"parameter {req.route_params['name']}")


@app.route(route="things/special", methods=["GET"])
def special_thing(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("literal")


@app.route(route="text")
def text(req: func.HttpRequest) -> str:
    return "plain text"


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("details that must not reach the client")


@app.route(route="nothing")
def nothing(req: func.HttpRequest) -> None:
    return None


@app.route(route="slow")
def slow(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("seconds", "1")))
    return func.HttpResponse("slow done")
