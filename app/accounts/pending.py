"""A registration's password, held for the browser that typed it until the address is proven.

An account gets no password until someone proves they own its address: otherwise whoever
registers first (maybe not the owner) would keep a working password on it (pre-account
hijacking). The hash waits in Redis under a random key that only this browser's session holds.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass

import redis
from flask import session

from app.accounts.otp import _guard
from app.extensions import redis_client

SESSION_KEY = "pending_signup"
PENDING_TTL = 24 * 3600  # a registration may be finished the next day (with a new code)


@dataclass(frozen=True)
class PendingSignup:
    """What the person registering typed, waiting for the proof of their address."""

    email: str
    password_hash: str
    name: str


def _key(token: str) -> str:
    return "pending:signup:" + hashlib.sha256(token.encode()).hexdigest()[:32]


@_guard
def keep(email: str, password_hash: str, name: str) -> None:
    """Hold a registration's password (hashed) for this browser, replacing an older one."""
    r = redis_client.get()
    old = session.get(SESSION_KEY)
    token = secrets.token_urlsafe(24)
    data = json.dumps({"email": email, "password_hash": password_hash, "name": name})
    with r.pipeline() as pipe:
        if old:
            pipe.delete(_key(old))
        pipe.set(_key(token), data, ex=PENDING_TTL)
        pipe.execute()
    session[SESSION_KEY] = token


def take(email: str) -> PendingSignup | None:
    """This browser's held registration for `email`, used up; None if there is none."""
    token = session.pop(SESSION_KEY, None)
    if not token:
        return None
    try:
        raw = redis_client.get().getdel(_key(token))
    except redis.RedisError:
        return None  # the address is still proven; the person can choose a password later
    if raw is None:
        return None
    data = json.loads(raw)
    if data.get("email") != email:
        return None
    return PendingSignup(data["email"], data["password_hash"], data.get("name", ""))
