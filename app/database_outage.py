"""When the database can't be reached: 503 with Retry-After, and one log line per outage.

A lost or refused connection is not a bug in the page that hit it, so it answers 503 (the
friendly page, or the htmx fragment) and logs once when the outage starts and once when a
connection succeeds again, instead of a traceback per request. So does SQLite giving up on its
write lock after its busy timeout (embedded mode under more load than one file can take: every
request waits its turn for the lock), with a shorter Retry-After and one warning line. Any other
database error (a bad query, a constraint, a deadlock) is a bug or a conflict and stays a 500
with its traceback.
"""

import contextlib
import logging
import threading
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

RETRY_AFTER = 10  # seconds; a restart or failover usually takes about this long
BUSY_RETRY_AFTER = 2  # seconds; SQLite's lock was only held by the requests ahead of this one

# PostgreSQL SQLSTATEs that mean "no server to talk to": connection exceptions (class 08),
# the server shutting down or crashing (57P01, 57P02) or still starting (57P03).
_UNREACHABLE_STATES = ("57P01", "57P02", "57P03")

_lock = threading.Lock()
_down_since: float | None = None  # time.time() of the first failure of this outage


def is_unreachable(exc: BaseException) -> bool:
    """True if `exc` means the database server can't be reached, not that a query is wrong."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover  (psycopg is always installed)
        return False
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    # Errors raised by the client itself (refused, reset, closed) carry no SQLSTATE.
    state = getattr(orig, "sqlstate", None)
    return state is None or state.startswith("08") or state in _UNREACHABLE_STATES


def is_busy(exc: BaseException) -> bool:
    """True if SQLite waited out its busy timeout for the write lock: overloaded, not broken."""
    import sqlite3

    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and "database is locked" in str(orig)


def down_since() -> float | None:
    """When this process first found the database unreachable, or None if it is up."""
    return _down_since


def note_down(exc: BaseException) -> None:
    """Record a failed connection; only the first one of an outage is logged."""
    global _down_since
    with _lock:
        if _down_since is not None:
            return
        _down_since = time.time()
    first_line = str(getattr(exc, "orig", exc)).strip().splitlines()[:1]
    log.error("database unreachable, answering 503 until it is back: %s", "".join(first_line))


def note_up() -> None:
    """Record a successful connection; logs the end of an outage once."""
    global _down_since
    with _lock:
        since, _down_since = _down_since, None
    if since is not None:
        log.warning("database reachable again after %.0f s", time.time() - since)


@event.listens_for(Engine, "connect")
def _connected(dbapi_connection, connection_record):
    # After an outage every pooled connection is dead, so the first new one marks the end.
    if _down_since is not None:
        note_up()


def end_session(exc: BaseException | None = None) -> None:
    """Teardown: end the request's session; the server going away meanwhile is not a crash.

    Runs before Flask-SQLAlchemy's own teardown. Without it, a rollback on a connection the
    server closed after the page was rendered turned that finished page into a 500.
    """
    from app.extensions import db

    try:
        db.session.remove()
    except DBAPIError as error:
        if not is_unreachable(error):
            raise
        note_down(error)
        with contextlib.suppress(Exception):  # the dead connection is invalidated by now
            db.session.remove()
        db.session.registry.clear()


def init_app(app) -> None:
    """Answer 503 for an unreachable database, and end sessions whose server went away."""
    app.register_error_handler(DBAPIError, handle_database_error)
    app.teardown_appcontext(end_session)  # registered after db.init_app, so it runs first


def handle_database_error(exc: DBAPIError):
    """A database error in a request: 503 if the server is unreachable, else the usual 500."""
    from werkzeug.exceptions import ServiceUnavailable

    from app.errors import render_error
    from app.extensions import db

    if is_busy(exc):
        log.warning("the database's write lock stayed busy past its timeout: answering 503")
        description = "We're very busy just now. Please try again in a moment."
        retry_after = BUSY_RETRY_AFTER
    elif is_unreachable(exc):
        note_down(exc)
        description = "We can't reach our database just now. Please try again in a moment."
        retry_after = RETRY_AFTER
    else:
        raise exc  # a bug: Flask logs it and shows the 500 page (or, in tests, propagates it)
    with contextlib.suppress(Exception):  # frees a busy lock; a lost connection may refuse it
        db.session.rollback()
    return render_error(
        ServiceUnavailable(description=description, retry_after=retry_after), bare=True
    )
