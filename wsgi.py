"""The WSGI entry point for gunicorn and the `flask` command."""

import faulthandler
import sys

from app import create_app
from app.config import ConfigError

# A worker that crashes in C (SIGSEGV, SIGABRT) prints every thread's Python stack to stderr
# first, so the log names the code that was running instead of only "segfault in libpython".
faulthandler.enable()

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"Pasar cannot start: {exc}")
