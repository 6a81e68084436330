"""Embedded mode's stand-in for Redis: a key-value table in a SQLite file every process shares.

Codes, the sign-in throttle, held registrations, caches and request limits must be seen by
every gunicorn worker, or a code sent by one worker is unknown to the next. Without Redis
they live in `kv_entries` (key, value, expires_at) in a SQLite file next to the embedded
database. `SqliteKV` implements exactly the subset of redis-py that Pasar calls; each command (or a
whole pipeline) is one transaction, `BEGIN IMMEDIATE` when it writes, so it is atomic across
threads and processes, and expired rows are ignored on read and pruned now and then.

The file is separate from the main database on purpose: the app's own transactions take
SQLite's write lock (`BEGIN IMMEDIATE`) for their whole length, so a counter kept in the same
file, written on a second connection in the middle of a request, would wait for the lock that
its own request holds.
"""

import fnmatch
import os
import random
import sqlite3
import threading
import time
import urllib.parse

import redis
from limits.storage import Storage

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv_entries (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_at REAL
)
"""
PRUNE_EVERY = 200  # about one write in this many also deletes every expired row
BUSY_TIMEOUT = 15  # seconds a command waits for another process's write
READ_ONLY = frozenset({"get", "ttl", "exists"})


class KVError(redis.ConnectionError):
    """The shared-state file can't be used (locked too long, unwritable); callers that
    survive a Redis outage survive this the same way."""


def _encode(value) -> bytes:
    # What redis-py does: bytes as they are, text as UTF-8, numbers as their digits.
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise redis.DataError(f"Invalid input of type {type(value).__name__}")
    return repr(value).encode()


def _live(cur, key: str, now: float):
    """(value, expires_at) of `key`, or None when it is absent or expired."""
    row = cur.execute("SELECT value, expires_at FROM kv_entries WHERE key = ?", (key,)).fetchone()
    if row is None or (row[1] is not None and row[1] <= now):
        return None
    return row


def _ttl(expires_at: float | None, now: float) -> int:
    return -1 if expires_at is None else max(int(expires_at - now + 0.5), 0)


def _keys_as_text(command: str, args: tuple) -> tuple:
    # Keys may come back as bytes (scan_iter, like redis-py); the table holds them as text.
    def text(key):
        return key.decode() if isinstance(key, bytes) else key

    if command in ("delete", "exists"):
        return tuple(text(key) for key in args)
    return (text(args[0]), *args[1:])


class _Commands:
    """The redis-py commands Pasar uses, each run on a cursor inside an open transaction."""

    @staticmethod
    def get(cur, now, key):
        row = _live(cur, key, now)
        return None if row is None else bytes(row[0])

    @staticmethod
    def set(cur, now, key, value, ex=None, nx=False):
        if nx and _live(cur, key, now) is not None:
            return None
        expires_at = now + ex if ex is not None else None
        cur.execute(
            "INSERT OR REPLACE INTO kv_entries (key, value, expires_at) VALUES (?, ?, ?)",
            (key, _encode(value), expires_at),
        )
        return True

    @staticmethod
    def incr(cur, now, key, amount=1):
        row = _live(cur, key, now)
        try:
            current = int(row[0]) if row is not None else 0
        except ValueError:
            raise redis.ResponseError("value is not an integer or out of range") from None
        expires_at = row[1] if row is not None else None  # INCR keeps the key's TTL
        cur.execute(
            "INSERT OR REPLACE INTO kv_entries (key, value, expires_at) VALUES (?, ?, ?)",
            (key, str(current + amount).encode(), expires_at),
        )
        return current + amount

    @staticmethod
    def expire(cur, now, key, seconds, nx=False):
        row = _live(cur, key, now)
        if row is None or (nx and row[1] is not None):
            return False
        cur.execute("UPDATE kv_entries SET expires_at = ? WHERE key = ?", (now + int(seconds), key))
        return True

    @staticmethod
    def ttl(cur, now, key):
        row = _live(cur, key, now)
        return -2 if row is None else _ttl(row[1], now)

    @staticmethod
    def delete(cur, now, *keys):
        found = sum(_live(cur, key, now) is not None for key in keys)
        cur.executemany("DELETE FROM kv_entries WHERE key = ?", [(key,) for key in keys])
        return found

    @staticmethod
    def getdel(cur, now, key):
        value = _Commands.get(cur, now, key)
        cur.execute("DELETE FROM kv_entries WHERE key = ?", (key,))
        return value

    @staticmethod
    def exists(cur, now, *keys):
        return sum(_live(cur, key, now) is not None for key in keys)


class SqliteKV:
    """The part of `redis.Redis` that Pasar uses, kept in a SQLite file (see the module doc)."""

    def __init__(self, path: str):
        self.path = str(path)
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and per process: a connection must not cross a fork.
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # Codes and counters are short-lived: a power cut may lose the last few writes,
            # but no commit waits for the disk (WAL still keeps the file consistent).
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(SCHEMA)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _run(self, calls):
        """Run [(command, args, kwargs)] as one transaction; return their results."""
        try:
            conn = self._connection()
            cur = conn.cursor()
            # Reads don't take the write lock (WAL lets them run beside a writer); anything
            # that writes takes it first, so its read-modify-write is atomic.
            writes = any(name not in READ_ONLY for name, _, _ in calls)
            cur.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
            try:
                now = time.time()
                results = [
                    getattr(_Commands, name)(cur, now, *_keys_as_text(name, args), **kwargs)
                    for name, args, kwargs in calls
                ]
                if writes and random.randrange(PRUNE_EVERY) == 0:
                    cur.execute("DELETE FROM kv_entries WHERE expires_at <= ?", (now,))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise KVError(f"shared state at {self.path}: {exc}") from exc
        return results

    def _one(self, name, *args, **kwargs):
        return self._run([(name, args, kwargs)])[0]

    def get(self, key):
        """GET."""
        return self._one("get", key)

    def set(self, key, value, ex=None, nx=False):
        """SET with EX and NX."""
        return self._one("set", key, value, ex=ex, nx=nx)

    def incr(self, key, amount=1):
        """INCRBY."""
        return self._one("incr", key, amount)

    def expire(self, key, seconds, nx=False):
        """EXPIRE, with NX (only when the key has no TTL yet)."""
        return self._one("expire", key, seconds, nx=nx)

    def ttl(self, key):
        """TTL: seconds left, -1 without expiry, -2 when absent."""
        return self._one("ttl", key)

    def delete(self, *keys):
        """DEL: how many of `keys` existed."""
        return self._one("delete", *keys) if keys else 0

    def getdel(self, key):
        """GETDEL."""
        return self._one("getdel", key)

    def exists(self, *keys):
        """EXISTS."""
        return self._one("exists", *keys)

    def scan_iter(self, match: str = "*"):
        """The live keys matching a glob pattern (tests use it to fast-forward time)."""
        now = time.time()
        try:
            rows = self._connection().execute(
                "SELECT key FROM kv_entries WHERE expires_at IS NULL OR expires_at > ?", (now,)
            )
            keys = [key for (key,) in rows]
        except sqlite3.Error as exc:
            raise KVError(str(exc)) from exc
        return iter([key.encode() for key in keys if fnmatch.fnmatchcase(key, match)])

    def flushdb(self):
        """Drop every key."""
        try:
            self._connection().execute("DELETE FROM kv_entries")
        except sqlite3.Error as exc:
            raise KVError(str(exc)) from exc
        return True

    def ping(self):
        """Check that the file can be read."""
        self._one("exists", "ping")
        return True

    def pipeline(self, transaction: bool = True):
        """Queue commands and run them together; always as one transaction here."""
        return Pipeline(self)


class Pipeline:
    """Commands queued by chaining, run by `execute()` in one transaction."""

    def __init__(self, kv: SqliteKV):
        self._kv = kv
        self._calls: list = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._calls = []

    def _queue(name):  # each queued command returns the pipeline, for chaining
        def method(self, *args, **kwargs):
            self._calls.append((name, args, kwargs))
            return self

        method.__name__ = name
        return method

    get = _queue("get")
    set = _queue("set")
    incr = _queue("incr")
    expire = _queue("expire")
    ttl = _queue("ttl")
    delete = _queue("delete")
    getdel = _queue("getdel")
    exists = _queue("exists")
    del _queue

    def execute(self):
        """Run the queued commands; their results in order."""
        calls, self._calls = self._calls, []
        return self._kv._run(calls) if calls else []


def kv_path_for(database_uri: str, instance_path: str) -> str:
    """Where embedded mode keeps shared state: beside a SQLite database file, else in instance/."""
    prefix = "sqlite:///"
    path = database_uri[len(prefix) :].split("?")[0] if database_uri.startswith(prefix) else ""
    if path in ("", ":memory:"):
        return os.path.join(instance_path, "shared-state.kv")
    # Flask-SQLAlchemy reads a relative SQLite path from the instance folder; so do we.
    return os.path.join(instance_path, path) + ".kv"


class SqliteKVStorage(Storage):
    """Flask-Limiter's counters in the shared-state file (`sqlite-kv:///path`), so a limit
    counts the requests of every process."""

    STORAGE_SCHEME = ["sqlite-kv"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.kv = SqliteKV(urllib.parse.unquote(urllib.parse.urlparse(uri).path))

    @property
    def base_exceptions(self):
        return redis.RedisError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Count `amount` more; the first count of a window starts its expiry."""
        count, _ = self.kv._run(
            [("incr", (key, amount), {}), ("expire", (key, max(int(expiry), 1)), {"nx": True})]
        )
        return count

    def get(self, key: str) -> int:
        """The count in the current window."""
        return int(self.kv.get(key) or 0)

    def get_expiry(self, key: str) -> float:
        """When the current window ends (a Unix time)."""
        ttl = self.kv.ttl(key)
        return time.time() + max(ttl, 0)

    def check(self) -> bool:
        """Whether the file answers."""
        try:
            return self.kv.ping()
        except redis.RedisError:
            return False

    def reset(self) -> int | None:
        """Forget every counter (and nothing else kept in the file)."""
        keys = [key.decode() for key in self.kv.scan_iter("LIMITER*")]
        return self.kv.delete(*keys)

    def clear(self, key: str) -> None:
        """Forget one counter."""
        self.kv.delete(key)
