"""Timer fixture app: a timer on the %SCHEDULE% app setting that also runs on startup."""

import json
import os
import time

import azure.functions as func

app = func.FunctionApp()


@app.timer_trigger(schedule="%SCHEDULE%", arg_name="timer", run_on_startup=True)
def tick(timer: func.TimerRequest) -> None:
    with open(os.environ["RECORD_FILE"], "a", encoding="utf-8") as file:
        file.write(json.dumps({"past_due": timer.past_due, "at": time.time()}) + "\n")
