"""Observability: request ids, one log line per request and job, Prometheus metrics, and the
draining flag that `/readyz` reports while the server shuts down."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Log and measure every request, and serve `/metrics`."""
    from app.observability import logs, metrics

    logs.init_app(app)
    app.register_blueprint(metrics.bp)
