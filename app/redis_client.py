"""One Redis connection per app: real Redis with `REDIS_URL`, a shared SQLite file otherwise."""

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry


def quick_retry() -> Retry:
    """One retry, 10 to 50 ms later: enough for a pooled connection that Redis has closed (a
    restart, an idle timeout), since the next connection works. redis-py's own default is ten
    retries with a backoff of up to a second each, so while Redis was away every call made in a
    request waited about 4 s (refused) or over 20 s (unreachable, 2 s per attempt) before its
    caller could fall back (no cache, memory limits, the sweep re-queues the job)."""
    return Retry(ExponentialBackoff(cap=0.05, base=0.01), 1)


def connect(url: str, *, patient: bool = False, **options) -> redis.Redis:
    """A client with short timeouts and `quick_retry`, so a Redis outage degrades pages instead
    of hanging them; `patient` keeps redis-py's own retries (see `RedisClient.patient`)."""
    settings = {"socket_timeout": 2, "socket_connect_timeout": 2}
    if not patient:
        settings["retry"] = quick_retry()
    return redis.Redis.from_url(url, **{**settings, **options})


class RedisClient:
    """Holds the app's Redis connection; `get()` returns it."""

    def __init__(self):
        self._connections: dict[int, redis.Redis] = {}

    def init_app(self, app) -> None:
        """Connect lazily to `REDIS_URL`, or keep data where every embedded process sees it."""
        url = app.config.get("REDIS_URL")
        if url:
            conn = connect(url)
        else:
            from app.kvstore import SqliteKV

            conn = SqliteKV(app.config["SHARED_STATE_PATH"])
        app.extensions["pasar_redis"] = conn

    @staticmethod
    def patient() -> redis.Redis:
        """For a worker or cron process: the app's connection becomes one with redis-py's
        patient retries (ten, up to a second apart), which rq's scheduler thread and its job
        heartbeats count on to ride out a blip; the process's own loop waits out longer
        outages (`run_through_outages`). A request never waits like that."""
        from flask import current_app

        conn = connect(current_app.config["REDIS_URL"], patient=True)
        current_app.extensions["pasar_redis"] = conn
        return conn

    @staticmethod
    def get() -> redis.Redis:
        """The current app's Redis connection."""
        from flask import current_app

        return current_app.extensions["pasar_redis"]
