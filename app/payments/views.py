"""Webhook endpoints, one per provider, on the store's own host."""

from flask import jsonify, request

from app.extensions import csrf
from app.payments import webhook_limits
from app.payments.webhooks import (
    TEST_GATEWAY,
    record_midtrans_notification,
    record_stripe_event,
    record_test_gateway_event,
)
from tenants.context import current_store, store_blueprint

bp = store_blueprint("payments", __name__, url_prefix="/webhooks")
csrf.exempt(bp)  # providers sign their requests; there is no browser session to protect


def _too_many(wait: int):
    response = jsonify(result="rate limited")
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    return response


def _receive(provider: str, signed: bool, record):
    """Limit, verify and record one delivery (see app/payments/webhook_limits.py)."""
    store = current_store()
    wait = webhook_limits.refused_before_verifying(store.id, provider, signed)
    if wait:
        return _too_many(wait)
    status, outcome = record(store)
    if outcome == "bad signature":
        wait = webhook_limits.count_failure()
        if wait:
            return _too_many(wait)
    elif status < 300:
        webhook_limits.count_delivery(store.id, provider)
    return jsonify(result=outcome), status


@bp.post("/test")
def test_gateway_webhook():
    """Receive the test gateway's signed event: verify, record, answer; a job applies it."""
    signature = request.headers.get("Pasar-Signature")
    return _receive(
        TEST_GATEWAY,
        bool(signature),
        lambda store: record_test_gateway_event(store, request.get_data(cache=False), signature),
    )


@bp.post("/stripe")
def stripe_webhook():
    """Receive a Stripe event, verified with the store's endpoint secret."""
    signature = request.headers.get("Stripe-Signature")
    return _receive(
        "stripe",
        bool(signature),
        lambda store: record_stripe_event(store, request.get_data(cache=False), signature),
    )


@bp.post("/midtrans")
def midtrans_webhook():
    """Receive a Midtrans HTTP notification (re-checked with Midtrans before it is applied)."""
    # Midtrans signs inside the body, so every notification is read and checked.
    return _receive(
        "midtrans",
        True,
        lambda store: record_midtrans_notification(store, request.get_data(cache=False)),
    )
