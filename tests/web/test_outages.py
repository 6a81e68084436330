"""When the database or Redis is down: readiness says so, pages degrade without tracebacks."""

import logging

import pytest
from sqlalchemy import text

from app import database_outage
from app.extensions import db, limiter
from tests.conftest import HostClient, make_app, truncate_all
from tests.factories import make_store

DEAD_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/pasar_nowhere"
DEAD_REDIS = "redis://127.0.0.1:1/0"


def test_database_down_gives_503_with_retry_after_and_one_log_line(caplog):
    app = make_app(DEAD_POSTGRES, PROPAGATE_EXCEPTIONS=False)
    client = HostClient(app, app.response_class)
    client.host = "alpha.pasar.test"
    caplog.set_level(logging.INFO)
    try:
        for _ in range(5):
            response = client.get("/")
            assert response.status_code == 503
            assert response.headers["Retry-After"] == str(database_outage.RETRY_AFTER)
            html = response.get_data(as_text=True)
            assert "reach our database" in html and "try again in 10 seconds" in html
            assert "Traceback" not in html and "OperationalError" not in html
        fragment = client.get("/", headers={"HX-Request": "true"})
        assert fragment.status_code == 503 and fragment.headers["HX-Retarget"] == "#messages"
        assert "<html" not in fragment.get_data(as_text=True)

        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["database"] == "down"
        assert client.get("/healthz").status_code == 200
        errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.getMessage()[:27] for r in errors] == ["database unreachable, answe"]
        assert not any(r.exc_info for r in caplog.records)
    finally:
        database_outage.note_up()


def test_the_end_of_an_outage_is_logged_once(app, caplog):
    caplog.set_level(logging.INFO)
    database_outage.note_down(RuntimeError("connection refused"))
    database_outage.note_down(RuntimeError("connection refused"))
    with app.app_context():
        db.engine.dispose()  # the next query opens a new connection, as after an outage
        client = HostClient(app, app.response_class)
        client.host = "pasar.test"
        assert client.get("/").status_code == 200
        assert client.get("/").status_code == 200
    assert database_outage.down_since() is None
    messages = [r.getMessage() for r in caplog.records if r.name == "app.database_outage"]
    assert len(messages) == 2
    assert messages[0].startswith("database unreachable") and "reachable again" in messages[1]


@pytest.mark.own_app  # adds a route
def test_a_query_bug_is_still_a_500_with_its_traceback(app, caplog):
    @app.get("/_test/bad-query")
    def bad_query():
        db.session.execute(text("SELECT no_such_column FROM no_such_table"))
        return "unreachable"

    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = HostClient(app, app.response_class)
    client.host = "pasar.test"
    response = client.get("/_test/bad-query")
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    assert database_outage.down_since() is None
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and "no_such_table" in str(logged[0].exc_info[1])


@pytest.mark.own_app  # adds a route
def test_sqlite_giving_up_on_its_write_lock_is_a_503_to_try_again_not_a_500(app, caplog):
    """Embedded mode under more load than its file takes: a request that waited out SQLite's
    busy timeout for the write lock gets 503 and Retry-After, and the log one line, no trace."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    @app.get("/_test/locked")
    def locked():
        raise OperationalError(
            "BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")
        )

    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = HostClient(app, app.response_class)
    client.host = "pasar.test"
    response = client.get("/_test/locked")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(database_outage.BUSY_RETRY_AFTER)
    assert "try again" in response.get_data(as_text=True)
    assert database_outage.down_since() is None  # busy is not an outage
    assert not any(r.exc_info for r in caplog.records)
    assert [r.getMessage()[:40] for r in caplog.records if r.levelno >= logging.WARNING] == [
        "the database's write lock stayed busy pa"
    ]


def test_redis_down_keeps_pages_working_and_readyz_reports_it(database_urls):
    app = make_app(database_urls("sqlite"), DEAD_REDIS, RATELIMIT_STORAGE_URI=DEAD_REDIS)

    @app.get("/_test/limited")
    @limiter.limit("3 per minute")
    def limited():
        return "ok"

    try:
        with app.app_context():
            store = make_store("alpha", "Alpha Goods")
        client = HostClient(app, app.response_class)
        client.host = f"{store.slug}.pasar.test"
        assert client.get("/").status_code == 200
        client.host = "pasar.test"
        assert client.get("/").status_code == 200
        # Limits fall back to memory: they still hold, and nothing turns into a 500.
        assert [client.get("/_test/limited").status_code for _ in range(4)] == [200, 200, 200, 429]
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json() == {
            "database": "ok",
            "redis": "down",
            "mode": "production",
            "status": "unavailable",
        }
    finally:
        truncate_all(app)


def test_readyz_is_ok_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"
    assert response.get_json()["status"] == "ok"


def test_accounts_with_redis_down(database_urls):
    """Password sign-in keeps working; code flows say they can't run now (503, not 500)."""
    from tests.factories import PASSWORD, make_user

    app = make_app(database_urls("sqlite"), DEAD_REDIS, RATELIMIT_STORAGE_URI=DEAD_REDIS)
    try:
        with app.app_context():
            make_user("sam@example.com")
        client = HostClient(app, app.response_class)
        ok = client.post("/account/signin", data={"email": "sam@example.com", "password": PASSWORD})
        assert ok.status_code == 303
        client = HostClient(app, app.response_class)
        for path, data in [
            ("/account/signin/code", {"email": "sam@example.com"}),
            ("/account/register", {"email": "new@example.com", "password": "correct-horse-9"}),
        ]:
            response = client.post(path, data=data)
            assert response.status_code == 503, path
            assert "sign in with your password" in response.get_data(as_text=True)
    finally:
        truncate_all(app)


def test_a_thread_caught_mid_switch_to_the_memory_fallback_gets_its_page(database_urls):
    """Another thread of the worker flips Flask-Limiter to memory while this request is
    still talking to Redis: the request goes through instead of failing with a 500."""
    import redis

    app = make_app(database_urls("sqlite"), DEAD_REDIS, RATELIMIT_STORAGE_URI=DEAD_REDIS)

    @app.get("/_test/limited")
    @limiter.limit("3 per minute")
    def limited():
        return "ok"

    def redis_fails_after_another_thread_switched(*args, **kwargs):
        limiter._storage_dead = True  # what the other thread did a moment ago
        raise redis.ConnectionError("Connection closed by server.")

    try:
        with app.app_context():
            limiter.limiter.storage.incr = redis_fails_after_another_thread_switched
        client = HostClient(app, app.response_class)
        client.host = "pasar.test"
        app.config["PROPAGATE_EXCEPTIONS"] = False
        assert client.get("/_test/limited").status_code == 200
    finally:
        truncate_all(app)


def test_a_connection_lost_after_the_page_was_made_does_not_turn_it_into_a_500(database_urls):
    """The server drops the request's connection after the view ran: the teardown's rollback
    fails, and that must not replace the finished page with a 500 (PostgreSQL only)."""
    from sqlalchemy import create_engine

    app = make_app(database_urls("postgresql"))

    @app.get("/_test/dropped-after")
    def dropped_after():
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        with other.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        other.dispose()
        return "made"

    client = HostClient(app, app.response_class)
    client.host = "pasar.test"
    try:
        response = client.get("/_test/dropped-after")
        assert response.status_code == 200 and response.get_data(as_text=True) == "made"
        assert database_outage.down_since() is not None
        assert client.get("/readyz").status_code == 200  # a new connection: the outage ends
        assert database_outage.down_since() is None
    finally:
        database_outage.note_up()
        truncate_all(app)
