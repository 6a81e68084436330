"""Background jobs: `enqueue()` runs them inline in embedded mode, or hands them to RQ."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry

log = logging.getLogger(__name__)

QUEUES = ("default", "email")


@dataclass
class InlineResult:
    """What `enqueue` returns in embedded mode, where the job has already run."""

    id: str | None
    ok: bool
    error: str | None = None
    args: tuple = ()
    retries_left: int = 0


def get_queue(name: str = "default") -> Queue:
    """The RQ queue with this name on the app's Redis."""
    from app.extensions import redis_client

    return Queue(
        name,
        connection=redis_client.get(),
        default_timeout=current_app.config["JOB_TIMEOUT"],
    )


def enqueue(
    func,
    *args,
    queue: str = "default",
    job_id: str | None = None,
    retries: int = 3,
    on_failure=None,
):
    """Run `func(*args)` in the background; call it only after committing what it reads.

    Production mode pushes it to RQ with retries and a timeout; `on_failure` is an RQ failure
    callback, called after every failed attempt (`job.retries_left` tells if more will come).
    Embedded mode runs the job now, in this process, once, and logs a failure instead of
    raising it into the request that queued it.
    """
    if current_app.config["JOBS_INLINE"]:
        try:
            func(*args)
        except Exception as exc:
            log.exception("inline job %s failed", func.__name__)
            result = InlineResult(job_id, ok=False, error=repr(exc), args=args)
            if on_failure is not None:
                on_failure(result, None, type(exc), exc, exc.__traceback__)
            return result
        return InlineResult(job_id, ok=True, args=args)
    intervals = current_app.config["JOB_RETRY_INTERVALS"]
    return get_queue(queue).enqueue(
        func,
        *args,
        job_id=job_id,
        retry=Retry(max=retries, interval=intervals[:retries]) if retries else None,
        job_timeout=current_app.config["JOB_TIMEOUT"],
        failure_ttl=7 * 24 * 3600,
        on_failure=Callback(on_failure) if on_failure is not None else None,
    )


def enqueue_after_commit(func, *args, **kwargs):
    """`enqueue` for work whose row is already committed: a Redis failure is logged, not raised.

    The committed row (an outbox row, or an event still "received") is the truth and a sweep
    queues it again later, so the request that recorded it must not fail because Redis is down.
    Returns the job, or None when it could not be queued.
    """
    try:
        return enqueue(func, *args, **kwargs)
    except RedisError as exc:
        # One line, no traceback: during an outage every request would print one.
        log.warning(
            "could not queue %s%r (%s: %s); its sweep will queue it later",
            func.__name__,
            args,
            type(exc).__name__,
            exc,
        )
        return None


def next_attempt_at(attempts: int, schedule: list[int], now: datetime) -> datetime | None:
    """When attempt number `attempts + 1` is due after `attempts` failures, or None to give up.

    `schedule` holds the seconds to wait after the first, second, ... failure.
    """
    if attempts > len(schedule):
        return None
    return now + timedelta(seconds=schedule[max(attempts, 1) - 1])
