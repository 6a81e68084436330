"""The RQ worker that runs Pasar jobs inside a Flask app context, and the periodic scheduler."""

import contextlib
import logging
import time

import click
from flask import current_app, g
from flask.cli import with_appcontext
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from rq import Worker, worker_registration
from rq.cron import CronScheduler
from rq.exceptions import StopRequested
from rq.utils import now
from rq.worker import DequeueStrategy

from app.background import QUEUES, get_queue, still_waiting
from app.background.schedules import periodic_jobs
from app.extensions import db, redis_client
from app.observability import logs
from app.observability.request_ids import current_job_id, current_request_id
from tenants.context import store_context

log = logging.getLogger(__name__)


# Waits between attempts to reach Redis during an outage: 1 s, 2 s, 4 s ... at most 30 s
# (REDIS_RETRY_MAX_WAIT).
FIRST_WAIT = 1.0
MAX_WAIT = 30.0
# A worker that keeps quitting while Redis answers has a fault no wait will cure: after this
# many quits in a row, each within QUICK_QUIT seconds of starting, the command exits non-zero
# so the process manager restarts it and people see it.
MAX_QUICK_QUITS = 5
QUICK_QUIT = 60.0


def backoff(first: float = FIRST_WAIT, cap: float = MAX_WAIT):
    """Waits that double from `first` up to `cap`, forever."""
    wait = first
    while True:
        yield wait
        wait = min(wait * 2, cap)


def redis_reachable(connection) -> bool:
    """True if Redis answers a PING now."""
    try:
        connection.ping()
    except RedisError:
        return False
    return True


def wait_for_redis(
    connection, who: str, stopping=lambda: False, cap: float = MAX_WAIT, sleep=time.sleep
) -> bool:
    """Block until Redis answers, retrying with backoff; log once when it goes, once when back.

    Returns False if a stop was requested meanwhile (then the caller stops), True otherwise.
    """
    started, logged = time.monotonic(), False
    for wait in backoff(cap=cap):
        if stopping():
            return False
        try:
            connection.ping()
        except RedisError as exc:
            if not logged:
                log.warning(
                    "%s: Redis is unreachable (%s); retrying every %g-%g s until it is back",
                    who,
                    exc,
                    min(FIRST_WAIT, cap),
                    cap,
                )
                logged = True
            # Short naps, so a stop request during a long outage is honoured at once.
            remaining = wait
            while remaining > 0 and not stopping():
                sleep(min(0.5, remaining))
                remaining -= 0.5
            continue
        if logged:
            log.warning("%s: Redis is back after %.0f s; resuming", who, time.monotonic() - started)
        return True
    return True  # pragma: no cover  (backoff never ends)


def run_through_outages(
    run, connection, who: str, stopping=lambda: False, cap: float = MAX_WAIT
) -> None:
    """Run `run()` (an RQ loop) again and again across Redis outages, until a stop is requested.

    RQ's worker and cron scheduler quit on a Redis error; this waits for Redis with backoff
    and starts the loop again. Errors that aren't Redis's propagate (the process exits
    non-zero), and so does a loop that keeps quitting while Redis answers.
    """
    quick_quits = 0
    try:
        while True:
            began, redis_failed = time.monotonic(), False
            try:
                run()
            except RedisError as exc:
                redis_failed = True
                log.debug("%s: stopped on a Redis error: %s", who, exc)
            if stopping():
                return
            if not redis_reachable(connection):
                quick_quits = 0
                if not wait_for_redis(connection, who, stopping, cap):
                    return
                continue
            if not redis_failed:
                quick = time.monotonic() - began < QUICK_QUIT
                quick_quits = quick_quits + 1 if quick else 1
                if quick_quits >= MAX_QUICK_QUITS:
                    raise click.ClickException(
                        f"{who} quit {quick_quits} times in a row while Redis answered; giving up"
                    )
                log.warning("%s: quit unexpectedly; starting again", who)
            time.sleep(min(FIRST_WAIT * 2**quick_quits, cap))
    except (StopRequested, KeyboardInterrupt):
        return


