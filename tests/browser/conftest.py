"""A real server process (gunicorn) with the demo data, and Debian chromium driven by Playwright."""

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import (
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    _ensure_postgres_database,
    _reset_postgres,
    free_port,
    require,
    running_smtp_server,
)

ROOT = Path(__file__).resolve().parents[2]
# Debian's chromium-headless-shell (the same Chromium build without the desktop browser around
# it: about a sixth less CPU for the tier) where it is installed, else Debian's chromium.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or next(
    (
        path
        for path in ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium")
        if os.path.exists(path)
    ),
    "/usr/bin/chromium",
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
# Short, so the two-factor test sees the console ask for the factor again without waiting
# 15 minutes; only accounts with a second factor are affected.
STEP_UP_MAX_AGE = 30


class LiveServer:
    """A running Pasar server: `url(slug)` gives a store's address, `url()` the platform's."""

    def __init__(self, port: int, mode: str, proc, workers, env: dict):
        self.port, self.mode, self.proc, self.workers = port, mode, proc, workers
        self.env = env  # for running `flask` commands against the same database

    def url(self, slug: str | None = None, path: str = "/") -> str:
        host = f"{slug}.pasar.localhost" if slug else "pasar.localhost"
        return f"http://{host}:{self.port}{path}"


def _server_env(mode: str, tmp_path: Path, port: int) -> dict:
    env = {
        **os.environ,
        "PLATFORM_DOMAIN": f"pasar.localhost:{port}",
        "SECRET_KEY": "browser-test-secret-key",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PYTHONUNBUFFERED": "1",
        "STEP_UP_MAX_AGE": str(STEP_UP_MAX_AGE),
        # The webhook flow's receiver listens on loopback, which deliveries may reach only
        # when the platform allows private networks (app/webhooks/network.py).
        "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "1",
        # Stopped at the end of the run: no load balancer to drain for (gunicorn.conf.py), and
        # a stream left open mustn't hold the stop for the whole graceful timeout.
        "SHUTDOWN_DRAIN_SECONDS": "0",
        "GRACEFUL_TIMEOUT": "3",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "JOBS_INLINE"):
        env.pop(name, None)
    if mode == "embedded":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'browser.db'}"
    else:
        require(bool(TEST_DATABASE_URL), "TEST_DATABASE_URL is not set")
        require(bool(TEST_REDIS_URL), "TEST_REDIS_URL is not set")
        from app.config import normalise_database_url

        url = make_url(normalise_database_url(TEST_DATABASE_URL))
        url = url.set(database=f"{url.database}_browser")
        url_text = url.render_as_string(hide_password=False)
        _ensure_postgres_database(url_text)
        _reset_postgres(url_text)
        env["DATABASE_URL"] = url_text
        # The next Redis database after the tests' own, so parallel runs with their own
        # TEST_REDIS_URL don't share one.
        base, _, number = TEST_REDIS_URL.rpartition("/")
        env["REDIS_URL"] = f"{base}/{int(number or 0) + 1}"
        # A clean Redis too: rate limits and code cooldowns from an earlier run (sign-up codes
        # are limited per IP, and every browser is 127.0.0.1) must not leak into this one.
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    return env


def _flask(env, *args):
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        # The browser tests run alongside the rest of the suite: on a loaded machine seeding the
        # demo took over 120 s.
        timeout=600,
    )


@pytest.fixture(scope="session")
def live_smtp():
    """A real SMTP server the live servers send their mail to; `.messages` holds it all."""
    with running_smtp_server() as handler:
        yield handler


# BROWSER_MODES=embedded (or production) serves one mode only: scripts/test.sh runs each mode in a
# process of its own, side by side.
SERVER_MODES = [m for m in os.environ.get("BROWSER_MODES", "embedded,production").split(",") if m]


