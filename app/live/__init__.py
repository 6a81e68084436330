"""Live updates: domain code publishes events after its commit, open pages hear them over SSE.

`publish_after_commit(channel, name, data)` is what domain functions call (order placement and
status changes, stock movements, stock sync progress, job status, and `availability_changed`,
the hook stock holds call): the event waits in the session until the transaction commits and is
dropped on rollback, so a page never refreshes for a change that didn't happen. The backend
(app/live/backends.py) carries it to every process; each process's `Hub` fans it out to the
streams open there (app/live/views.py). Events name what changed, not how it looks: the page
answers by fetching its own fragment through the usual views, so every viewer sees what their
own access allows.

Channels, one per audience, each with its own check in app/live/views.py:
  store:<id>:stock    a store's public stock (product pages, cart, checkout)
  store:<id>:admin    a store's dashboard (members of that store)
  order:<id>          one order (its shopper, the holder of its link, the store's staff)
  console             the platform console (superusers on the platform host)
"""

import logging
import os
import queue
import threading
import time

from flask import current_app, g
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.live.backends import Event, RedisBackend, SqliteBackend

log = logging.getLogger(__name__)

_PENDING = "live_pending"
CONSOLE = "console"


def stock_channel(store_id: int) -> str:
    """A store's public stock channel."""
    return f"store:{store_id}:stock"


def admin_channel(store_id: int) -> str:
    """A store's dashboard channel."""
    return f"store:{store_id}:admin"


def order_channel(order_id: int) -> str:
    """One order's channel."""
    return f"order:{order_id}"


class Subscription:
    """One open stream's inbox. A stream that falls far behind is closed (`overflowed`), and
    its browser reconnects with Last-Event-ID, rather than holding memory for it."""

    def __init__(self, channel: str, size: int = 256):
        self.channel = channel
        self.inbox: queue.Queue = queue.Queue(size)
        self.overflowed = False

    def put(self, item: Event) -> None:
        try:
            self.inbox.put_nowait(item)
        except queue.Full:
            self.overflowed = True

    def get(self, timeout: float) -> Event | None:
        """The next event, or None after `timeout` seconds without one."""
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None


