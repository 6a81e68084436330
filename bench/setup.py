"""What the multi-process benchmarks share: a fresh migrated database, an empty Redis database,
an app on them, and one store with an owner."""

import os
import subprocess
import sys
from pathlib import Path

from bench.catalog import reset_database

ROOT = Path(__file__).resolve().parent.parent


def prepare(url: str, redis_url: str, **extra_env: str):
    """Reset and migrate `url`, flush `redis_url`, and put both in this process's environment
    (for the servers and workers it starts). Returns (app, env)."""
    reset_database(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret-key-bench-secret-key",
        "PLATFORM_DOMAIN": "pasar.test",
        **extra_env,
    }
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    os.environ.update(env)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": redis_url}), env


def bench_store():
    """The benchmark's store and its owner (inside an app context)."""
    from app.accounts.service import create_user
    from app.extensions import db
    from tenants.provisioning import create_store

    owner = create_user("bench@example.com", "bench-password-1", verified=True)
    db.session.flush()
    store = create_store(slug="bench", name="Bench", owner=owner)
    db.session.commit()
    return store, owner
