"""Liveness and readiness probes; they answer on any host."""

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from app import database_outage
from app.extensions import csrf, db, redis_client
from app.observability import shutdown

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: the process is up and serving."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Readiness: the database and Redis answer; 503 if either doesn't, or while shutting down."""
    if shutdown.draining():
        # SIGTERM arrived: the load balancer should stop sending; requests in flight finish.
        return jsonify(status="shutting down"), 503
    checks = {"database": _check_database(), "redis": _check_redis()}
    ready = all(value in ("ok", "embedded") for value in checks.values())
    checks["mode"] = "embedded" if current_app.config["EMBEDDED"] else "production"
    checks["status"] = "ok" if ready else "unavailable"
    return jsonify(checks), 200 if ready else 503


def _check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        if database_outage.is_unreachable(exc):
            database_outage.note_down(exc)  # logged once per outage, not once per probe
        else:
            current_app.logger.warning("readiness: database check failed", exc_info=True)
        db.session.rollback()
        return "down"
    finally:
        db.session.remove()


def _check_redis() -> str:
    try:
        redis_client.get().ping()
    except Exception:
        current_app.logger.warning("readiness: redis unreachable", exc_info=True)
        return "down"
    return "embedded" if current_app.config["EMBEDDED"] else "ok"


csrf.exempt(bp)
