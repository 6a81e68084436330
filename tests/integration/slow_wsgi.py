"""The app with one slow route, for the graceful-shutdown test (gunicorn loads it by name)."""

import os
import time
from pathlib import Path

from flask import request

from wsgi import app


@app.get("/_test/slow")
def slow():
    """Answer after `?seconds=` seconds; touch PASAR_TEST_SLOW_MARKER first, if set."""
    marker = os.environ.get("PASAR_TEST_SLOW_MARKER")
    if marker:
        Path(marker).touch()
    time.sleep(float(request.args.get("seconds", "1")))
    return "done"
