"""Jobs on a real rq worker process: email delivery, retries with the scheduler, failures."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from app.background import enqueue, enqueue_unless_waiting, get_queue
from app.extensions import db, redis_client
from app.notifications.models import EmailMessage
from app.notifications.service import queue_email
from tests.integration import sample_jobs
from tests.integration.conftest import PRODUCTION_MODE, ROOT, wait_for

pytestmark = PRODUCTION_MODE


def _email_status(app, message_id):
    with app.app_context():
        status = db.session.get(EmailMessage, message_id).status
        db.session.remove()
        return status


def test_worker_delivers_a_queued_email_over_smtp(production_app, worker, smtp_server):
    with production_app.test_request_context():
        message = queue_email("worker@example.com", "From the worker", "test_message")
        message_id = message.id
        assert message.status == "queued"
    wait_for(lambda: _email_status(production_app, message_id) == "sent", what="email sent")
    wait_for(lambda: smtp_server.messages, what="SMTP delivery")
    assert smtp_server.messages[0]["Subject"] == "From the worker"
    assert len(smtp_server.messages) == 1


def test_a_failing_job_is_retried_by_the_scheduler_and_then_succeeds(production_app, worker):
    key = f"flaky-{uuid.uuid4().hex}"
    with production_app.app_context():
        job = enqueue(sample_jobs.flaky, key, 2, retries=3)
        conn = redis_client.get()

        def finished():
            job.refresh()
            return job.get_status() == "finished"

        wait_for(finished, timeout=40, what="the flaky job to finish after retries")
        assert int(conn.get(key)) == 3
        assert job.return_value() == 3


def test_a_job_out_of_retries_is_recorded_as_failed(production_app, worker):
    with production_app.app_context():
        job = enqueue(sample_jobs.always_fails, retries=1)
        queue = get_queue("default")

        def failed():
            fetched = Job.fetch(job.id, connection=redis_client.get())
            return fetched.get_status() == "failed" and fetched

        fetched = wait_for(failed, timeout=40, what="the job to fail for good")
        assert job.id in FailedJobRegistry(queue=queue).get_job_ids()
        assert "broken on purpose" in fetched.latest_result().exc_string


def test_email_that_keeps_failing_is_marked_failed_after_its_retries(production_app, worker):
    with production_app.test_request_context():
        message = queue_email("reject-me@example.com", "Bounced", "test_message")
        message_id = message.id
    wait_for(
        lambda: _email_status(production_app, message_id) == "failed",
        timeout=60,
        what="the email to be marked failed after its retries",
    )
    with production_app.app_context():
        stored = db.session.get(EmailMessage, message_id)
        assert stored.attempts == 4  # the first try and three retries
        assert "SMTPRecipientsRefused" in stored.last_error


def test_a_job_over_its_timeout_is_stopped_and_failed(production_app, worker):
    production_app.config["JOB_TIMEOUT"] = 1
    with production_app.app_context():
        job = enqueue(sample_jobs.sleeps, 30, retries=0)

        def failed():
            fetched = Job.fetch(job.id, connection=redis_client.get())
            return fetched.get_status() == "failed" and fetched

        fetched = wait_for(failed, timeout=20, what="the job to time out")
        assert "JobTimeoutException" in fetched.latest_result().exc_string


def test_cron_registers_the_periodic_jobs():
    from app.background.schedules import periodic_jobs
    from jobs.maintenance import (
        expire_unpaid_orders_job,
        prune_api_idempotency_keys_job,
        prune_user_sessions_job,
        reconcile_stock_job,
        release_expired_holds_job,
        sweep_email_outbox,
        sweep_gateway_deliveries,
        sweep_outbound_webhooks,
        sweep_webhook_events,
    )
    from jobs.stock_sync import sweep_stalled_syncs

    assert {func for func, _, _ in periodic_jobs()} == {
        sweep_email_outbox,
        sweep_webhook_events,
        sweep_gateway_deliveries,
        expire_unpaid_orders_job,
        release_expired_holds_job,
        sweep_stalled_syncs,
        reconcile_stock_job,
        prune_user_sessions_job,
        prune_api_idempotency_keys_job,
        sweep_outbound_webhooks,
    }


def test_the_expiry_job_runs_on_the_worker(production_app, worker):
    from datetime import timedelta

    from app.database import utcnow
    from app.orders.models import Order
    from jobs.maintenance import expire_unpaid_orders_job
    from tests.factories import make_store

    with production_app.app_context():
        store = make_store("expiry", "Expiry Shop")
        order = Order(
            store_id=store.id,
            number=1001,
            idempotency_key="k" * 20,
            email="a@example.com",
            status="pending_payment",
            currency="USD",
            subtotal=100,
            total=100,
            expires_at=utcnow() - timedelta(minutes=1),
        )
        db.session.add(order)
        db.session.commit()
        order_id = order.id
        db.session.remove()  # SQLite: release the write lock before the worker needs it
        job = enqueue(expire_unpaid_orders_job)

        def done():
            job.refresh()
            return job.get_status() == "finished"

        wait_for(done, what="the expiry job")
        db.session.expire_all()
        assert db.session.get(Order, order_id).status == "cancelled"


def test_a_busy_default_queue_does_not_keep_emails_waiting(production_app):
    """The worker takes its queues in turn: an email job queued behind a backlog of default
    jobs runs second, not after the whole backlog (the soak test's emails once starved so)."""
    with production_app.app_context():
        backlog = [enqueue(sample_jobs.sleeps, 0.05, retries=0) for _ in range(6)]
        email = enqueue(sample_jobs.sleeps, 0.05, queue="email", retries=0)
        ids = [job.id for job in backlog]
    env = {
        **os.environ,
        "DATABASE_URL": production_app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": production_app.config["REDIS_URL"],
        "SECRET_KEY": "test-secret-key",
    }
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    with production_app.app_context():
        connection = redis_client.get()
        ended = {job.id: job.ended_at for job in Job.fetch_many([*ids, email.id], connection)}
    assert all(ended.values()), ended
    assert sum(ended[i] < ended[email.id] for i in ids) <= 1


def _sweep_enqueue(app, job_id: str):
    with app.app_context():
        return enqueue_unless_waiting(sample_jobs.sleeps, 0, job_id=job_id, retries=0)


def test_a_sweep_leaves_a_job_that_still_waits_in_its_queue(production_app):
    job_id = f"sweep-{uuid.uuid4().hex}"
    assert _sweep_enqueue(production_app, job_id) is not None
    assert _sweep_enqueue(production_app, job_id) is None  # still queued: not queued twice
    with production_app.app_context():
        assert get_queue("default").job_ids.count(job_id) == 1


def test_a_sweep_queues_again_a_job_that_says_queued_but_no_queue_holds(production_app):
    """A worker took the job off its queue and lost Redis before starting it: the job's hash
    still says "queued", and a sweep trusting it would skip the row for ever."""
    job_id = f"sweep-{uuid.uuid4().hex}"
    _sweep_enqueue(production_app, job_id)
    with production_app.app_context():
        connection = redis_client.get()
        connection.lrem(get_queue("default").key, 0, job_id)  # what the dequeue did
        assert Job.fetch(job_id, connection=connection).get_status() == "queued"
    assert _sweep_enqueue(production_app, job_id) is not None
    with production_app.app_context():
        assert get_queue("default").job_ids.count(job_id) == 1


def test_a_sweep_queues_a_retry_no_scheduler_moved(production_app):
    """A retry waits in the scheduled registry for a worker's scheduler; one long overdue (the
    scheduler died in an outage) is taken out of the registry and queued by the sweep."""
    with production_app.app_context():
        connection = redis_client.get()
        queue = get_queue("default")
        registry = ScheduledJobRegistry(queue=queue)
        ids = {}
        for name, ago in (("fresh", 5), ("stuck", 300)):
            ids[name] = f"sweep-{name}-{uuid.uuid4().hex}"
            queue.enqueue_at(
                datetime.now(UTC) - timedelta(seconds=ago), sample_jobs.sleeps, 0, job_id=ids[name]
            )
            assert Job.fetch(ids[name], connection=connection).get_status() == "scheduled"
    assert _sweep_enqueue(production_app, ids["fresh"]) is None  # its scheduler is due to move it
    assert _sweep_enqueue(production_app, ids["stuck"]) is not None
    with production_app.app_context():
        assert ids["stuck"] not in registry.get_job_ids()
        assert ids["fresh"] in registry.get_job_ids()
        assert queue.job_ids.count(ids["stuck"]) == 1


def test_cron_does_not_pile_a_sweep_on_top_of_its_last_waiting_run(production_app):
    """With no worker taking jobs (all busy), a sweep due every second is queued once, not once
    a second: a backlog of sweeps once kept the jobs they queue waiting behind them for minutes."""
    from app.background.worker import AppCronScheduler

    with production_app.app_context():
        connection = redis_client.get()
        queue = get_queue("default")
        queue.empty()
        scheduler = AppCronScheduler(connection=connection)
        scheduler.register(sample_jobs.sleeps, "default", args=(0,), interval=1)
        assert len(scheduler.enqueue_jobs()) == 1
        waiting = queue.job_ids
        for cron_job in scheduler._cron_jobs:
            cron_job.next_enqueue_time = datetime.now(UTC)  # due again at once
        assert scheduler.enqueue_jobs() == []
        assert queue.job_ids == waiting
        connection.lrem(queue.key, 0, waiting[0])  # a worker took it
        Job.fetch(waiting[0], connection=connection).set_status("finished")
        for cron_job in scheduler._cron_jobs:
            cron_job.next_enqueue_time = datetime.now(UTC)
        assert len(scheduler.enqueue_jobs()) == 1
        assert len(queue.job_ids) == 1 and queue.job_ids != waiting


def test_a_sweep_does_not_copy_a_row_whose_first_job_still_waits(production_app):
    """Redis came back with its data: the email's own job is still queued, so the sweep
    queues no copy (each copy costs a worker a job that finds nothing to do)."""
    from datetime import timedelta as _timedelta

    from app.database import utcnow
    from jobs.maintenance import sweep_email_outbox

    with production_app.test_request_context():
        get_queue("email").empty()
        message = queue_email("twin@example.com", "Twin", "test_message")
        message.updated_at = utcnow() - _timedelta(hours=1)  # the sweep's grace is long past
        db.session.commit()
        assert get_queue("email").job_ids == [f"email-{message.id}"]
        assert sweep_email_outbox() == 1  # due, but its job still waits
        assert get_queue("email").job_ids == [f"email-{message.id}"]
        get_queue("email").empty()  # now the job is lost
        sweep_email_outbox()
        assert get_queue("email").job_ids == [f"email-{message.id}-sweep"]
