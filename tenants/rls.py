"""PostgreSQL row-level security: the transaction's store, and the one explicit all-stores path.

Migration 0021 puts a policy on every store-owned table: a row is visible and writable when
its store is the transaction's `app.store_id`, or when the transaction took the all-stores path
(`app.all_stores = 'on'`). This module sets both, transaction-locally (`set_config(..., true)`,
so nothing outlives the transaction and PgBouncer in transaction mode is safe), from the
current store (`g.store`: the request's host, or `store_context()` in jobs and CLI) and from
`all_stores()`. On SQLite everything here is a no-op.

Code that legitimately spans stores (the console, a shopper's orders in every store, the store
switcher, marketplace search, sweeps, provisioning) says so with `all_stores(reason)`,
`allow_all_stores(reason)` for the rest of a request, or `@spans_stores(reason)` on a job; each
use is logged with its reason.
"""

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps

import psycopg
from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.config import DEFAULT_DATABASE_ROLE
from app.extensions import db

log = logging.getLogger(__name__)

# The group role migration 0021 creates; DATABASE_ROLE names it (or a role that is a member).
APP_ROLE = DEFAULT_DATABASE_ROLE
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SET = "SELECT set_config('app.store_id', %s, true), set_config('app.all_stores', %s, true)"


def role_connect_args(role: str | None) -> dict:
    """psycopg connect arguments that make every connection act as `role` from its start
    (`-c role=...` in the startup packet: no extra round trip, like `SET ROLE` on connect)."""
    if not role:
        return {}
    if not ROLE_NAME.match(role):
        raise ValueError(f"DATABASE_ROLE={role!r} is not a plain PostgreSQL role name")
    return {"options": f"-c role={role}"}


def _scope() -> tuple[str, str] | None:
    """(store id, all-stores flag) for this app context, or None when there is nothing to set."""
    if not has_app_context():
        return None
    every = g.get("rls_all_stores", 0) > 0
    store = g.get("store")
    # The identity, not `store.id`: an expired Store would load itself inside `after_begin`.
    identity = inspect(store).identity if store is not None else None
    store_id = str(identity[0]) if identity else ""
    if not every and not store_id and _harness_outside_requests():
        every = True
    if not every and not store_id:
        return None
    return store_id, "on" if every else "off"


def _harness_outside_requests() -> bool:
    """Tests only: the suite's own setup and assertions (factories, `db.session.scalar(...)`
    outside any request) act as the database's administrator would; requests and the jobs
    they run stay under the policies. Never honoured outside TESTING."""
    config = current_app.config
    return (
        bool(config.get("TESTING"))
        and bool(config.get("RLS_TEST_HARNESS_ALL_STORES"))
        and not has_request_context()
    )


def _apply(connection, scope: tuple[str, str]) -> None:
    # On the driver's own cursor: set_config is bookkeeping, not one of the app's statements,
    # so the SQL counters (logs, query-count tests) don't see it. See README "Security model".
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(_SET, scope)
    finally:
        cursor.close()


@event.listens_for(Session, "after_begin")
def _set_scope_on_begin(session, transaction, connection):
    """Every transaction on PostgreSQL starts knowing its store (or all-stores path)."""
    if connection.dialect.name != "postgresql":
        return
    scope = _scope()
    if scope is not None:
        _apply(connection, scope)


def refresh() -> None:
    """Re-apply the scope to the transaction in progress, after the store or path changed."""
    session = db.session()
    transaction = session.get_transaction()
    if transaction is None or not transaction.is_active:
        return  # the next transaction sets it as it begins
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    _apply(connection, _scope() or ("", "off"))


@contextmanager
def all_stores(reason: str) -> Iterator[None]:
    """Let the statements inside the block see and write every store's rows (logged)."""
    log.info("all-stores access: %s", reason)
    g.rls_all_stores = g.get("rls_all_stores", 0) + 1
    refresh()
    try:
        yield
    finally:
        g.rls_all_stores -= 1
        refresh_after_block()


def refresh_after_block() -> None:
    """`refresh()` on leaving a block, which may be leaving on a database error: a transaction
    that failed (or a connection that dropped) runs nothing more, so there is nothing to reset,
    and the error that ended the block is the one to see."""
    try:
        refresh()
    except (DBAPIError, psycopg.Error):
        log.debug("row-level security scope not reset: the transaction has failed")


def spans_stores(reason: str):
    """Decorate a job or command that works on every store's rows (sweeps, expiry, repair):
    it runs on the all-stores path, logged with `reason`."""

    def decorate(func):
        @wraps(func)
        def wrapped(*args, **kwargs):
            with all_stores(reason):
                return func(*args, **kwargs)

        return wrapped

    return decorate


def allow_all_stores(reason: str) -> None:
    """The all-stores path for the rest of this request or app context (logged): for pages
    that span stores throughout, such as the console, whose templates load rows lazily."""
    if g.get("rls_all_stores_reason") is None:
        log.info("all-stores access: %s", reason)
        g.rls_all_stores_reason = reason
        g.rls_all_stores = g.get("rls_all_stores", 0) + 1
        refresh()


def store_owned_tables_without_policy(connection) -> list[str]:
    """Tables with a store_id column that lack FORCE'd row-level security or a policy."""
    return list(
        connection.scalars(
            text(
                """
                SELECT c.relname FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'store_id'
                    AND NOT a.attisdropped
                WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
                  AND NOT (c.relrowsecurity AND c.relforcerowsecurity
                           AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))
                ORDER BY c.relname
                """
            )
        )
    )
