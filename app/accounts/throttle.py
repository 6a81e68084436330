"""Password sign-in throttling that slows guessing without letting anyone lock the owner out.

Failures are counted per (account, source address): a few are free, then each further one
makes that source wait twice as long (15 s, 30 s, ... up to 15 minutes). A looser ceiling per
account stops a guesser spread over many addresses: once it is reached, only sources the
owner has used before (an address that signed in successfully, or a browser holding this
account's device cookie) may keep trying until the window ends. The emailed sign-in code is
never throttled here. Counters live in Redis; if Redis is away they fall back to this
process's memory, like the request limits.
"""

import hashlib
import ipaddress
import logging
import time

import fakeredis
import redis
from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from app.extensions import db, redis_client

log = logging.getLogger(__name__)

FREE_FAILURES = 5  # wrong passwords per account and source before delays start
FIRST_DELAY = 15  # seconds; doubles with each further failure
MAX_DELAY = 15 * 60
FAILURE_MEMORY = 24 * 3600  # a source's failures are forgotten a day after its last one
ACCOUNT_CEILING = 20  # wrong passwords for one account from every source, per window
ACCOUNT_WINDOW = 15 * 60
OUTAGE_PAUSE = 30  # seconds to use memory before trying Redis again
DEVICE_COOKIE = "pasar_device"
DEVICE_COOKIE_AGE = 365 * 24 * 3600
DEVICE_ACCOUNTS = 5  # accounts one browser's device cookie remembers


def _hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def source_of(ip: str | None) -> str:
    """The source an address counts as: itself, or its /64 for IPv6 (one subscriber's block)."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ip or "-"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _keys(email: str, ip: str | None) -> dict[str, str]:
    account, source = _hashed(email), _hashed(source_of(ip))
    return {
        "source": f"signin:fail:{account}:{source}",
        "block": f"signin:block:{account}:{source}",
        "account": f"signin:fail:{account}",
    }


def _run(operation):
    """Run `operation(redis)` on Redis, or on this process's memory while Redis is down."""
    extensions = current_app.extensions
    fallback = extensions.setdefault("pasar_throttle_memory", fakeredis.FakeRedis())
    if time.monotonic() >= extensions.get("pasar_throttle_down_until", 0):
        try:
            return operation(redis_client.get())
        except redis.RedisError as exc:
            log.warning("sign-in throttle using memory: Redis is unreachable (%s)", exc)
            extensions["pasar_throttle_down_until"] = time.monotonic() + OUTAGE_PAUSE
    return operation(fallback)


def wait_seconds(email: str, ip: str | None, *, known_source) -> int:
    """Seconds before this source may try a password for `email` again; 0 means now.

    `known_source()` is asked only when the account's ceiling is reached.
    """
    keys = _keys(email, ip)

    def read(r):
        with r.pipeline(transaction=False) as pipe:
            pipe.ttl(keys["block"]).get(keys["account"]).ttl(keys["account"])
            return pipe.execute()

    block_ttl, account_failures, account_ttl = _run(read)
    if block_ttl and block_ttl > 0:
        return int(block_ttl)
    if int(account_failures or 0) >= ACCOUNT_CEILING and not known_source():
        return max(int(account_ttl or 0), 1)
    return 0


def record_failure(email: str, ip: str | None) -> int:
    """Count a wrong password from this source; returns the seconds it must now wait."""
    keys = _keys(email, ip)

    def count(r):
        with r.pipeline() as pipe:
            pipe.incr(keys["source"]).expire(keys["source"], FAILURE_MEMORY)
            pipe.incr(keys["account"]).expire(keys["account"], ACCOUNT_WINDOW, nx=True)
            failures = pipe.execute()[0]
        if failures < FREE_FAILURES:
            return 0
        delay = min(FIRST_DELAY * 2 ** (failures - FREE_FAILURES), MAX_DELAY)
        r.set(keys["block"], 1, ex=delay)
        return delay

    return _run(count)


def record_success(email: str, ip: str | None) -> None:
    """A right password from this source: its own count starts again."""
    keys = _keys(email, ip)
    _run(lambda r: r.delete(keys["source"], keys["block"]))


def is_known_source(email: str, ip: str | None) -> bool:
    """True if this browser or address has signed in to the account for `email` since its
    address was proven (sessions from before the proof may be someone else's)."""
    from app.accounts.models import User, UserSession

    user = db.session.execute(
        select(User.id, User.email_verified_at).where(User.email == email)
    ).first()
    if user is None or user.email_verified_at is None:
        return False
    since = int(user.email_verified_at.timestamp())  # the cookie keeps whole seconds
    if any(uid == user.id and at >= since for uid, at in device_accounts()):
        return True
    if not ip:
        return False
    seen = select(UserSession.id).where(
        UserSession.user_id == user.id,
        UserSession.ip == ip,
        UserSession.created_at >= user.email_verified_at,
    )
    return db.session.scalar(seen.limit(1)) is not None


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="device-cookie")


def device_accounts() -> list[tuple[int, float]]:
    """(account id, when) for each account this browser signed in to, from its device cookie."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        entries = _device_serializer().loads(raw)
    except BadSignature:
        return []
    if not isinstance(entries, list):
        return []
    return [
        (entry[0], entry[1])
        for entry in entries
        if isinstance(entry, list)
        and len(entry) == 2
        and isinstance(entry[0], int)
        and isinstance(entry[1], int | float)
    ]


def remember_device(response, user_id: int):
    """Add `user_id` to this browser's device cookie (on a successful sign-in)."""
    others = [[uid, at] for uid, at in device_accounts() if uid != user_id]
    entries = [[user_id, int(time.time())], *others][:DEVICE_ACCOUNTS]
    app = current_app
    response.set_cookie(
        DEVICE_COOKIE,
        _device_serializer().dumps(entries),
        max_age=DEVICE_COOKIE_AGE,
        domain=app.session_interface.get_cookie_domain(app),
        secure=app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


def describe_wait(seconds: int) -> str:
    """How long to wait, for people: 15 seconds, 2 minutes."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
