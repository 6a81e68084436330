"""Webhooks: verify on the raw body, record once, answer fast, apply in a job.

Applying is idempotent and order-aware: it locks the order row, and the order state machine
refuses to go backwards, so the same event five times, or "paid" after "refunded", leaves one
correct state. An amount or currency that doesn't match the order flags the event for a person.
"""

import hashlib
import hmac
import json
import logging
from decimal import ROUND_DOWN

import requests
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.checkout.models import CheckoutSettings
from app.checkout.secrets import decrypt
from app.database import utcnow
from app.extensions import db
from app.money import format_money, to_minor
from app.notifications.service import send_now
from app.orders import states
from app.orders.models import Order
from app.orders.notices import record_payment_notices
from app.orders.service import transition
from app.payments.models import Payment, WebhookEvent
from app.payments.providers import ProviderError, midtrans_status
from app.payments.signatures import SignatureError, verify_midtrans, verify_stripe
from app.payments.test_mode import is_test_provider
from tenants.models import Store

log = logging.getLogger(__name__)

TEST_GATEWAY = "test"


def gateway_secret(store_id: int) -> str:
    """The per-store secret the built-in test gateway signs its webhooks with."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"test-gateway:{store_id}".encode(), hashlib.sha256).hexdigest()


def record_event(
    provider: str, store, event_id: str, event_type: str, payload: dict, order_number=None
):
    """Store a verified event once and queue its application; returns (status, outcome).

    The committed row is the truth: if Redis can't take the job, the answer is still 200 and
    the webhook sweep queues it later. A provider's retry of an event not yet applied queues
    it again, so a retry is never answered "duplicate" with nothing queued.
    """
    from app.background import enqueue_after_commit

    if not (0 < len(event_id) <= 120 and 0 < len(event_type) <= 60):
        return 400, "malformed event"
    event = WebhookEvent(
        provider=provider,
        event_id=event_id,
        store_id=store.id,
        event_type=event_type,
        payload=payload,
        order_number=_int(order_number) if _int(order_number) is not None else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(event)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        known = db.session.scalar(
            select(WebhookEvent).where(
                WebhookEvent.provider == provider, WebhookEvent.event_id == event_id
            )
        )
        if known is None or known.status != "received":
            return 200, "duplicate"
        known_id = known.id
        db.session.commit()
        enqueue_after_commit(apply_webhook_event, known_id, job_id=f"webhook-{known_id}-retry")
        return 200, "queued again"
    enqueue_after_commit(apply_webhook_event, event.id, job_id=f"webhook-{event.id}")
    return 200, "recorded"


def record_test_gateway_event(store, raw_body: bytes, signature: str | None) -> tuple[int, str]:
    """Verify and store a test-gateway webhook (nothing is stored unless it is genuine)."""
    try:
        verify_stripe(raw_body, signature, gateway_secret(store.id))
    except SignatureError:
        return 400, "bad signature"
    try:
        payload = json.loads(raw_body)
        event_id, event_type = str(payload["id"]), str(payload["type"])
    except (ValueError, KeyError, TypeError):
        return 400, "malformed event"
    return record_event(
        TEST_GATEWAY, store, event_id, event_type, payload, payload.get("order_number")
    )


def record_stripe_event(store, raw_body: bytes, signature: str | None) -> tuple[int, str]:
    """Verify a Stripe webhook with the store's endpoint secret, normalise and store it."""
    settings = db.session.get(CheckoutSettings, store.id)
    secret = decrypt(settings.stripe_webhook_secret) if settings else None
    try:
        verify_stripe(raw_body, signature, secret or "")
    except SignatureError:
        return 400, "bad signature"
    try:
        event = json.loads(raw_body)
        event_id, kind, obj = str(event["id"]), str(event["type"]), event["data"]["object"]
    except (ValueError, KeyError, TypeError):
        return 400, "malformed event"
    payload = {"stripe_type": kind}
    if kind == "checkout.session.completed" and obj.get("payment_status") == "paid":
        payload.update(
            type="payment.succeeded",
            order_number=_int((obj.get("metadata") or {}).get("order_number")),
            amount=obj.get("amount_total"),
            currency=str(obj.get("currency", "")).upper(),
            payment_id=obj.get("payment_intent") or obj.get("id"),
        )
    elif kind == "refund.created" and obj.get("status") in ("succeeded", "pending"):
        charge = db.session.scalar(
            select(Payment).where(
                Payment.provider == "stripe",
                Payment.provider_ref == str(obj.get("payment_intent")),
                Payment.kind == "charge",
            )
        )
        order = db.session.get(Order, charge.order_id) if charge else None
        payload.update(
            type="refund.succeeded",
            order_number=order.number if order else None,
            amount=obj.get("amount"),
            currency=str(obj.get("currency", "")).upper(),
            refund_id=obj.get("id"),
        )
    else:
        payload["type"] = kind
    return record_event(
        "stripe", store, event_id, payload["type"], payload, payload.get("order_number")
    )


