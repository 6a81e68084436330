"""The queue mechanism: `enqueue()` runs a job inline in embedded mode, or hands it to RQ.

Domain code may import this package; the job functions themselves live in `jobs/` and import
domain code, so a domain module names its job by dotted path ("jobs.email.send_email"), as
RQ stores it anyway, rather than importing it. The worker and the cron scheduler are in
`app.background.worker`, the periodic jobs in `app.background.schedules`.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from rq.utils import import_attribute

from app.observability.request_ids import _identity, request_context_meta

log = logging.getLogger(__name__)

QUEUES = ("default", "email")


def job_name(func) -> str:
    """A job's dotted path (as given, or of the function), for logs and RQ."""
    if isinstance(func, str):
        return func
    return f"{func.__module__}.{func.__qualname__}"


def resolve(func):
    """The function a job's dotted path names (a function is returned as it is)."""
    return import_attribute(func) if isinstance(func, str) else func


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
    store_id: int | None = None,
):
    """Run `func(*args)` in the background; call it only after committing what it reads.

    `func` is a job's dotted path ("jobs.email.send_email") or the function itself, and so is
    `on_failure`, an RQ failure callback called after every failed attempt (`job.retries_left`
    tells if more will come). Production mode pushes the job to RQ with retries and a timeout.
    Embedded mode runs it now, in this process, once, and logs a failure instead of raising
    it into the request that queued it.

    The job runs with the current store (row-level security, tenants/rls.py), or with
    `store_id` when a sweep that spans stores queues a job for one store's row.
    """
    meta = request_context_meta()
    if store_id is not None:
        meta["store_id"] = store_id
    if current_app.config["JOBS_INLINE"]:
        try:
            _run_inline(func, args, store_id)
        except Exception as exc:
            log.exception("inline job %s failed", job_name(func))
            result = InlineResult(job_id, ok=False, error=repr(exc), args=args)
            if on_failure is not None:
                resolve(on_failure)(result, None, type(exc), exc, exc.__traceback__)
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
        meta=meta,
    )


def _run_inline(func, args, store_id: int | None) -> None:
    """Run a job now, in the given store when it names one the caller isn't in."""
    from flask import g

    from tenants.context import store_context

    current = g.get("store")
    if store_id is None or (current is not None and _identity(current) == store_id):
        resolve(func)(*args)
        return
    with store_context(store_id):
        resolve(func)(*args)


# A retry this overdue was not moved to its queue by any worker's scheduler (one that died in a
# Redis outage is restarted only at the next housekeeping): the sweep queues it itself.
STUCK_RETRY = timedelta(seconds=30)


def still_waiting(job_id: str) -> bool:
    """Whether the RQ job with this id will still run without help: queued and really in its
    queue, or a retry scheduled and not long overdue.

    A job whose hash says "queued" but that no queue holds (a worker took it and lost Redis
    before starting it), or a retry that no scheduler moved, would otherwise be skipped by
    every sweep for ever. Running a job twice is safe; never running it is what is lost.
    """
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus
    from rq.registry import ScheduledJobRegistry

    from app.extensions import redis_client

    connection = redis_client.get()
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status == JobStatus.QUEUED:
        return connection.lpos(get_queue(job.origin).key, job_id) is not None
    if status == JobStatus.SCHEDULED:
        registry = ScheduledJobRegistry(job.origin, connection=connection)
        try:
            due = registry.get_scheduled_time(job_id)
        except NoSuchJobError:
            return False
        if datetime.now(due.tzinfo) - due < STUCK_RETRY:
            return True
        registry.remove(job_id)  # queued again below; the scheduler must not queue it too
        log.warning("job %s: retry overdue since %s; queuing it again", job_id, due.isoformat())
        return False
    return status == JobStatus.DEFERRED


def enqueue_unless_waiting(func, *args, job_id: str, twins: tuple[str, ...] = (), **kwargs):
    """`enqueue` for a sweep: skipped while the job with this id, or one of its `twins` (the
    ids the same work was first queued under), still waits in Redis.

    A sweep runs every SWEEP_INTERVAL seconds; when the workers are behind (a backlog after a
    Redis outage, kept when Redis comes back with its data), queuing the same row again would
    grow the queues faster than they drain: each copy costs a worker a job that finds nothing
    to do. Returns the job, or None if skipped.
    """
    if not current_app.config["JOBS_INLINE"] and any(
        still_waiting(waiting) for waiting in (*twins, job_id)
    ):
        return None
    return enqueue(func, *args, job_id=job_id, **kwargs)


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
            job_name(func).rpartition(".")[2],
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
