"""Short-lived, store-scoped caching of catalog facts that are costly on big catalogs.

Every key carries the store id and the store's catalog version; any committed change to the
store's products, tags or categories bumps the version, so a cached value is never stale
beyond the TTL's safety net. Redis trouble just means computing the value again.
"""

import contextlib
import json
import logging

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db, redis_client

log = logging.getLogger(__name__)
TTL = 300


def version_key(store_id: int) -> str:
    """Where the store's catalog version lives."""
    return _version_key(store_id)


def _version_key(store_id: int) -> str:
    return f"catalog:{store_id}:version"


def version(store_id: int, kv=None) -> int:
    """The store's catalog version (raises the kv store's errors: callers decide)."""
    kv = kv if kv is not None else redis_client.get()
    return int(kv.get(_version_key(store_id)) or 0)


def touch(store_id: int) -> None:
    """Bump this store's catalog version when the current transaction commits.

    For writers that change catalog rows with plain UPDATE statements, which the ORM's flush
    events don't see (stock movements, the bulk stock sync).
    """
    db.session.info.setdefault("catalog_changed_stores", set()).add(store_id)


def cached(store_id: int, name: str, compute):
    """`compute()` for this store, from Redis while the store's catalog is unchanged."""
    try:
        r = redis_client.get()
        version = int(r.get(_version_key(store_id)) or 0)
        key = f"catalog:{store_id}:v{version}:{name}"
        hit = r.get(key)
        if hit is not None:
            return json.loads(hit)
    except (redis.RedisError, ValueError):
        return compute()
    value = compute()
    with contextlib.suppress(redis.RedisError):
        r.set(key, json.dumps(value), ex=TTL)
    return value


def bump(store_ids) -> None:
    """Mark these stores' catalogs as changed."""
    try:
        r = redis_client.get()
        for store_id in store_ids:
            r.incr(_version_key(store_id))
    except redis.RedisError:
        log.warning("could not bump catalog versions for %s", store_ids)


_CATALOG_TABLES = {
    "products",
    "product_tags",
    "product_categories",
    "categories",
    "variants",
    "product_images",
    "product_faqs",
}


@event.listens_for(Session, "after_flush")
def _collect_changed_stores(session, flush_context):
    touched = session.info.setdefault("catalog_changed_stores", set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table in _CATALOG_TABLES and getattr(obj, "store_id", None):
            touched.add(obj.store_id)


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session):
    touched = session.info.pop("catalog_changed_stores", None)
    if touched:
        bump(touched)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop("catalog_changed_stores", None)