class Hub:
    """This process's fan-out: one listener on the backend, any number of subscriptions."""

    def __init__(self, backend):
        self.backend = backend
        self._lock = threading.Lock()
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def subscribe(self, channel: str) -> Subscription:
        """A new subscription to `channel`; starts this process's listener on first use."""
        subscription = Subscription(channel)
        with self._lock:
            self._subscriptions.setdefault(channel, set()).add(subscription)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="live-hub", daemon=True)
                self._thread.start()
        # Events published before the listener is attached would be missed: wait for it (a
        # resuming stream also reads the history, so a slow start loses nothing either way).
        self._listening.wait(2)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a closed stream's subscription."""
        with self._lock:
            subscribers = self._subscriptions.get(subscription.channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscriptions[subscription.channel]

    def count(self) -> int:
        """How many streams this process holds open."""
        with self._lock:
            return sum(len(s) for s in self._subscriptions.values())

    def deliver(self, item: Event) -> None:
        """Hand one event to every subscription of its channel in this process."""
        self._listening.set()
        with self._lock:
            subscribers = list(self._subscriptions.get(item.channel, ()))
        for subscription in subscribers:
            subscription.put(item)

    def _resync(self) -> None:
        """The listener lost its connection: what was published until it is back never reaches
        the streams open now (pub/sub keeps nothing). End them as if they fell behind: each
        browser reconnects with its last event id, and the history fills the gap."""
        with self._lock:
            subscriptions = [s for group in self._subscriptions.values() for s in group]
        for subscription in subscriptions:
            subscription.overflowed = True

    def close(self) -> None:
        """Stop the listener (tests, shutdown)."""
        self._stopping.set()

    def _run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                self.backend.listen(self.deliver, self._stopping, ready=self._listening.set)
                delay = 0.5
            except Exception as exc:
                self._listening.clear()
                self._resync()
                log.warning("live listener lost (%s: %s); retrying", type(exc).__name__, exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, 10)


class Live:
    """The app's live layer: its backend, and this process's hub (made after any fork)."""

    def __init__(self, backend):
        self.backend = backend
        self._hub: Hub | None = None
        self._lock = threading.Lock()

    @property
    def hub(self) -> Hub:
        with self._lock:
            if self._hub is None or self._hub._pid != os.getpid():
                self._hub = Hub(self.backend)
            return self._hub


def init_app(app) -> None:
    """Pick the backend: Redis with REDIS_URL, the shared-state SQLite file otherwise."""
    if app.config.get("REDIS_URL"):
        backend = RedisBackend(app.config["REDIS_URL"])
    else:
        backend = SqliteBackend(app.config["SHARED_STATE_PATH"])
    app.extensions["pasar_live"] = Live(backend)

    @app.before_request
    def _note_start():
        g.live_started = time.time()


def live() -> Live:
    """The current app's live layer."""
    return current_app.extensions["pasar_live"]


_PAUSE_AFTER_FAILURE = 5.0  # seconds without trying after the backend failed
_paused_until = 0.0


def publish(channel: str, name: str, data: dict | None = None) -> str | None:
    """Send one event now (after the change is committed); returns its id, or None when the
    backend is down: a live update is a courtesy, never a reason for the change to fail. After a
    failure it stops trying for a few seconds, so an unreachable Redis (a 2 s timeout each time)
    doesn't slow every commit; pages poll meanwhile."""
    global _paused_until
    if time.monotonic() < _paused_until:
        return None
    try:
        return live().backend.publish(channel, name, data or {})
    except Exception as exc:  # Redis down, the shared file locked too long
        _paused_until = time.monotonic() + _PAUSE_AFTER_FAILURE
        log.warning("live event %s on %s not sent (%s: %s)", name, channel, type(exc).__name__, exc)
        return None


PAGE_MARGIN = 5.0  # seconds: clocks of web, worker and Redis hosts may differ this much


def page_since() -> str | None:
    """Where the streams of the page being rendered start: just before this request began, so
    an event published while the view read its rows (which the page may not show) is replayed
    when the stream connects. None while the backend is down (the stream starts when it
    connects)."""
    global _paused_until
    if time.monotonic() < _paused_until:
        return None
    started = g.get("live_started") or time.time()
    try:
        return live().backend.id_at(started - PAGE_MARGIN)
    except Exception as exc:  # as in publish: a page must not wait on an unreachable backend
        _paused_until = time.monotonic() + _PAUSE_AFTER_FAILURE
        log.warning("live: no starting id (%s: %s)", type(exc).__name__, exc)
        return None


def publish_after_commit(channel: str, name: str, data: dict | None = None) -> None:
    """Send one event once the current transaction commits (nothing on rollback). Events of
    one transaction with the same channel and name go out once, their `variants` merged."""
    from app.extensions import db

    pending = db.session.info.setdefault(_PENDING, {})
    data = dict(data or {})
    earlier = pending.get((channel, name))
    if earlier is not None and "variants" in earlier and "variants" in data:
        data["variants"] = sorted(set(earlier["variants"]) | set(data["variants"]))
    pending[(channel, name)] = data


def availability_changed(store_id: int, variant_ids) -> None:
    """What a variant's shoppers can buy changed (stock moved, a hold taken or released):
    product pages, carts and checkouts showing these variants, and the dashboard, refresh."""
    variants = sorted({int(v) for v in variant_ids})
    if not variants:
        return
    publish_after_commit(stock_channel(store_id), "stock", {"variants": variants})
    publish_after_commit(admin_channel(store_id), "stock", {"variants": variants})


def order_changed(store_id: int, order_id: int, status: str, *, placed: bool = False) -> None:
    """An order was placed or changed status: its page, its store's dashboard and the console."""
    publish_after_commit(order_channel(order_id), "status", {"status": status})
    publish_after_commit(admin_channel(store_id), "orders", {"order": order_id})
    publish_after_commit(CONSOLE, "counters", {})


def jobs_changed(store_id: int, *, run_id: int | None = None) -> None:
    """A job's row moved on (stock sync progress, an email or image finished): the job centre
    and, for a stock sync, its progress bar."""
    publish_after_commit(admin_channel(store_id), "jobs", {})
    if run_id is not None:
        publish_after_commit(admin_channel(store_id), "stock-sync", {"run": run_id})


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT released: the outer transaction may still roll back
    pending = session.info.pop(_PENDING, None)
    for (channel, name), data in (pending or {}).items():
        publish(channel, name, data)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.info.pop(_PENDING, None)
