"""Live update streams under real gunicorn processes, with events published by another process:
embedded mode's threads (capped, so pages still get threads) and the production `stream`
process (gevent, Redis)."""

import os
import queue
import threading
import time

import pytest
import requests

from app.live import publish, stock_channel
from tests.conftest import (
    PLATFORM,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    _ensure_postgres_database,
    _migrate,
    _reset_postgres,
    make_app,
    require,
)
from tests.integration.processes import free_port, start_gunicorn, stop

pytestmark = pytest.mark.integration


def _store(url: str, redis_url: str | None, shared: str):
    """A migrated SQLite database with one store; returns the publishing app and the store id."""
    _migrate(url)
    app = make_app(url, redis_url, SHARED_STATE_PATH=shared)
    with app.app_context():
        from app.accounts.service import create_user
        from app.extensions import db
        from tenants.provisioning import create_store

        owner = create_user("live@example.com", "live-password-1", verified=True)
        db.session.flush()
        store = create_store(slug="live", name="Live", owner=owner)
        db.session.commit()
        return app, store.id


def _open(port: int, heard: queue.Queue, opened: list, responses: list | None = None):
    """Open one stream in a thread; its event lines go to `heard`; its status to `opened`."""

    def run():
        try:
            response = requests.get(
                f"http://127.0.0.1:{port}/live/stock",
                headers={"Host": f"live.{PLATFORM}"},
                stream=True,
                timeout=(3, 30),
            )
            opened.append(response.status_code)
            if responses is not None:
                responses.append(response)
            if response.status_code != 200:
                return
            for line in response.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    heard.put(line)
        except (requests.RequestException, AttributeError, ValueError):
            pass  # the test closed it, or stopped the server

    thread = threading.Thread(target=run, daemon=True)
    thread.start()


def _status(port: int) -> int:
    """The status a new stream gets (closed at once)."""
    with requests.get(
        f"http://127.0.0.1:{port}/live/stock",
        headers={"Host": f"live.{PLATFORM}"},
        stream=True,
        timeout=5,
    ) as response:
        return response.status_code


def _wait(condition, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _env(url: str, shared: str, **extra) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SHARED_STATE_PATH": shared,
        "SECRET_KEY": "test-secret-key-for-live-processes",
        "PLATFORM_DOMAIN": PLATFORM,
        "MAIL_SERVER": "",
        "PYTHONUNBUFFERED": "1",
        "LIVE_HEARTBEAT_SECONDS": "1",
        **extra,
    }


def test_embedded_mode_streams_take_at_most_their_share_of_threads(tmp_path):
    """One gthread worker (8 threads), LIVE_MAX_STREAMS=3: three streams open, a fourth is told
    204 (its page keeps polling), pages still answer at once, and an event published by another
    process (through the shared SQLite file) reaches every open stream."""
    url = f"sqlite:///{tmp_path / 'pasar.db'}"
    shared = str(tmp_path / "shared.kv")
    app, store_id = _store(url, None, shared)
    port = free_port()
    env = _env(url, shared, REDIS_URL="", LIVE_MAX_STREAMS="3", LIVE_HEARTBEAT_SECONDS="60")
    proc = start_gunicorn(env, port, tmp_path / "gunicorn.log", workers=1)
    heard, opened, responses = queue.Queue(), [], []
    try:
        for _ in range(3):
            _open(port, heard, opened, responses)
        assert _wait(lambda: len(opened) == 3) and opened == [200, 200, 200]
        time.sleep(0.3)  # the three are subscribed
        assert _status(port) == 204
        started = time.monotonic()
        page = requests.get(f"http://127.0.0.1:{port}/", headers={"Host": f"live.{PLATFORM}"})
        assert page.status_code == 200 and time.monotonic() - started < 3
        with app.app_context():
            publish(stock_channel(store_id), "stock", {"variants": [42]})
        assert _wait(lambda: heard.qsize() >= 3), f"{heard.qsize()} of 3 streams heard it"
        assert {heard.get() for _ in range(3)} == {'data: {"variants": [42]}'}
        # A browser that leaves (a page change) frees its place within a second or so, not
        # at the next heartbeat: a new page's stream is let in.
        # shutdown() first: close() alone waits for the reading thread's read, up to its
        # 30 s timeout (the reader holds the buffered reader's lock), as a tab closing doesn't.
        responses[0].raw.shutdown()
        responses[0].close()
        assert _wait(lambda: _status(port) == 200, timeout=5), "the place was not freed"
    finally:
        stop(proc)


def test_the_stream_process_holds_many_streams_and_relays_redis_events(tmp_path):
    """The Procfile's `stream` process: one gevent worker holds 200 streams at once (a gthread
    worker would need 200 threads), answers a plain request meanwhile, and relays an event
    published elsewhere through Redis to all of them."""
    require(bool(TEST_REDIS_URL), "TEST_REDIS_URL is not set")
    require(bool(TEST_DATABASE_URL), "TEST_DATABASE_URL is not set")
    import redis
    from sqlalchemy.engine import make_url

    redis_url = TEST_REDIS_URL
    redis.Redis.from_url(redis_url).flushdb()
    # PostgreSQL, as in production: under gevent, SQLite's busy wait (C code) would stall every
    # greenlet of the process while another one holds the write lock.
    url = make_url(TEST_DATABASE_URL)
    url = url.set(database=f"{url.database}_live").render_as_string(hide_password=False)
    _ensure_postgres_database(url)
    _reset_postgres(url)
    shared = str(tmp_path / "shared.kv")
    app, store_id = _store(url, redis_url, shared)
    port = free_port()
    env = _env(url, shared, REDIS_URL=redis_url, JOBS_INLINE="1")
    gevent = ("--worker-class", "gevent", "--worker-connections", "1000")
    proc = start_gunicorn(env, port, tmp_path / "stream.log", workers=1, extra=gevent)
    heard, opened = queue.Queue(), []
    try:
        for _ in range(200):
            _open(port, heard, opened)
        assert _wait(lambda: len(opened) == 200, timeout=60), f"{len(opened)} opened"
        assert set(opened) == {200}
        time.sleep(0.5)
        started = time.monotonic()
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        assert time.monotonic() - started < 1
        with app.app_context():
            publish(stock_channel(store_id), "stock", {"variants": [7]})
        assert _wait(lambda: heard.qsize() >= 200, timeout=20), f"{heard.qsize()} of 200 heard"
    finally:
        stop(proc)
        redis.Redis.from_url(redis_url).flushdb()
