"""Embedded mode's stand-in for `flask cron` where it matters to open pages: expired stock holds.

Without Redis there is no cron, and checkout and sales release expired holds only lazily, so a
product page open on another shopper's screen would show a held unit as sold out until someone
bought something. Each web process therefore runs `release_expired_holds_job` itself every
EMBEDDED_HOLD_SWEEP_SECONDS (0 turns it off), on a daemon thread started by its first request
(after gunicorn forks). Running it in several processes at once is safe: each hold is released
by the one statement that flips it, and the release publishes the stock event pages listen to.
"""

import logging
import os
import threading

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

_lock = threading.Lock()
_started_in: int | None = None  # the pid whose thread runs (a forked child starts its own)


def sweep_once(app) -> int:
    """Release the expired holds of every store now; returns how many."""
    from app.background import resolve  # by its dotted path: app/ never imports jobs/

    with app.app_context():
        return resolve("jobs.maintenance.release_expired_holds_job")()


def _run(app, interval: float, stopping: threading.Event) -> None:
    while not stopping.wait(interval):
        try:
            sweep_once(app)
        except DBAPIError as exc:
            # The database is away (its outage answers 503 and says so once) or a file is
            # locked: one line, no traceback, and the next tick tries again.
            log.warning("releasing expired stock holds failed: %s", type(exc.orig).__name__)
        except Exception:
            log.exception("releasing expired stock holds failed")


def start(app, stopping: threading.Event | None = None) -> threading.Thread | None:
    """Start this process's sweeper (once per process; embedded mode only, not in tests)."""
    global _started_in
    interval = app.config["EMBEDDED_HOLD_SWEEP_SECONDS"]
    if not app.config["EMBEDDED"] or app.testing or interval <= 0:
        return None
    with _lock:
        if _started_in == os.getpid():
            return None
        _started_in = os.getpid()
    thread = threading.Thread(
        target=_run,
        args=(app, interval, stopping or threading.Event()),
        name="embedded-hold-sweep",
        daemon=True,
    )
    thread.start()
    return thread


def init_app(app) -> None:
    """Start the sweeper with the process's first request."""

    @app.before_request
    def _start_hold_sweep():
        if _started_in != os.getpid():
            start(app)
