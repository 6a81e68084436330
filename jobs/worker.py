"""The RQ worker that runs Pasar jobs inside a Flask app context, and the periodic scheduler."""

import logging

import click
from flask import current_app
from flask.cli import with_appcontext
from rq import Worker
from rq.cron import CronScheduler

from app.extensions import db, redis_client
from jobs import QUEUES, get_queue

log = logging.getLogger(__name__)


class AppWorker(Worker):
    """An RQ worker whose every job runs in a fresh app context with its own DB session.

    Usable from `flask worker`, or as `rq worker -w jobs.worker.AppWorker`.
    """

    def __init__(self, *args, flask_app=None, **kwargs):
        super().__init__(*args, **kwargs)
        if flask_app is None:
            from app import create_app

            flask_app = create_app()
        self.flask_app = flask_app

    def perform_job(self, job, queue, execution):
        with self.flask_app.app_context():
            # A forked work horse must not reuse the parent's pooled connections.
            db.engine.dispose(close=False)
            try:
                return super().perform_job(job, queue, execution)
            finally:
                db.session.remove()


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
    """Run an RQ worker (with its scheduler, which delayed retries need)."""
    _require_redis()
    worker = AppWorker(
        [get_queue(name) for name in (queues or QUEUES)],
        connection=redis_client.get(),
        flask_app=current_app._get_current_object(),
    )
    worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


def periodic_jobs():
    """(function, queue, interval in seconds) for every job that runs on a timer."""
    from jobs.maintenance import (
        expire_unpaid_orders_job,
        prune_user_sessions_job,
        reconcile_stock_job,
        sweep_email_outbox,
    )
    from jobs.stock_sync import sweep_stalled_syncs

    return [
        (sweep_email_outbox, "default", 300),
        (expire_unpaid_orders_job, "default", 60),
        (sweep_stalled_syncs, "default", 300),
        (reconcile_stock_job, "default", 3600),
        (prune_user_sessions_job, "default", 86400),
    ]


@click.command("cron")
@with_appcontext
def cron_command():
    """Run the RQ cron scheduler that enqueues Pasar's periodic jobs."""
    _require_redis()
    scheduler = CronScheduler(connection=redis_client.get(), logging_level="INFO")
    for func, queue, interval in periodic_jobs():
        scheduler.register(
            func, queue, interval=interval, job_timeout=current_app.config["JOB_TIMEOUT"]
        )
    scheduler.start()
