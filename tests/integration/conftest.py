"""A real `flask worker` process on real Redis, against this test's database."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PLATFORM, TEST_REDIS_URL, make_app, require, truncate_all

ROOT = Path(__file__).resolve().parents[2]


# The marks of a module whose tests run a real worker on Redis: production mode, which is
# PostgreSQL and Redis (README, "Two modes"); SQLite with a worker is no mode Pasar has.
PRODUCTION_MODE = [pytest.mark.integration, pytest.mark.backends("postgresql")]


def wait_for(
    predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition", state=None
):
    """Poll `predicate` until it returns something truthy, or fail after `timeout` seconds;
    `state()`, if given, says in the failure what was there instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    found = f" (found: {state()!r})" if state is not None else ""
    pytest.fail(f"timed out after {timeout}s waiting for {what}{found}")


@pytest.fixture
def production_app(backend, database_urls, redis_url, smtp_server):
    """An app in production mode: jobs go to real Redis, for a real worker (the modules that
    use it are marked PRODUCTION_MODE)."""
    require(bool(TEST_REDIS_URL), "TEST_REDIS_URL is not set")
    app = make_app(
        database_urls(backend),
        redis_url,
        JOBS_INLINE=False,
        JOB_RETRY_INTERVALS=[1, 1, 1],
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server.port,
    )
    yield app
    truncate_all(app)


@pytest.fixture
def worker(production_app, smtp_server, tmp_path):
    """`flask worker` in a subprocess, with its scheduler, on the test's database and Redis."""
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": production_app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": production_app.config["REDIS_URL"],
        "SECRET_KEY": "test-secret-key",
        "PLATFORM_DOMAIN": PLATFORM,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_server.port),
        "MAIL_TIMEOUT": "5",
        "PYTHONUNBUFFERED": "1",
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    proc.log_path = log_path
    try:
        from rq import Worker

        from app.extensions import redis_client

        with production_app.app_context():
            conn = redis_client.get()
            wait_for(lambda: Worker.all(connection=conn), timeout=30, what="the worker to start")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.returncode not in (0, -15, 143, 1):
            print(log_path.read_text())
