"""Webhook endpoints, one per provider, on the store's own host."""

from flask import jsonify, request

from app.extensions import csrf, limiter
from app.payments.webhooks import (
    record_midtrans_notification,
    record_stripe_event,
    record_test_gateway_event,
)
from tenants.context import current_store, store_blueprint

bp = store_blueprint("payments", __name__, url_prefix="/webhooks")
csrf.exempt(bp)  # providers sign their requests; there is no browser session to protect


@bp.post("/test")
@limiter.limit("300 per minute")
def test_gateway_webhook():
    """Receive the test gateway's signed event: verify, record, answer; a job applies it."""
    status, outcome = record_test_gateway_event(
        current_store(), request.get_data(cache=False), request.headers.get("Pasar-Signature")
    )
    return jsonify(result=outcome), status


@bp.post("/stripe")
@limiter.limit("300 per minute")
def stripe_webhook():
    """Receive a Stripe event, verified with the store's endpoint secret."""
    status, outcome = record_stripe_event(
        current_store(), request.get_data(cache=False), request.headers.get("Stripe-Signature")
    )
    return jsonify(result=outcome), status


@bp.post("/midtrans")
@limiter.limit("300 per minute")
def midtrans_webhook():
    """Receive a Midtrans HTTP notification (re-checked with Midtrans before it is applied)."""
    status, outcome = record_midtrans_notification(current_store(), request.get_data(cache=False))
    return jsonify(result=outcome), status
