"""A sweep doesn't queue a row again while its sweep job still waits in Redis.

After a long Redis outage the workers are behind; a sweep every SWEEP_INTERVAL that queued
every waiting row again each time grew the queues faster than they drained (and starved the
email queue behind the default one). Found by test_redis_outage_soak.py.
"""

from datetime import timedelta

from app.database import utcnow
from app.extensions import db, redis_client
from app.notifications.models import EmailMessage
from jobs.maintenance import sweep_email_outbox
from tests.integration.conftest import PRODUCTION_MODE

pytestmark = PRODUCTION_MODE


def test_a_second_sweep_leaves_a_waiting_email_job_alone(production_app):
    app = production_app
    with app.app_context():
        message = EmailMessage(
            to_address="late@example.com",
            subject="Your order",
            template="order_paid",
            text_body="Thanks",
            status="queued",
        )
        db.session.add(message)
        db.session.commit()
        message.updated_at = utcnow() - timedelta(hours=1)  # Redis was down when it was queued
        db.session.commit()
        conn = redis_client.get()

        sweep_email_outbox()
        sweep_email_outbox()  # no worker has taken the first job yet
        assert conn.llen("rq:queue:email") == 1
        db.session.remove()
