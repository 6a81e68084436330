"""Rate limits for provider webhooks: per store and provider for genuine deliveries, per
address only for requests whose signature failed.

Providers deliver from a few shared addresses, and a backlog arrives as a burst, so a limit
per address would refuse genuine deliveries. A verified delivery is never limited by its
address: it counts against a generous ceiling for its store and provider instead, and only
verified deliveries count there, so forged requests can't use up a store's budget. Requests
that fail the signature check count per address; once an address has too many, its unsigned
requests are refused before anything is read, and its forged ones get 429 instead of 400.
A limit storage that can't be reached lets the request through (the signature still guards it).
"""

import logging
import time

from flask import current_app, request
from limits import parse

from app.extensions import limiter

log = logging.getLogger(__name__)
QUIET_FOR = 60  # seconds between two warnings about an unreachable limit storage
_warned_at = 0.0


def _check(limit: str, *identifiers: str, hit: bool) -> int | None:
    """Seconds until `limit` for `identifiers` has room again, or None if it has room now.

    With `hit`, the request counts first.
    """
    item = parse(limit)
    try:
        strategy = limiter.limiter
        allowed = strategy.hit(item, *identifiers) if hit else strategy.test(item, *identifiers)
        if allowed:
            return None
        reset = strategy.get_window_stats(item, *identifiers).reset_time
    except Exception as exc:  # an unreachable limit storage must not refuse deliveries
        global _warned_at
        if time.monotonic() - _warned_at > QUIET_FOR:
            _warned_at = time.monotonic()
            log.warning("webhook limits not checked while their storage is unreachable: %s", exc)
        return None
    return max(int(reset - time.time()), 1)


def _source() -> str:
    return request.remote_addr or "-"


def refused_before_verifying(store_id: int, provider: str, signed: bool) -> int | None:
    """Retry-After seconds if the request can be refused before its signature is checked."""
    config = current_app.config
    if not signed:  # can't be genuine: the address's budget for failures applies
        wait = _check(config["WEBHOOK_FAILURE_LIMIT"], "webhook-bad", _source(), hit=False)
        if wait:
            return wait
    # Only verified deliveries are counted here, so this only refuses a store and provider
    # whose genuine budget is used up.
    return _check(config["WEBHOOK_RATE_LIMIT"], "webhook", str(store_id), provider, hit=False)


def count_delivery(store_id: int, provider: str) -> None:
    """Count a verified delivery against its store and provider."""
    _check(current_app.config["WEBHOOK_RATE_LIMIT"], "webhook", str(store_id), provider, hit=True)


def count_failure() -> int | None:
    """Count a request that failed its signature check; Retry-After seconds once over."""
    return _check(current_app.config["WEBHOOK_FAILURE_LIMIT"], "webhook-bad", _source(), hit=True)
