"""One Redis connection per app: real Redis with `REDIS_URL`, a shared SQLite file otherwise."""

import redis


class RedisClient:
    """Holds the app's Redis connection; `get()` returns it."""

    def __init__(self):
        self._connections: dict[int, redis.Redis] = {}

    def init_app(self, app) -> None:
        """Connect lazily to `REDIS_URL`, or keep data where every embedded process sees it."""
        url = app.config.get("REDIS_URL")
        if url:
            # Short timeouts: a Redis outage must degrade pages, not hang them.
            conn = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        else:
            from app.kvstore import SqliteKV

            conn = SqliteKV(app.config["SHARED_STATE_PATH"])
        app.extensions["pasar_redis"] = conn

    @staticmethod
    def get() -> redis.Redis:
        """The current app's Redis connection."""
        from flask import current_app

        return current_app.extensions["pasar_redis"]
