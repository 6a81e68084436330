"""Webhooks: verify on the raw body, record once, answer fast, apply in a job.

Applying is idempotent and order-aware: it locks the order row, and the order state machine
refuses to go backwards, so the same event five times, or "paid" after "refunded", leaves one
correct state. An amount or currency that doesn't match the order flags the event for a person.
"""

import hashlib
import hmac
import json

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.database import utcnow
from app.extensions import db
from app.orders import states
from app.orders.models import Order
from app.orders.service import transition
from app.payments.models import Payment, WebhookEvent
from app.payments.signatures import SignatureError, verify_stripe

TEST_GATEWAY = "test"


def gateway_secret(store_id: int) -> str:
    """The per-store secret the built-in test gateway signs its webhooks with."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"test-gateway:{store_id}".encode(), hashlib.sha256).hexdigest()


def record_test_gateway_event(store, raw_body: bytes, signature: str | None) -> tuple[int, str]:
    """Verify and store a test-gateway webhook; returns (HTTP status, what happened).

    Nothing is stored unless the signature is genuine; a repeated event id is a no-op.
    """
    try:
        verify_stripe(raw_body, signature, gateway_secret(store.id))
    except SignatureError:
        return 400, "bad signature"
    try:
        payload = json.loads(raw_body)
        event_id, event_type = str(payload["id"]), str(payload["type"])
        if not (0 < len(event_id) <= 120 and 0 < len(event_type) <= 60):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return 400, "malformed event"
    event = WebhookEvent(
        provider=TEST_GATEWAY,
        event_id=event_id,
        store_id=store.id,
        event_type=event_type,
        payload=payload,
    )
    try:
        with db.session.begin_nested():
            db.session.add(event)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return 200, "duplicate"
    from jobs import enqueue

    enqueue(apply_webhook_event, event.id, job_id=f"webhook-{event.id}")
    return 200, "recorded"


def _finish(event: WebhookEvent, status: str, note: str = "") -> str:
    event.status = status
    event.note = note[:1000]
    event.processed_at = utcnow()
    db.session.commit()
    return status


def apply_webhook_event(event_pk: int) -> str:
    """Apply a recorded event to its order (the job); safe to run any number of times."""
    event = db.session.get(WebhookEvent, event_pk)
    if event is None or event.status != "received":
        return "missing" if event is None else event.status
    data = event.payload
    order = db.session.scalar(
        select(Order)
        .where(Order.store_id == event.store_id, Order.number == data.get("order_number"))
        .with_for_update()
    )
    if order is None:
        return _finish(event, "flagged", "unknown order")
    amount, currency = data.get("amount"), data.get("currency")
    if event.event_type == "payment.succeeded":
        if amount != order.total or currency != order.currency:
            return _finish(
                event,
                "flagged",
                f"amount {amount} {currency} does not match the "
                f"order's {order.total} {order.currency}",
            )
        if order.status != states.PENDING_PAYMENT:
            note = f"order already {order.status}"
            # Money arrived for an order that was cancelled: a person must refund or reinstate.
            return _finish(
                event, "flagged" if order.status == states.CANCELLED else "ignored", note
            )
        transition(order, states.PAID, note=f"Paid ({event.provider})")
        db.session.add(
            Payment(
                store_id=order.store_id,
                order_id=order.id,
                provider=event.provider,
                provider_ref=str(data.get("payment_id")),
                kind="charge",
                amount=amount,
                currency=currency,
            )
        )
        return _finish(event, "applied")
    if event.event_type == "refund.succeeded":
        if (
            currency != order.currency
            or not isinstance(amount, int)
            or not 0 < amount <= order.total
        ):
            return _finish(event, "flagged", "refund amount or currency does not fit the order")
        refunded = -sum(
            p.amount
            for p in db.session.scalars(
                select(Payment).where(Payment.order_id == order.id, Payment.kind == "refund")
            )
        )
        wanted = states.REFUNDED if refunded + amount >= order.total else states.PARTIALLY_REFUNDED
        if not states.can_transition(order.status, wanted):
            return _finish(event, "ignored", f"order is {order.status}")
        transition(order, wanted, note=f"Refund of {amount} ({event.provider})")
        db.session.add(
            Payment(
                store_id=order.store_id,
                order_id=order.id,
                provider=event.provider,
                provider_ref=str(data.get("refund_id")),
                kind="refund",
                amount=-amount,
                currency=currency,
            )
        )
        return _finish(event, "applied")
    return _finish(event, "ignored", f"unhandled event type {event.event_type}")
