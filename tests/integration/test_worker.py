"""Jobs on a real rq worker process: email delivery, retries with the scheduler, failures."""

import uuid

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry

from app.extensions import db, redis_client
from app.notifications.models import EmailMessage
from app.notifications.service import queue_email
from jobs import enqueue, get_queue
from tests.integration import sample_jobs
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


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
    from jobs.maintenance import (
        expire_unpaid_orders_job,
        prune_user_sessions_job,
        reconcile_stock_job,
        sweep_email_outbox,
        sweep_gateway_deliveries,
        sweep_webhook_events,
    )
    from jobs.stock_sync import sweep_stalled_syncs
    from jobs.worker import periodic_jobs

    assert {func for func, _, _ in periodic_jobs()} == {
        sweep_email_outbox,
        sweep_webhook_events,
        sweep_gateway_deliveries,
        expire_unpaid_orders_job,
        sweep_stalled_syncs,
        reconcile_stock_job,
        prune_user_sessions_job,
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
