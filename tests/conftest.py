"""Fixtures shared by every tier: apps on SQLite and PostgreSQL, clients per host, stores."""

import gc
import os
import shutil
import signal
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
from tests import route_coverage

CI = os.environ.get("CI", "").lower() == "true"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
# Under `pytest -n N` (pytest-xdist) worker gwK gets PostgreSQL database <name>_xK and Redis
# database n+K, so the workers never share rows or keys.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if XDIST_WORKER:
    _k = int(XDIST_WORKER.removeprefix("gw"))
    if TEST_DATABASE_URL:
        TEST_DATABASE_URL = os.environ["TEST_DATABASE_URL"] = (
            make_url(TEST_DATABASE_URL)
            .set(database=f"{make_url(TEST_DATABASE_URL).database}_x{_k}")
            .render_as_string(hide_password=False)
        )
    if TEST_REDIS_URL:
        _base, _, _n = TEST_REDIS_URL.rpartition("/")
        TEST_REDIS_URL = os.environ["TEST_REDIS_URL"] = f"{_base}/{int(_n or 0) + _k}"
PLATFORM = "pasar.test"
BACKENDS = ["sqlite", "postgresql"]
# TEST_ALL_BACKENDS=1 runs the tests marked `backends("sqlite")` on both databases too:
# an audit after a change under every query, such as row-level security on PostgreSQL.
ALL_BACKENDS = os.environ.get("TEST_ALL_BACKENDS", "") not in ("", "0")


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


FAILURE_DIGEST = os.environ.get("TEST_FAILURE_DIGEST")


def pytest_runtest_logreport(report):
    """With TEST_FAILURE_DIGEST set (scripts/test.sh sets it), each failure's id and error message
    go to that file, which the script prints last: a CI log cut to its head and tail keeps them."""
    rerun = report.outcome == "rerun"  # failed once, run again (the browser tier's --reruns)
    if not FAILURE_DIGEST or not (report.failed or rerun) or XDIST_WORKER:
        return  # under xdist the controller sees every worker's reports
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longrepr)[-2000:]
    with open(FAILURE_DIGEST, "a", encoding="utf-8") as digest:
        what = "failed once, run again" if rerun else report.when
        digest.write(f"- {report.nodeid} ({what}): {message[:3000]}\n")


def pytest_configure(config):
    """SIGTERM (a CI timeout, `kill`) ends the run like Ctrl-C: pytest stops the running test
    and still prints what passed and failed so far, instead of dying silently."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    # Routes answered on SQLite must be answered on PostgreSQL too (TEST_ROUTE_AUDIT=1).
    config.pluginmanager.register(route_coverage, "route_coverage")


def pytest_collection_finish(session):
    """What is loaded by now (the app's modules, the collected tests) lives for the whole run:
    frozen out of the garbage collector's passes, which then run a tenth as often. A run makes
    millions of short-lived objects and few cycles; this saves a few percent of its CPU."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


# Started first: the multi-process tests, whose waits then overlap the rest of the run.
RUN_FIRST = ("tests/integration/",)


# Tiers that run only when the marker expression names them (`make test-deploy`: images and
# containers; `make test-soak`: a 60 s Redis outage under load, four minutes by design), each
# run by CI after `make test`.
ON_REQUEST_ONLY = ("deploy", "soak")


def pytest_collection_modifyitems(config, items):
    """Deselect (not skip: under CI=true a skip fails the run) the tests of a tier that runs
    only on request unless the marker expression names it; then the slow integration tests
    first (stable: the order is otherwise unchanged)."""
    named = config.getoption("markexpr") or ""
    left_out = [marker for marker in ON_REQUEST_ONLY if marker not in named]
    chosen = [i for i in items if not any(i.get_closest_marker(m) for m in left_out)]
    if len(chosen) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in chosen])
        items[:] = chosen

    def rank(item):
        path = item.nodeid.split("::")[0]
        return next((i for i, prefix in enumerate(RUN_FIRST) if path.startswith(prefix)), 99)

    items.sort(key=rank)


SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGALRM)


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    """An RQ worker run in this process (`SimpleWorker(...).work()` in
    tests/integration/test_console_jobs.py) installs its own SIGTERM and SIGINT handlers and
    leaves them: a later SIGTERM then raised `rq.exceptions.StopRequested` inside whatever test
    was running. Every test gets back the handlers it started with."""
    saved = {signum: signal.getsignal(signum) for signum in SIGNALS}
    yield
    for signum, handler in saved.items():
        if signal.getsignal(signum) is not handler:
            signal.signal(signum, handler)


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