class AppWorker(Worker):
    """An RQ worker whose every job runs in a fresh app context with its own DB session, and
    which waits out a Redis outage instead of quitting.

    Usable from `flask worker`, or as `rq worker -w app.background.worker.AppWorker`.
    """

    def __init__(self, *args, flask_app=None, **kwargs):
        super().__init__(*args, **kwargs)
        if flask_app is None:
            from app import create_app

            flask_app = create_app()
        self.flask_app = flask_app
        self.stopping = False
        self.redis_retry_cap = flask_app.config["REDIS_RETRY_MAX_WAIT"]

    def perform_job(self, job, queue, execution):
        """Run the job in an app context, and log one line for it (with the request id of the
        request that queued it, which every line the job logs carries too)."""
        request_token = current_request_id.set((job.meta or {}).get("request_id"))
        job_token = current_job_id.set(job.id)
        counter, started, ok, store_id = logs.start_counting(), time.perf_counter(), False, None
        try:
            with self.flask_app.app_context():
                # A forked work horse must not reuse the parent's pooled connections.
                db.engine.dispose(close=False)
                try:
                    # The store the job was queued for (row-level security, tenants/rls.py).
                    job_store = (job.meta or {}).get("store_id")
                    with store_context(job_store) if job_store else contextlib.nullcontext():
                        ok = super().perform_job(job, queue, execution)
                    return ok
                finally:
                    store_id = g.get("job_store_id")
                    db.session.remove()
        finally:
            logs.stop_counting()
            logs.log_job(
                job,
                ok=ok,
                duration=time.perf_counter() - started,
                sql_count=counter[0],
                store_id=store_id,
            )
            current_job_id.reset(job_token)
            current_request_id.reset(request_token)

    def request_stop(self, signum, frame):
        self.stopping = True
        return super().request_stop(signum, frame)

    def heartbeat(self, timeout=None, pipeline=None):
        """RQ's heartbeat, which waits out an outage (logging once) rather than failing.

        RQ's dequeue loop retries a lost connection itself, logging every attempt and waiting
        up to 60 s between them; its first step is this heartbeat, so the wait happens here.
        """
        if pipeline is not None or self.is_horse:
            return super().heartbeat(timeout, pipeline)
        try:
            return super().heartbeat(timeout, pipeline)
        except RedisError:
            if not wait_for_redis(
                self.connection, f"worker {self.name}", lambda: self.stopping, self.redis_retry_cap
            ):
                raise StopRequested() from None
            self._after_outage()
            return super().heartbeat(timeout, pipeline)

    def _after_outage(self) -> None:
        """Re-register (Redis may have come back empty) and restart a scheduler that died."""
        with self.connection.pipeline() as pipeline:
            pipeline.hset(self.key, mapping=self.serialize())
            worker_registration.register(self, pipeline)
            pipeline.execute()
        process = getattr(self.scheduler, "_process", None) if self.scheduler else None
        if self.scheduler and (process is None or not process.is_alive()):
            self.scheduler.acquire_locks(auto_start=True)

    def _pubsub_exception_handler(self, exc, pubsub, pubsub_thread):
        """Retry the command channel quietly during an outage (the main loop logs it once)."""
        if isinstance(exc, RedisConnectionError):
            time.sleep(2.0)
            return
        return super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    def teardown(self):
        """RQ's teardown, which can't register the death while Redis is down: the worker's key
        expires on its own then."""
        try:
            super().teardown()
        except RedisError as exc:
            log.warning("worker %s: could not unregister (%s)", self.name, exc)


class AppCronScheduler(CronScheduler):
    """RQ's cron scheduler, remembering a stop request: its `start()` returns quietly after
    one, which would otherwise look like an unexpected quit."""

    stopping = False

    def enqueue_jobs(self):
        """RQ's, but a periodic job whose last run still waits in its queue is not queued
        again: when the workers fall behind (a loaded host, a backlog after an outage), sweeps
        queued every few seconds would pile up ahead of the very jobs they queue."""
        enqueue_time = now()
        enqueued = []
        for job in self._cron_jobs:
            if not job.should_run():
                continue
            last = job.get_job_ids(self.connection, 0, 0)
            if not (last and still_waiting(last[0])):
                job.enqueue(self.connection)
                enqueued.append(job)
            job.set_enqueue_time(enqueue_time)
        return enqueued

    def _request_stop(self, signum, frame):
        self.stopping = True
        return super()._request_stop(signum, frame)


def _require_redis():
    if current_app.config["EMBEDDED"]:
        raise click.ClickException(
            "REDIS_URL is not set: Pasar runs jobs inline (embedded mode) and needs no worker."
        )


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--queue", "queues", multiple=True, help="Queue to work on (repeatable).")
@with_appcontext
def worker_command(burst: bool, queues: tuple[str, ...]):
    """Run an RQ worker (with its scheduler, which delayed retries need) through Redis outages."""
    _require_redis()
    connection = redis_client.patient()
    flask_app = current_app._get_current_object()
    current: list[AppWorker] = []

    def run():
        # A fresh worker (and name) each time: the last one may still be registered in Redis.
        worker = AppWorker(
            [get_queue(name) for name in (queues or QUEUES)],
            connection=connection,
            flask_app=flask_app,
            # Housekeeping (which also restarts a scheduler that died) every minute, not ten.
            maintenance_interval=60,
        )
        current[:] = [worker]
        # Round robin, not queue order: with the default strategy a busy `default` queue (a
        # backlog of webhooks and sweeps after an outage) keeps the `email` queue waiting forever.
        worker.work(
            burst=burst,
            with_scheduler=True,
            logging_level="INFO",
            dequeue_strategy=DequeueStrategy.ROUND_ROBIN,
        )

    if burst:
        run()
        return
    run_through_outages(
        run,
        connection,
        "worker",
        stopping=lambda: bool(current) and current[0].stopping,
        cap=flask_app.config["REDIS_RETRY_MAX_WAIT"],
    )


@click.command("cron")
@with_appcontext
def cron_command():
    """Run the RQ cron scheduler that enqueues Pasar's periodic jobs, through Redis outages."""
    _require_redis()
    connection = redis_client.patient()
    scheduler = AppCronScheduler(connection=connection, logging_level="INFO")
    for func, queue, interval in periodic_jobs(current_app.config["SWEEP_INTERVAL"]):
        scheduler.register(
            func, queue, interval=interval, job_timeout=current_app.config["JOB_TIMEOUT"]
        )
    # The same scheduler starts again after an outage, so it keeps each job's timing.
    run_through_outages(
        scheduler.start,
        connection,
        "cron",
        stopping=lambda: scheduler.stopping,
        cap=current_app.config["REDIS_RETRY_MAX_WAIT"],
    )
