"""Two runs of one webhook event's job at once: the one that waited sees it applied.

A sweep can queue a copy of an event's job while the first is still running on another
worker. Before the event row was locked, the copy read "received", waited for the order's
lock, then found the order paid and marked the applied event "ignored" (seen by
tests/integration/test_redis_outage_soak.py). Row locks need PostgreSQL.
"""

import threading
import time

import pytest
from sqlalchemy import text

from app.extensions import db
from app.payments.models import WebhookEvent
from app.payments.webhooks import apply_webhook_event
from tests.web.order_helpers import make_order, make_variant


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_copy_of_the_job_waiting_on_the_first_leaves_the_event_applied(app, store_a):
    made = make_order(app, store_a, make_variant(store_a), quantity=1)
    with app.app_context():
        event = WebhookEvent(
            provider="test",
            event_id="evt_race",
            store_id=store_a.id,
            event_type="payment.succeeded",
            payload={
                "type": "payment.succeeded",
                "order_number": made["number"],
                "amount": made["total"],
                "currency": "USD",
                "payment_id": "pay_race",
            },
            order_number=made["number"],
        )
        db.session.add(event)
        db.session.commit()
        event_pk = db.session.get(WebhookEvent, event.id).id
        engine = db.engine
    results = []

    def copy_of_the_job():
        with app.app_context():
            results.append(apply_webhook_event(event_pk))
            db.session.remove()

    # The first run: holds the event's and the order's locks while it pays the order.
    with engine.connect() as first:
        first.execute(
            text("SELECT id FROM webhook_events WHERE id = :id FOR UPDATE"), {"id": event_pk}
        )
        first.execute(text("SELECT id FROM orders WHERE id = :id FOR UPDATE"), {"id": made["id"]})
        copy = threading.Thread(target=copy_of_the_job)
        copy.start()
        time.sleep(1)  # the copy is now waiting on a lock
        first.execute(text("UPDATE orders SET status = 'paid' WHERE id = :id"), {"id": made["id"]})
        first.execute(
            text("UPDATE webhook_events SET status = 'applied' WHERE id = :id"), {"id": event_pk}
        )
        first.commit()
    copy.join(timeout=20)
    assert results == ["applied"]
    with app.app_context():
        assert db.session.get(WebhookEvent, event_pk).status == "applied"
        db.session.remove()
