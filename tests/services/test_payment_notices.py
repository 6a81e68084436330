"""A paid order's two emails are written in the transaction that marks it paid.

Before, the event was marked applied in one commit and each email written in a commit of its
own: a worker that died in between left a paid order without its confirmation (the Redis
outage soak once ended with 82 emails for 42 payments). Now the rows commit with the payment,
and a worker that dies before queuing them leaves them to the email sweep.
"""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.notifications.models import EmailMessage
from app.orders.models import Order
from app.payments.models import WebhookEvent
from app.payments.webhooks import apply_webhook_event
from tenants.context import store_context
from tests.web.order_helpers import make_order, make_variant


class WorkerDied(BaseException):
    """What a SIGKILL between two statements looks like to the code after it."""


def _die(message_id):
    raise WorkerDied(message_id)


def _event(store, made) -> int:
    event = WebhookEvent(
        provider="test",
        event_id=f"evt_notices_{made['number']}",
        store_id=store.id,
        event_type="payment.succeeded",
        payload={
            "type": "payment.succeeded",
            "order_number": made["number"],
            "amount": made["total"],
            "currency": "USD",
            "payment_id": f"pay_{made['number']}",
        },
        order_number=made["number"],
    )
    db.session.add(event)
    db.session.commit()
    return event.id


def test_a_worker_dying_after_the_payment_leaves_both_emails_to_the_sweep(
    app, store_a, monkeypatch
):
    made = make_order(app, store_a, make_variant(store_a), quantity=1)
    monkeypatch.setattr("app.notifications.service.send_now", _die)
    monkeypatch.setattr("app.payments.webhooks.send_now", _die)
    # The worker runs the job in the store it was queued for (row-level security).
    with app.test_request_context(), store_context(store_a.id):
        event_id = _event(store_a, made)
        with pytest.raises(WorkerDied):
            apply_webhook_event(event_id)
        db.session.rollback()
        assert db.session.get(Order, made["id"]).status == "paid"
        emails = db.session.scalars(
            select(EmailMessage.status).where(EmailMessage.store_id == store_a.id)
        ).all()
        assert emails == ["queued", "queued"]  # the shopper's and the owner's, for the sweep


def test_a_failure_before_the_commit_leaves_neither_payment_nor_emails(app, store_a, monkeypatch):
    made = make_order(app, store_a, make_variant(store_a), quantity=1)

    def broken_template(*args, **kwargs):
        raise RuntimeError("the owners' notice could not be rendered")

    with app.test_request_context(), store_context(store_a.id):
        event_id = _event(store_a, made)
        real = "app.orders.notices.store_url"
        monkeypatch.setattr(real, broken_template)
        with pytest.raises(RuntimeError):
            apply_webhook_event(event_id)
        db.session.rollback()
        assert db.session.get(Order, made["id"]).status == "pending_payment"
        assert db.session.get(WebhookEvent, event_id).status == "received"  # the retry applies it
        assert not db.session.scalars(select(EmailMessage.id)).all()
