"""Log lines: one per request and one per job, JSON in production, readable text in development.

`LOG_FORMAT` chooses (`json` or `text`); unset, production mode logs JSON and embedded mode
text. Every line logged while a request or job runs carries its `request_id` (and `job_id`).
"""

import logging
import sys
import time
from contextvars import ContextVar

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.observability import metrics
from app.observability.request_ids import (
    HEADER,
    _identity,
    current_job_id,
    current_request_id,
    new_request_id,
    parse_request_id,
)

request_log = logging.getLogger("pasar.request")
job_log = logging.getLogger("pasar.jobs")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Statements run by this request or job so far; None outside one (nothing is counted then).
_sql_statements: ContextVar[list[int] | None] = ContextVar("pasar_sql_statements", default=None)


class ContextFilter(logging.Filter):
    """Adds the current request id and job id to every record that doesn't carry them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request_id = current_request_id.get()
            if request_id:
                record.request_id = request_id
        if not hasattr(record, "job_id"):
            job_id = current_job_id.get()
            if job_id:
                record.job_id = job_id
        return True


class OutageWithoutTraceback(logging.Filter):
    """Turns a record whose exception is a lost connection into one line without a traceback.

    Flask-Limiter logs a swallowed storage error with its traceback (a request that was talking
    to Redis when the connection dropped, before its in-memory fallback takes over). Redis
    going away is an outage, logged as such elsewhere, not a bug: one line says what happened.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _is_lost_connection(exc):
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def _is_lost_connection(exc: BaseException) -> bool:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(exc, RedisConnectionError | RedisTimeoutError | ConnectionError)


def quiet_limiter_outages() -> None:
    """Flask-Limiter's storage errors during a Redis outage: one line each, no traceback."""
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, OutageWithoutTraceback) for f in limiter_log.filters):
        limiter_log.addFilter(OutageWithoutTraceback())


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message and every `extra` field."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def configure(app: Flask) -> None:
    """Send INFO and up to stderr, as JSON or text, unless something configured logging first."""
    root = logging.getLogger()
    if root.handlers:
        return  # pytest, or an embedding program, decided already
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        json_formatter() if app.config["LOG_FORMAT"] == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)


@event.listens_for(Engine, "before_cursor_execute")
def _count_statement(conn, cursor, statement, parameters, context, executemany):
    counter = _sql_statements.get()
    if counter is not None:
        counter[0] += 1


def start_counting() -> list[int]:
    """Count the SQL statements this thread runs from now on; returns the live counter."""
    counter = [0]
    _sql_statements.set(counter)
    return counter


def stop_counting() -> None:
    _sql_statements.set(None)


def init_app(app: Flask) -> None:
    """Give every request an id, and log one line for it when its response is ready."""
    from flask import request_finished, request_started

    request_started.connect(_request_started, app)
    request_finished.connect(_request_finished, app)
    app.teardown_request(_request_teardown)
    quiet_limiter_outages()


def _request_started(sender, **extra) -> None:
    g.request_id = parse_request_id(request.headers.get(HEADER)) or new_request_id()
    g.request_started = time.perf_counter()
    g.sql_counter = start_counting()
    current_request_id.set(g.request_id)


def _request_finished(sender, response, **extra) -> None:
    request_id = g.get("request_id")
    if request_id is None:
        return
    response.headers[HEADER] = request_id
    duration = time.perf_counter() - g.request_started
    route = request.endpoint if request.url_rule is not None else None
    metrics.observe_request(route, request.method, response.status_code, duration)
    fields = request_fields(response.status_code, duration)
    request_log.info(
        "%s %s %s %.0f ms, %d SQL",
        request.method,
        request.url_rule.rule if request.url_rule is not None else "(no route)",
        response.status_code,
        fields["duration_ms"],
        fields["sql_count"],
        extra=fields,
    )


def note_store() -> None:
    """Remember the request's store for its log line (a before-request hook, right after the
    store is resolved: a commit in the view would expire the row, and reloading it then would
    cost a query, or fail while the database is down)."""
    store = g.get("store")
    if store is not None:
        g.log_store = (_identity(store), _loaded_attribute(store, "slug"))


def request_fields(status: int, duration: float) -> dict:
    """The request log line's fields; nothing here loads from the database."""
    store = g.get("store")
    store_id, slug = g.get("log_store") or (_identity(store), _loaded_attribute(store, "slug"))
    user = g.get("_login_user")  # set by Flask-Login once the user was loaded, never loaded here
    return {
        "event": "request",
        "request_id": g.request_id,
        "method": request.method,
        # The endpoint and URL rule, never the raw path: paths can carry reset tokens.
        "route": request.endpoint if request.url_rule is not None else None,
        "rule": request.url_rule.rule if request.url_rule is not None else None,
        "status": status,
        "duration_ms": round(duration * 1000, 1),
        "sql_count": g.sql_counter[0],
        "store_id": store_id,
        "store": slug,
        "user_id": _identity(user) if user is not None and user.is_authenticated else None,
    }


def _loaded_attribute(row, name: str):
    """`row.name` if it is loaded; None rather than a query when it was expired by a commit."""
    if row is None:
        return None
    from sqlalchemy import inspect

    state = inspect(row, raiseerr=False)
    return getattr(row, name, None) if state is None else state.dict.get(name)


def _request_teardown(exc) -> None:
    stop_counting()
    current_request_id.set(None)


def log_job(job, *, ok: bool, duration: float, sql_count: int, store_id: int | None) -> None:
    """The job's log line: id, function, store, status, duration, the request that queued it."""
    meta = job.meta or {}
    fields = {
        "event": "job",
        "job_id": job.id,
        "function": job.func_name,
        "queue": job.origin,
        "status": "finished" if ok else "failed",
        "duration_ms": round(duration * 1000, 1),
        "sql_count": sql_count,
        "store_id": store_id if store_id is not None else meta.get("store_id"),
        "request_id": meta.get("request_id"),
        "retries_left": job.retries_left,
    }
    job_log.info(
        "job %s %s %s %.0f ms, %d SQL",
        job.id,
        job.func_name,
        fields["status"],
        fields["duration_ms"],
        sql_count,
        extra=fields,
    )
