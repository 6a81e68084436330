"""API writes: one transaction each, audited with the key's name, replayable by Idempotency-Key.

The key's record is inserted before the work, in the same transaction, under a unique
(store_id, key) constraint: a concurrent request with the same key waits on that index until
the first commits, then finds its record and replays the first answer, so the write happens
once. Refused writes (4xx) roll back with their record, so a corrected retry may reuse the key.
"""

import hashlib
from datetime import timedelta
from functools import wraps

from flask import Response, current_app, g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.api.models import ApiIdempotencyKey
from app.api.problems import ProblemError
from app.audit.service import record
from app.database import utcnow
from app.extensions import db

HEADER = "Idempotency-Key"
MAX_KEY = 255
KEEP_FOR = timedelta(days=1)  # a client retries within a day; after that a key may be reused


def fingerprint() -> str:
    """What makes two requests "the same": method, path with query, and body."""
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.full_path.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _header_key() -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise ProblemError(
            422,
            f"{HEADER} must be 1 to {MAX_KEY} printable characters.",
            errors=[{"location": "header", "field": HEADER, "message": "Invalid key."}],
        )
    return key


def _find(store_id: int, key: str) -> ApiIdempotencyKey | None:
    return db.session.scalar(
        select(ApiIdempotencyKey).where(
            ApiIdempotencyKey.store_id == store_id, ApiIdempotencyKey.key == key
        )
    )


def _replay(row: ApiIdempotencyKey, wanted: str) -> Response:
    """The first answer again, or 422 if the key was used for a different request."""
    if row.fingerprint != wanted:
        raise ProblemError(
            422,
            f"This {HEADER} was already used for a different request.",
            errors=[{"location": "header", "field": HEADER, "message": "Key reused."}],
        )
    if not row.status_code:
        # Its first request committed work of its own (shipping does) and is still finishing.
        raise ProblemError(409, f"A request with this {HEADER} is still in progress.")
    response = Response(row.body, status=row.status_code, content_type="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _claim(store_id: int, key: str, wanted: str) -> ApiIdempotencyKey | Response:
    """Insert this key's record, or the replay of the request that inserted it first."""
    found = _find(store_id, key)
    if found is not None:
        return _replay(found, wanted)
    row = ApiIdempotencyKey(store_id=store_id, key=key, fingerprint=wanted)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        # Another request with this key committed while we waited on the unique index.
        found = _find(store_id, key)
        if found is None:
            raise
        return _replay(found, wanted)
    return row


def write(view):
    """Wrap an API write: idempotency, an audit entry naming the key, then one commit."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        store = g.store
        key = _header_key()
        claimed = None
        if key is not None:
            claimed = _claim(store.id, key, fingerprint())
            if isinstance(claimed, Response):
                db.session.rollback()
                return claimed
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            db.session.rollback()
            raise
        if response.status_code >= 400:
            db.session.rollback()
            return response
        api_key = g.api_key
        record(
            "api.write",
            store=store,
            key_id=api_key.id,
            key_prefix=api_key.prefix,
            scope=g.get("api_scope"),
            method=request.method,
            path=request.path,
            status=response.status_code,
        )
        if claimed is not None:
            claimed.status_code = response.status_code
            claimed.body = response.get_data(as_text=True)
        db.session.commit()
        return response

    return wrapped


def prune(now=None) -> int:
    """Delete the records of writes older than KEEP_FOR (every store's; committed)."""
    cutoff = (now or utcnow()) - KEEP_FOR
    result = db.session.execute(
        delete(ApiIdempotencyKey).where(ApiIdempotencyKey.created_at < cutoff)
    )
    db.session.commit()
    return result.rowcount or 0
