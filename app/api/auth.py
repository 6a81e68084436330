"""Who calls the API: a store's key in `Authorization: Bearer`, and the scopes it holds.

Cookies and sessions never authenticate here: the views read `g.api_key`, set only from the
header, and a key is looked up in the store of the host, so another store's key is unknown
(401) before anything is read.
"""

import hashlib
from datetime import timedelta
from functools import wraps

from flask import current_app, g, request
from sqlalchemy import update

from app.api.keys import find_active_key
from app.api.models import ApiKey
from app.api.problems import ProblemError
from app.database import utcnow
from app.extensions import db

LAST_USED_EVERY = timedelta(minutes=1)
BEARER = "bearer "


def presented_secret() -> str:
    """The key in the Authorization header, or ''."""
    header = request.headers.get("Authorization", "")
    if header[: len(BEARER)].lower() != BEARER:
        return ""
    return header[len(BEARER) :].strip()


def rate_limit_key() -> str:
    """Flask-Limiter's key: the presented key (never the IP many clients may share).

    Flask-Limiter checks before the store is resolved, so the key alone names the bucket:
    keys are random, and a request without one is limited by its address.
    """
    secret = presented_secret()
    if not secret:
        return f"api:ip:{request.remote_addr}"
    return "api:key:" + hashlib.sha256(secret.encode()).hexdigest()[:32]


def rate_limit() -> str:
    """The per-key limit (`API_RATE_LIMIT`)."""
    return current_app.config["API_RATE_LIMIT"]


def authenticate() -> None:
    """Set `g.api_key` from the bearer key, or refuse with 401 (nothing is read first)."""
    secret = presented_secret()
    if not secret:
        raise ProblemError(
            401,
            "Send an API key: Authorization: Bearer <key>.",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    key = find_active_key(g.store, secret)
    if key is None:
        raise ProblemError(
            401,
            "The API key is unknown in this store or was revoked.",
            headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
        )
    g.api_key = key
    _note_use(key)


def _note_use(key: ApiKey) -> None:
    """Record the last use, at most once a minute per key (not a write per request)."""
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_EVERY:
        return
    db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id, ApiKey.store_id == key.store_id)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def requires(scope: str):
    """Guard an API view: the calling key must hold `scope` (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            key = g.get("api_key")
            if key is None or scope not in key.scope_list:
                raise ProblemError(403, f"This API key does not have the {scope} scope.")
            g.api_scope = scope
            return view(*args, **kwargs)

        wrapped.api_scope = scope
        return wrapped

    return decorator
