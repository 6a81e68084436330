"""Fixtures shared by every tier: apps on SQLite and PostgreSQL, clients per host, stores."""

import os
import tempfile
import uuid
from contextlib import contextmanager

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.datastructures import Headers

from app import create_app
from app.config import normalise_database_url
from app.extensions import db

CI = os.environ.get("CI", "").lower() == "true"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
PLATFORM = "pasar.test"
BACKENDS = ["sqlite", "postgresql"]


def require(condition: bool, reason: str) -> None:
    """Skip when a tier's service is missing; under CI=true a missing tier is a failure."""
    if condition:
        return
    if CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_sessionfinish(session, exitstatus):
    """Under CI=true, any skipped test fails the run: every tier must really run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if CI and skipped and session.exitstatus == 0:
        reporter.write_line(f"CI=true: {skipped} test(s) were skipped; failing the run.", red=True)
        session.exitstatus = 1


def _migrate(url: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test", "TESTING": True})
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def postgres_reachable(url: str) -> bool:
    """True if the PostgreSQL server behind `url` accepts connections."""
    engine = create_engine(
        make_url(url).set(database="postgres"), connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


def _ensure_postgres_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        )
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory):
    """One migrated database per backend for the whole run (created lazily)."""
    urls: dict[str, str] = {}

    def get(backend: str) -> str:
        if backend not in urls:
            if backend == "sqlite":
                path = tmp_path_factory.mktemp("db") / "pasar-test.db"
                url = f"sqlite:///{path}"
            else:
                require(bool(TEST_DATABASE_URL), "TEST_DATABASE_URL is not set")
                url = normalise_database_url(TEST_DATABASE_URL)
                require(postgres_reachable(url), f"PostgreSQL is unreachable at {url}")
                _ensure_postgres_database(url)
                _reset_postgres(url)
            _migrate(url)
            urls[backend] = url
        return urls[backend]

    return get


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture
def redis_url():
    """Real Redis (TEST_REDIS_URL), flushed around the test; None means fakeredis."""
    if not TEST_REDIS_URL:
        yield None
        return
    import redis

    conn = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        conn.ping()
    except redis.RedisError:
        require(False, f"Redis is unreachable at {TEST_REDIS_URL}")
    conn.flushdb()
    yield TEST_REDIS_URL
    conn.flushdb()
    conn.close()


def make_app(database_url: str, redis_url: str | None = None, **overrides):
    """A test app on `database_url`; with `redis_url`, real Redis but jobs still inline."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PLATFORM_DOMAIN": PLATFORM,
        "SESSION_COOKIE_DOMAIN": PLATFORM,
        "REMEMBER_COOKIE_DOMAIN": PLATFORM,
        "MAIL_SERVER": None,
        "REDIS_URL": redis_url,
        "JOBS_INLINE": True,
        # Forms are posted without tokens; the CSRF tests switch it back on.
        "WTF_CSRF_ENABLED": False,
        # Most test stores pay on the test gateway, in production mode too (a PostgreSQL or
        # Redis app); tests/security/test_test_gateway_production.py switches it back off.
        "ALLOW_TEST_PAYMENTS": True,
        "MEDIA_ROOT": tempfile.mkdtemp(prefix="pasar-media-"),
    }
    if redis_url:
        config["RATELIMIT_STORAGE_URI"] = redis_url
    config.update(overrides)
    return create_app(config)


def truncate_all(app) -> None:
    """Empty every table (fast, and works across processes, unlike a rolled-back transaction)."""
    with app.app_context():
        tables = list(reversed(db.metadata.sorted_tables))
        db.session.remove()
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(table.delete())
        db.engine.dispose()
        if app.config["EMBEDDED"]:
            from app.extensions import redis_client

            redis_client.get().flushdb()  # codes, throttles and limits in the shared-state file


@pytest.fixture
def app(backend, database_urls, redis_url):
    """The app on this test's backend, with empty tables afterwards."""
    from tests import factories

    application = make_app(database_urls(backend), redis_url)
    factories.CURRENT_APP = application
    yield application
    factories.CURRENT_APP = None
    truncate_all(application)


@pytest.fixture
def ctx(app):
    """An app context for domain tests that call services directly."""
    with app.app_context():
        yield
        db.session.remove()


def host_for(store=None) -> str:
    """The Host header of a store (by subdomain), or of the platform."""
    return f"{store.slug}.{PLATFORM}" if store is not None else PLATFORM


class HostClient(FlaskClient):
    """A test client that sends every request with one Host header."""

    host = PLATFORM

    def open(self, *args, **kwargs):
        headers = Headers(kwargs.pop("headers", None) or {})
        headers.setdefault("Host", self.host)
        kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def session_transaction(self, *args, **kwargs):
        kwargs.setdefault("headers", {"Host": self.host})
        return super().session_transaction(*args, **kwargs)


@pytest.fixture
def client_for(app):
    """`client_for(store)` is a test client whose requests go to that store's host."""

    def make(store=None, host: str | None = None):
        client = HostClient(app, app.response_class, use_cookies=True)
        client.host = host if host is not None else host_for(store)
        return client

    return make


@pytest.fixture
def client(client_for):
    """A test client on the platform host."""
    return client_for(None)


@pytest.fixture
def store_a(app):
    from tests.factories import make_store

    with app.app_context():
        return make_store("alpha", "Alpha Goods", currency="USD", accent_color="#c2410c")


@pytest.fixture
def store_b(app):
    from tests.factories import make_store

    with app.app_context():
        return make_store("bravo", "Bravo Supply", currency="EUR", locale="de_DE")


@pytest.fixture
def unique_id() -> str:
    return uuid.uuid4().hex[:8]


class CollectingHandler:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # Lets tests exercise permanent delivery failures.
        if address.startswith("reject"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_smtp_server():
    """A real SMTP server on localhost; `.messages` holds what it received, `.port` its port."""
    from aiosmtpd.controller import Controller

    handler = CollectingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def smtp_server():
    """An SMTP server for one test."""
    with running_smtp_server() as handler:
        yield handler


def sign_in_as(client, user) -> None:
    """Put `user` in the client's session as Flask-Login would after a real sign-in."""
    from app.accounts import sessions
    from app.accounts.models import User

    with client.application.test_request_context(
        headers={"Host": getattr(client, "host", PLATFORM)}
    ):
        row_user = db.session.get(User, user.id)
        sessions.start(row_user, method="test", remember=False)
        db.session.commit()
        user_id = row_user.get_id()
    with client.session_transaction() as sess:
        sess["_user_id"] = user_id
        sess["_fresh"] = True
