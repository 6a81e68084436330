"""Background jobs: `enqueue()` runs them inline in embedded mode, or hands them to RQ."""

import logging
from dataclasses import dataclass

from flask import current_app
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
