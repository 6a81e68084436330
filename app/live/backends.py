"""Where live events travel between processes: Redis in production, a SQLite file when embedded.

Both keep a short history per channel (for `Last-Event-ID` resume) and deliver every new event
to a process-wide listener, which the hub fans out to the streams open in that process.

- `RedisBackend`: one Lua script appends the event to the channel's Redis stream (`XADD`,
  capped with `MAXLEN ~`, expiring when the channel goes quiet) and `PUBLISH`es it with the id
  the stream gave it, atomically, so history and live delivery agree on ids and order. Each
  process holds one pattern subscription for every channel, not one connection per stream.
- `SqliteBackend`: embedded mode may run several gunicorn processes without Redis, so events go
  to a `live_events` table in the shared-state SQLite file (app/kvstore.py's file, a table of
  its own) and each process's listener polls it a few times a second. Rows older than the
  history window are pruned on write. Meant for one machine and a handful of viewers.
"""

import json
import sqlite3
import threading
import time
from dataclasses import dataclass

import redis

from app.redis_client import connect

HISTORY = 200  # events kept per channel for resume (Redis keeps about this many)
HISTORY_SECONDS = 600  # a channel's history is dropped after this long without an event
POLL_SECONDS = 0.2  # embedded mode: how often a process looks for new events


@dataclass(frozen=True)
class Event:
    """One live event: its id (for Last-Event-ID), channel, name and JSON-able data."""

    id: str
    channel: str
    name: str
    data: dict


class RedisBackend:
    """Events through Redis: a capped stream per channel for history, pub/sub for delivery."""

    PREFIX = "live:"
    HISTORY_PREFIX = "live-history:"
    _SCRIPT = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2], 'd', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[5], id .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[3])
return id
"""

    def __init__(self, url: str):
        self.url = url
        # Short timeouts for publishing: a Redis outage must not hang the request that changed
        # something. The listener has a connection of its own.
        self.conn = connect(url)
        self._script = self.conn.register_script(self._SCRIPT)
        # Pub/sub channels are server-wide, not per database: two deployments (or two test
        # workers) on one Redis server with different database numbers would hear each
        # other's events. The database number keeps them apart, as it does their keys.
        database = self.conn.connection_pool.connection_kwargs.get("db", 0)
        self.channel_prefix = f"{self.PREFIX}{database}:"

    def publish(self, channel: str, name: str, data: dict) -> str:
        """Record and deliver one event; returns its id."""
        event_id = self._script(
            keys=[self.HISTORY_PREFIX + channel],
            args=[HISTORY, name, json.dumps(data), HISTORY_SECONDS, self.channel_prefix + channel],
        )
        return event_id.decode() if isinstance(event_id, bytes) else event_id

    @staticmethod
    def id_at(timestamp: float) -> str:
        """An id just before every event published after `timestamp` (Redis ids are times)."""
        return f"{max(int(timestamp * 1000), 0)}-0"

    def last_id(self, channel: str) -> str:
        """The id of the channel's latest event ("0-0" for none): where a new stream starts."""
        rows = self.conn.xrevrange(self.HISTORY_PREFIX + channel, count=1)
        return rows[0][0].decode() if rows else "0-0"

    def history(self, channel: str, after: str) -> list[Event]:
        """The channel's events after id `after` (oldest first); [] for an unknown id."""
        if self.sort_key(after) is None:
            return []
        rows = self.conn.xrange(self.HISTORY_PREFIX + channel, min=f"({after}", max="+")
        return [
            Event(row_id.decode(), channel, fields[b"e"].decode(), json.loads(fields[b"d"]))
            for row_id, fields in rows
        ]

    @staticmethod
    def sort_key(event_id: str | None):
        """Ids compare as (milliseconds, sequence); None for something that isn't an id Redis
        could have given (both parts are unsigned 64-bit: a larger one makes XRANGE fail)."""
        try:
            ms, _, seq = (event_id or "").partition("-")
            key = (int(ms), int(seq or 0))
        except ValueError:
            return None
        return key if all(0 <= part < 2**64 for part in key) else None

    def listen(self, deliver, stopping: threading.Event, ready=lambda: None) -> None:
        """Call `deliver(event)` for every event published anywhere until `stopping` is set;
        `ready()` once the subscription is in place."""
        conn = redis.Redis.from_url(
            self.url, socket_connect_timeout=2, socket_timeout=30, health_check_interval=15
        )
        pubsub = conn.pubsub()
        try:
            pubsub.psubscribe(self.channel_prefix + "*")
            while not stopping.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "psubscribe":
                    ready()
                if message["type"] != "pmessage":
                    continue
                channel = message["channel"].decode()[len(self.channel_prefix) :]
                event_id, name, data = message["data"].decode().split("\n", 2)
                deliver(Event(event_id, channel, name, json.loads(data)))
        finally:
            pubsub.close()
            conn.close()


