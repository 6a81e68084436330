"""One-time email codes: 6 digits, stored hashed in Redis, short-lived, single use, rate limited."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext

from app.extensions import redis_client

PURPOSES = ("verify", "signin", "email_change", "confirm")
CODE_TTL = 10 * 60  # a code lives ten minutes
COOLDOWN = 60  # seconds between two sends to one address
SENDS_PER_HOUR = 5  # per address and per IP
MAX_ATTEMPTS = 5  # wrong guesses before the code is void


class OtpUnavailable(Exception):
    """Redis, where codes live, can't be reached; codes can't be sent or checked just now."""

    @property
    def message(self) -> str:
        """What the page says, in the language being spoken when it is shown."""
        return gettext(
            "We can't send or check codes right now. Please try again in a minute, "
            "or sign in with your password."
        )


def _guard(func):
    """Turn a Redis outage into OtpUnavailable, which the pages show as a message."""
    from functools import wraps

    import redis

    @wraps(func)
    def wrapped(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except redis.RedisError as exc:
            raise OtpUnavailable() from exc

    return wrapped


class OtpRefused(Exception):
    """A code can't be sent right now; `message` says why and `retry_after` when to try."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking a code."""

    ok: bool
    message: str = ""


def _hashed(value: str) -> str:
    # Keys carry a hash of the email, so Redis never holds the address itself.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _keys(purpose: str, email: str) -> dict[str, str]:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown OTP purpose {purpose!r}")
    base = f"otp:{purpose}:{_hashed(email)}"
    return {"code": f"{base}:code", "attempts": f"{base}:attempts", "cooldown": f"{base}:cooldown"}


def _digest(purpose: str, email: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{purpose}:{email}:{code}".encode(), hashlib.sha256).hexdigest()


def cooldown_left(purpose: str, email: str) -> int:
    """Seconds until another code may be sent to `email` (0 if now, or if Redis is away)."""
    import redis

    try:
        ttl = redis_client.get().ttl(_keys(purpose, email)["cooldown"])
    except redis.RedisError:
        return 0
    return max(ttl, 0)


@_guard
def issue_code(purpose: str, email: str, ip: str | None) -> str:
    """Create a fresh code for `email` (replacing any older one) or raise OtpRefused."""
    r = redis_client.get()
    keys = _keys(purpose, email)
    wait = cooldown_left(purpose, email)
    if wait:
        raise OtpRefused(
            gettext(
                "Please wait %(seconds)s seconds before asking for another code.", seconds=wait
            ),
            wait,
        )
    counters = [f"otp:sends:email:{_hashed(email)}", f"otp:sends:ip:{_hashed(ip or '-')}"]
    for counter in counters:
        sent = int(r.get(counter) or 0)
        if sent >= SENDS_PER_HOUR:
            retry = max(r.ttl(counter), 1)
            raise OtpRefused(
                "Too many codes were requested. Please try again "
                f"in {max(retry // 60, 1)} minute{'s' if retry >= 120 else ''}.",
                retry,
            )
    code = f"{secrets.randbelow(10**6):06d}"
    with r.pipeline() as pipe:
        for counter in counters:
            pipe.incr(counter)
            pipe.expire(counter, 3600, nx=True)
        pipe.set(keys["code"], _digest(purpose, email, code), ex=CODE_TTL)
        pipe.delete(keys["attempts"])
        pipe.set(keys["cooldown"], 1, ex=COOLDOWN)
        pipe.execute()
    return code


@_guard
def check_code(purpose: str, email: str, code: str) -> CheckResult:
    """Consume the code if it is right; count a wrong guess and void the code after too many.

    The attempt is counted before the code is compared, in one MULTI with reading it, so
    parallel guesses can't get more than MAX_ATTEMPTS comparisons between them.
    """
    r = redis_client.get()
    keys = _keys(purpose, email)
    code = (code or "").strip().replace(" ", "")
    with r.pipeline() as pipe:  # MULTI/EXEC: the read and the count happen as one step
        pipe.get(keys["code"]).incr(keys["attempts"]).expire(keys["attempts"], CODE_TTL)
        stored, attempts, _ = pipe.execute()
    if stored is None:
        return CheckResult(
            False, gettext("That code has expired or was already used. Request a new one.")
        )
    if attempts > MAX_ATTEMPTS:
        r.delete(keys["code"])  # not compared: the tries were used up by other requests
        return CheckResult(False, gettext("Too many codes were tried. Request a new one."))
    if (
        len(code) == 6
        and code.isdigit()
        and hmac.compare_digest(stored.decode(), _digest(purpose, email, code))
    ):
        # Only the request that actually deletes the key wins: a replay in parallel loses.
        if r.delete(keys["code"]):
            r.delete(keys["attempts"])
            return CheckResult(True)
        return CheckResult(
            False, gettext("That code has expired or was already used. Request a new one.")
        )
    if attempts >= MAX_ATTEMPTS:
        r.delete(keys["code"])
        return CheckResult(
            False,
            gettext("Too many wrong codes. This code no longer works; request a new one."),
        )
    left = MAX_ATTEMPTS - attempts
    return CheckResult(
        False, f"That code isn't right. {left} attempt{'s' if left != 1 else ''} left."
    )