# The SQLite test database lives in memory-backed /dev/shm where there is one: every commit
# syncs the file, 10 ms each on this machine's disk, and a test makes a dozen.
SQLITE_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory):
    """One migrated database per backend for the whole run (created lazily)."""
    urls: dict[str, str] = {}
    folders: list[str] = []

    def get(backend: str) -> str:
        if backend not in urls:
            if backend == "sqlite":
                if SQLITE_DIR:
                    folders.append(tempfile.mkdtemp(prefix="pasar-test-db-", dir=SQLITE_DIR))
                    path = os.path.join(folders[-1], "pasar-test.db")
                else:
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

    yield get
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_generate_tests(metafunc):
    """A test that uses `backend` runs once on SQLite and once on PostgreSQL, unless it is
    marked `backends("sqlite")`: what it checks is HTTP, templates, htmx or headers, which
    don't depend on the database. The closest mark wins, so a test in a module marked
    `backends("sqlite")` that checks a database rule marks itself `backends(*BACKENDS)`."""
    direct = any(
        "backend"
        in (
            m.args[0]
            if isinstance(m.args[0], list | tuple)
            else [n.strip() for n in m.args[0].split(",")]
        )
        for m in metafunc.definition.iter_markers("parametrize")
    )
    if "backend" in metafunc.fixturenames and not direct:  # not `parametrize("backend", ...)`
        mark = metafunc.definition.get_closest_marker("backends")
        names = list(mark.args) if mark else BACKENDS
        if ALL_BACKENDS and names == ["sqlite"]:
            names = BACKENDS
        unknown = set(names) - set(BACKENDS)
        assert names and not unknown, f"backends(...): unknown backend {unknown or names}"
        metafunc.parametrize("backend", names, indirect=True)


@pytest.fixture
def backend(request) -> str:
    """The database this run of the test uses: "sqlite" or "postgresql"."""
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
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    if backend == "postgresql":
        # As in production, the app acts as DATABASE_ROLE (pasar_app), to which the tables'
        # policies apply (tenants/rls.py): every request and job runs under row-level
        # security. The suite's own setup and assertions outside requests take the all-stores
        # path, as an administrator would.
        config["RLS_TEST_HARNESS_ALL_STORES"] = True
    config.update(overrides)
    app = create_app(config)
    route_coverage.record_routes(app, backend)
    return app


def truncate_all(app, dispose: bool = True) -> None:
    """Empty every table (works across processes, unlike a rolled-back transaction).

    One query finds the tables that got rows; only those are emptied. On PostgreSQL with
    DELETE (a TRUNCATE of every table costs 80 ms idle and near a second on a loaded machine),
    and every sequence that moved starts again at 1, as TRUNCATE ... RESTART IDENTITY did."""
    with app.app_context():
        tables = list(reversed(db.metadata.sorted_tables))
        db.session.remove()
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL ROLE NONE")  # the owner: no policies apply
                _empty_postgres_tables(conn, tables)
            else:
                for table in _filled(conn, tables):
                    conn.execute(table.delete())
        if dispose:
            db.engine.dispose()
        if app.config["EMBEDDED"]:
            from app.extensions import redis_client

            redis_client.get().flushdb()  # codes, throttles and limits in the shared-state file


def _filled(conn, tables) -> list:
    """The tables that have rows, in the order given: one query instead of a DELETE per table
    (a test fills a handful of some fifty)."""
    probe = " UNION ALL ".join(
        f'SELECT {i} WHERE EXISTS (SELECT 1 FROM "{t.name}")' for i, t in enumerate(tables)
    )
    found = set(conn.scalars(text(probe)))
    return [table for i, table in enumerate(tables) if i in found]


def _empty_postgres_tables(conn, tables) -> None:
    filled = _filled(conn, tables)
    try:
        with conn.begin_nested():
            for table in filled:  # children before parents
                conn.execute(table.delete())
    except Exception:  # a cycle of foreign keys: TRUNCATE copes with any order
        names = ", ".join(f'"{t.name}"' for t in filled)
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
    moved = conn.scalars(
        text(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename)"
            " FROM pg_sequences WHERE last_value IS NOT NULL"
        )
    ).all()
    if moved:
        resets = ", ".join(f"setval('{name}', 1, false)" for name in moved)
        conn.execute(text(f"SELECT {resets}"))


_SHARED_APPS: dict[tuple[str, str | None], object] = {}


def shared_app(database_url: str, redis_url: str | None):
    """One app per database and Redis for the whole run: building one costs 40-50 ms (most of
    it compiling the URL map), more than many a test takes."""
    key = (database_url, redis_url)
    if key not in _SHARED_APPS:
        _SHARED_APPS[key] = make_app(database_url, redis_url)
    return _SHARED_APPS[key]


@pytest.fixture
def app(request, backend, database_urls, redis_url):
    """The app on this test's backend, with empty tables afterwards.

    The app is shared by the tests on the same backend (a test marked `own_app` gets its
    own, for instance to add a route); each test gets its own media folder
    and afterwards the app's config and extensions as they were, so what one test changes
    (`app.config[...] = ...`, a fake Redis in `app.extensions`) never reaches the next."""
    from app.extensions import limiter
    from tests import factories

    own = request.node.get_closest_marker("own_app") is not None
    if own:  # the test changes the app itself (adds a route): it gets one of its own
        application = make_app(database_urls(backend), redis_url)
    else:
        application = shared_app(database_urls(backend), redis_url)
    config, extensions = dict(application.config), dict(application.extensions)
    media = tempfile.mkdtemp(prefix="pasar-media-")
    application.config["MEDIA_ROOT"] = media
    # The limiter is one object for every app: point its storage at this app's again, as
    # building the app did, in case a test built another app since.
    limiter.init_app(application)
    factories.CURRENT_APP = application
    yield application
    factories.CURRENT_APP = None
    application.config.clear()
    application.config.update(config)
    application.extensions.clear()
    application.extensions.update(extensions)
    # SQLite's connections are closed after each test as before (cheap, and no WAL file kept
    # open across tests); PostgreSQL's stay in the pool, as each one costs a server process.
    truncate_all(application, dispose=own or backend == "sqlite")
    shutil.rmtree(media, ignore_errors=True)


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