class SqliteBackend:
    """Events through a table in the shared-state SQLite file, polled by each process."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS live_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at REAL NOT NULL
    )
    """

    def __init__(self, path: str):
        self.path = path
        with self._connect() as conn:
            conn.execute(self.SCHEMA)
            conn.execute(
                "CREATE INDEX IF NOT EXISTS live_events_channel ON live_events (channel, id)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=15, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def publish(self, channel: str, name: str, data: dict) -> str:
        """Record one event (the listeners find it on their next poll); returns its id."""
        now = time.time()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            cursor = conn.execute(
                "INSERT INTO live_events (channel, name, data, created_at) VALUES (?, ?, ?, ?)",
                (channel, name, json.dumps(data), now),
            )
            event_id = cursor.lastrowid
            if event_id % 50 == 0:
                conn.execute(
                    "DELETE FROM live_events WHERE created_at < ?", (now - HISTORY_SECONDS,)
                )
            conn.execute("COMMIT")
        finally:
            conn.close()
        return str(event_id)

    def id_at(self, timestamp: float) -> str:
        """An id just before every event published after `timestamp`."""
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT COALESCE(MAX(id), 0) FROM live_events WHERE created_at <= ?", (timestamp,)
            ).fetchone()
        finally:
            conn.close()
        return str(row[0])

    def last_id(self, channel: str) -> str:
        """The id of the channel's latest event ("0" for none): where a new stream starts."""
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT MAX(id) FROM live_events WHERE channel = ?", (channel,)
            ).fetchone()
        finally:
            conn.close()
        return str(row[0] or 0)

    def history(self, channel: str, after: str) -> list[Event]:
        """The channel's events after id `after` (oldest first, the last HISTORY of them)."""
        start = self.sort_key(after)
        if start is None:
            return []
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT id, name, data FROM live_events WHERE channel = ? AND id > ?"
                " ORDER BY id DESC LIMIT ?",
                (channel, start, HISTORY),
            ).fetchall()
        finally:
            conn.close()
        return [Event(str(i), channel, name, json.loads(data)) for i, name, data in rows[::-1]]

    @staticmethod
    def sort_key(event_id: str | None):
        """Ids are row numbers; None for something that isn't one (SQLite's are signed 64-bit)."""
        try:
            key = int(event_id or "")
        except ValueError:
            return None
        return key if 0 <= key < 2**63 else None

    def listen(self, deliver, stopping: threading.Event, ready=lambda: None) -> None:
        """Poll for events newer than the last seen and deliver them until `stopping` is set;
        `ready()` once the starting point is known."""
        conn = self._connect()
        try:
            last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM live_events").fetchone()[0]
            ready()
            while not stopping.is_set():
                rows = conn.execute(
                    "SELECT id, channel, name, data FROM live_events WHERE id > ?"
                    " ORDER BY id LIMIT 1000",
                    (last,),
                ).fetchall()
                for event_id, channel, name, data in rows:
                    last = event_id
                    deliver(Event(str(event_id), channel, name, json.loads(data)))
                if not rows:
                    stopping.wait(POLL_SECONDS)
        finally:
            conn.close()
