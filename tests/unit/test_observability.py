"""Request ids, the log records' fields and formats, and the LOG_FORMAT setting."""

import json
import logging

import pytest

from app.config import ConfigError, load_config
from app.observability.logs import TEXT_FORMAT, ContextFilter, json_formatter
from app.observability.request_ids import (
    current_job_id,
    current_request_id,
    new_request_id,
    parse_request_id,
)


@pytest.mark.parametrize(
    "header",
    [
        "abc",
        "0f8fad5b-d9cb-469f-a165-70867728950e",  # a UUID
        "5d41402abc4b2a76b9719d911017c592",  # nginx's $request_id
        "Root=1-67891233-abcdef012345678912345678",  # AWS's trace id
        "req_42.7:a+b/c@d",
        "x" * 128,
    ],
)
def test_a_sane_incoming_request_id_is_kept(header):
    assert parse_request_id(header) == header


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "x" * 129,  # too long
        "two words",
        'quote"d',
        "line\nbreak",
        "tab\there",
        "-leading-dash",
        "<script>",
        "id;drop",
        "caf\u00e9",  # outside ASCII
        "nul\x00",
    ],
)
def test_an_insane_incoming_request_id_is_refused(header):
    assert parse_request_id(header) is None


def test_new_request_ids_are_unique_sane_tokens():
    ids = {new_request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(parse_request_id(value) == value and len(value) == 32 for value in ids)


def _record(**extra) -> logging.LogRecord:
    record = logging.LogRecord("pasar.request", logging.INFO, __file__, 1, "GET %s", ("/",), None)
    record.__dict__.update(extra)
    return record


def test_the_json_line_carries_every_extra_field_and_the_context_ids():
    fields = {
        "event": "request",
        "method": "GET",
        "route": "storefront.product_detail",
        "rule": "/products/<slug>",
        "status": 200,
        "duration_ms": 12.5,
        "sql_count": 4,
        "store_id": 7,
        "store": "acme",
        "user_id": 3,
    }
    request_token = current_request_id.set("req-1")
    job_token = current_job_id.set("job-1")
    try:
        record = _record(**fields)
        assert ContextFilter().filter(record)
    finally:
        current_request_id.reset(request_token)
        current_job_id.reset(job_token)
    line = json_formatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "GET /"
    assert data["level"] == "INFO" and data["logger"] == "pasar.request"
    assert data["time"].endswith("+00:00")
    assert data["request_id"] == "req-1" and data["job_id"] == "job-1"
    assert {key: data[key] for key in fields} == fields


def test_the_context_filter_keeps_an_explicit_request_id_and_adds_nothing_outside_one():
    record = _record(request_id="from-the-job-meta")
    token = current_request_id.set("another")
    try:
        ContextFilter().filter(record)
    finally:
        current_request_id.reset(token)
    assert record.request_id == "from-the-job-meta"
    bare = _record()
    ContextFilter().filter(bare)
    assert not hasattr(bare, "request_id") and not hasattr(bare, "job_id")


def test_text_lines_stay_readable():
    line = logging.Formatter(TEXT_FORMAT).format(_record(status=200))
    assert line.endswith("INFO pasar.request: GET /")


def _config(monkeypatch, tmp_path, **env):
    for name in ("LOG_FORMAT", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_config(str(tmp_path))


def test_logs_are_text_in_embedded_mode_and_json_in_production_by_default(monkeypatch, tmp_path):
    assert _config(monkeypatch, tmp_path)["LOG_FORMAT"] == "text"
    production = _config(
        monkeypatch, tmp_path, REDIS_URL="redis://127.0.0.1:1/0", SECRET_KEY="s" * 40
    )
    assert production["LOG_FORMAT"] == "json"
    assert _config(monkeypatch, tmp_path, LOG_FORMAT="JSON")["LOG_FORMAT"] == "json"


def test_an_unknown_log_format_is_refused(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        _config(monkeypatch, tmp_path, LOG_FORMAT="xml")


def test_a_rate_limit_storage_outage_logs_one_line_without_a_traceback():
    """Flask-Limiter logs a swallowed Redis error with logger.exception; during an outage that
    was a traceback per request caught mid-command (the soak test found one in the web log)."""
    import redis

    from app.observability.logs import OutageWithoutTraceback, quiet_limiter_outages

    quiet_limiter_outages()
    quiet_limiter_outages()  # once is enough, however many apps are made
    limiter_log = logging.getLogger("flask-limiter")
    assert sum(isinstance(f, OutageWithoutTraceback) for f in limiter_log.filters) == 1

    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append((record, logging.Formatter(TEXT_FORMAT).format(record)))

    handler = Keep()
    limiter_log.addHandler(handler)
    try:
        try:
            raise redis.exceptions.ConnectionError("Error while reading from 127.0.0.1:6379")
        except redis.exceptions.ConnectionError:
            limiter_log.exception("Failed to rate limit. Swallowing error")
        try:
            raise ValueError("a real bug")
        except ValueError:
            limiter_log.exception("Failed to rate limit. Swallowing error")
    finally:
        limiter_log.removeHandler(handler)
    (outage, outage_text), (bug, bug_text) = seen
    assert outage.exc_info is None and "Traceback" not in outage_text
    assert outage_text.endswith(
        "Failed to rate limit. Swallowing error"
        " (ConnectionError: Error while reading from 127.0.0.1:6379)"
    )
    assert "\n" not in outage_text
    assert bug.exc_info is not None and "Traceback" in bug_text  # anything else keeps its trace