@pytest.fixture(scope="session", params=SERVER_MODES)
def live_server(request, tmp_path_factory, live_smtp):
    """Migrate, seed the demo and serve it with gunicorn (and an rq worker in production mode)."""
    mode = request.param
    tmp_path = tmp_path_factory.mktemp(f"live-{mode}")
    port = free_port()
    env = _server_env(mode, tmp_path, port)
    env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(live_smtp.port), JOB_RETRY_INTERVALS="1,1,1")
    _flask(env, "db", "upgrade")
    _flask(env, "seed-demo", "--products", "30")
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            # Several processes in both modes: embedded mode shares its codes and limits through
            # its shared-state file as production mode does through Redis.
            "--workers",
            "2",
            # Threads as in production (gunicorn.conf.py): a page's live stream holds one of
            # them, not the whole process, as it would under sync workers.
            "--threads",
            "8",
            "--access-logfile",
            "-",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    workers = []
    if mode == "production":
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    # Generous: on a loaded host (the main run's workers share the cores) imports alone can
    # take tens of seconds; a server that died fails at once below.
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                log.close()
                pytest.fail("the server did not start:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.2)
    yield LiveServer(port, mode, proc, workers, env)
    for p in [proc, *workers]:
        p.terminate()
    for p in [proc, *workers]:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
    log.close()


class EnglishBrowser:
    """The browser, whose new contexts ask for English (Accept-Language: en-US) unless a test
    names another `locale`, as desktop chromium does by itself: chromium-headless-shell sends
    no Accept-Language, and a store then answers in its own language."""

    def __init__(self, browser):
        self._browser = browser
        self._opened = []

    def new_context(self, **options):
        options.setdefault("locale", "en-US")
        context = self._browser.new_context(**options)
        self._opened.append(context)
        return context

    def close_contexts(self) -> None:
        """Close every context a test opened and left open. A page left open keeps its live
        streams, and a threaded server process holds four at most (LIVE_MAX_STREAMS): a later
        test's pages were refused theirs (204) and polled, and a flow waiting for its page to go
        live timed out."""
        from playwright.sync_api import Error

        for context in self._opened:
            with contextlib.suppress(Error):  # closed already, by the test or its browser
                context.close()
        self._opened.clear()

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless."""
    require(os.path.exists(CHROMIUM), f"chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield EnglishBrowser(instance)
        instance.close()


@pytest.fixture(autouse=True)
def _contexts_closed(request):
    """After each browser test, whatever contexts it left open are closed (see close_contexts)."""
    yield
    if "browser" in request.fixturenames:
        request.getfixturevalue("browser").close_contexts()


@pytest.fixture
def page(browser):
    """A fresh browser context and page; console errors are collected on `page.errors`."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.errors = []
    pg.on("console", lambda msg: msg.type == "error" and pg.errors.append(msg.text))
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    yield pg
    context.close()


# The server mode of the test running now (None outside a live-server test): screenshots are
# taken on request only (`make screenshots`), as pictures for people to look at, not checks.
_running = {"mode": None}
# BROWSER_SCREENSHOTS=embedded takes them in embedded mode (each flow's pages are the same HTML
# in both modes), =all in both; unset, none: a full-page capture costs chromium a quarter to a
# whole second of CPU, and a run took over 100 of them, about a fifth of the tier's chromium.
SCREENSHOT_MODES = {"embedded": ("embedded",), "all": ("embedded", "production")}.get(
    os.environ.get("BROWSER_SCREENSHOTS", ""), ()
)


@pytest.fixture(autouse=True)
def _server_mode_of_this_test(request):
    callspec = getattr(request.node, "callspec", None)
    _running["mode"] = callspec.params.get("live_server") if callspec else None
    yield
    _running["mode"] = None


def screenshot(page, name: str) -> Path | None:
    """Save a full-page PNG under test-artifacts/ for people to look at, in the modes
    BROWSER_SCREENSHOTS names (none unless it is set; a test outside a live server: any)."""
    mode = _running["mode"]
    if not SCREENSHOT_MODES or (mode is not None and mode not in SCREENSHOT_MODES):
        return None
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def pytest_collection_modifyitems(config, items):
    """Deselect (a skip would fail a CI run) the production copies of `embedded_only` tests."""
    dropped = [
        item
        for item in items
        if item.get_closest_marker("embedded_only") and "[production" in item.nodeid
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
