"""The WSGI entry point for gunicorn and the `flask` command."""

import sys

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"Pasar cannot start: {exc}")