def record_midtrans_notification(store, raw_body: bytes) -> tuple[int, str]:
    """Verify a Midtrans notification by its signature_key and store it as a hint.

    The signature has no timestamp, so the job asks Midtrans for the real status before
    anything is applied: a replayed notification can only make Pasar look again.
    """
    settings = db.session.get(CheckoutSettings, store.id)
    server_key = decrypt(settings.midtrans_server_key) if settings else None
    try:
        notification = json.loads(raw_body)
        if not isinstance(notification, dict):
            raise ValueError
        verify_midtrans(notification, server_key or "")
    except (ValueError, SignatureError):
        return 400, "bad signature"
    event_id = (
        f"{notification.get('transaction_id', '')}:"
        f"{notification.get('transaction_status', '')}:{notification['status_code']}"
    )
    order_id = str(notification["order_id"])
    return record_event(
        "midtrans",
        store,
        event_id,
        "midtrans.notification",
        {"order_id": order_id},
        order_id.rpartition("-")[2],
    )


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _midtrans_truth(event: WebhookEvent) -> dict:
    """Ask Midtrans for the transaction's current status and express it like other events."""
    settings = db.session.get(CheckoutSettings, event.store_id)
    order_id = str(event.payload.get("order_id", ""))
    status = midtrans_status(settings, order_id)  # network errors propagate: RQ retries
    number = _int(order_id.rpartition("-")[2])
    order = db.session.scalar(
        select(Order).where(Order.store_id == event.store_id, Order.number == number)
    )
    currency = order.currency if order else "IDR"
    # Midtrans reports major units ("150000.00"); decimals the currency lacks are cut off.
    gross = to_minor(status.get("gross_amount", "0"), currency, ROUND_DOWN)
    transaction = status.get("transaction_status")
    if transaction == "settlement" or (
        transaction == "capture" and status.get("fraud_status") in (None, "accept")
    ):
        return {
            "type": "payment.succeeded",
            "order_number": number,
            "amount": gross,
            "currency": str(status.get("currency", currency)).upper(),
            "payment_id": status.get("transaction_id"),
        }
    if transaction in ("refund", "partial_refund"):
        # No refund_amount means the whole gross went back (both are in major units).
        refunded = to_minor(
            status.get("refund_amount", status.get("gross_amount", "0")), currency, ROUND_DOWN
        )
        already = -sum(
            db.session.scalars(
                select(Payment.amount).where(
                    Payment.order_id == (order.id if order else 0), Payment.kind == "refund"
                )
            )
        )
        return {
            "type": "refund.succeeded",
            "order_number": number,
            "amount": refunded - already,
            "currency": currency,
            "refund_id": f"{status.get('transaction_id')}:{refunded}",
        }
    return {"type": f"midtrans.{transaction}", "order_number": number}


def _finish(event: WebhookEvent, status: str, note: str = "") -> str:
    event.status = status
    event.next_check_at = None
    event.note = note[:1000]
    event.processed_at = utcnow()
    db.session.commit()
    return status


def _recheck_later(event: WebhookEvent, exc: Exception) -> str:
    """Midtrans can't be reached: note the failure and when to ask again (the sweep asks).

    After the last re-check of the schedule (about a day) the event is flagged for a person.
    """
    from app.background import next_attempt_at

    now = utcnow()
    event.attempts += 1
    event.last_error = f"{type(exc).__name__}: {exc}"[:1000]
    event.next_check_at = next_attempt_at(
        event.attempts, current_app.config["MIDTRANS_RECHECK_SCHEDULE"], now
    )
    if event.next_check_at is None:
        log.error("midtrans event %s: gave up after %d checks", event.id, event.attempts)
        return _finish(event, "flagged", f"Midtrans could not be reached: {event.last_error}")
    log.warning(
        "midtrans event %s: status check %d failed (%s); next at %s",
        event.id,
        event.attempts,
        event.last_error,
        event.next_check_at.isoformat(),
    )
    db.session.commit()
    return "rechecking"


def apply_webhook_event(event_pk: int) -> str:
    """Apply a recorded event to its order (the job); safe to run any number of times."""
    event = db.session.get(WebhookEvent, event_pk)
    if event is None or event.status != "received":
        return "missing" if event is None else event.status
    if event.provider == "midtrans":
        try:
            data = _midtrans_truth(event)
        except (requests.RequestException, ProviderError) as exc:
            # Unreachable, failing, or (until the vendor fixes it) not set up: ask again later.
            return _recheck_later(event, exc)
    else:
        data = event.payload
    # Locked and read again: the job and a sweep's copy of it may run at once on two workers,
    # and the one that waited must see "applied" rather than mark the event "ignored".
    db.session.refresh(event, with_for_update=True)
    if event.status != "received":
        return event.status
    kind = data.get("type", event.event_type)
    order = db.session.scalar(
        select(Order)
        .where(Order.store_id == event.store_id, Order.number == data.get("order_number"))
        .with_for_update()
    )
    if order is None:
        return _finish(event, "flagged", "unknown order")
    amount, currency = data.get("amount"), data.get("currency")
    if kind == "payment.succeeded":
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
        if is_test_provider(event.provider):
            # Paid on the test gateway (even if placed while the store had another provider).
            order.is_test = True
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
        # Only the run that moves the order to paid gets here (the row lock and the state
        # machine stop the others), so the emails go once; they commit with the payment.
        notices = record_payment_notices(order)
        outcome = _finish(event, "applied")
        for message in notices:
            send_now(message.id)
        return outcome
    if kind == "refund.succeeded":
        # A refund made from the dashboard was recorded when it was made; its webhook (or, for
        # Midtrans, a delta of zero against what is recorded) only confirms it.
        already_recorded = db.session.scalar(
            select(Payment.id).where(
                Payment.provider == event.provider,
                Payment.provider_ref == str(data.get("refund_id")),
                Payment.kind == "refund",
            )
        )
        if already_recorded or amount == 0:
            return _finish(event, "ignored", "refund already recorded")
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
        locale = db.session.get(Store, order.store_id).locale
        shown = format_money(amount, order.currency, locale)
        transition(order, wanted, note=f"Refund of {shown} ({event.provider})")
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
    return _finish(event, "ignored", f"unhandled event type {kind}")
