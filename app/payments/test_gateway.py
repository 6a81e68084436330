"""Pasar's built-in test gateway: a hosted payment page where the shopper approves or declines.

It then behaves like a real provider: it sends the store a signed webhook (from a job, over
HTTP in production mode), and the order is paid only when that webhook is verified and applied.
"""

import json
import uuid

from flask import abort, redirect, render_template, request
from flask_babel import gettext

from app.background import enqueue_after_commit
from app.checkout.store_settings import settings_for
from app.database import utcnow
from app.extensions import db, limiter
from app.orders import states
from app.orders.links import key_opens, order_path
from app.orders.models import Order
from app.payments.models import GatewayDelivery
from app.payments.test_mode import CANT_TAKE_PAYMENTS, test_payments_allowed
from tenants.context import current_store, store_blueprint
from tenants.query import MAX_ID, scoped_select

bp = store_blueprint("test_gateway", __name__, url_prefix="/pay/test")


def _order_or_404(number: int) -> Order:
    """The order this signed key opens, in a store that takes payments here; 404 otherwise."""
    if number > MAX_ID or settings_for(current_store()).payment_provider != "test":
        abort(404)
    order = db.session.scalar(scoped_select(Order).where(Order.number == number))
    if order is None or not key_opens(order, request.values.get("key")):
        abort(404)
    return order


def _refusal(order: Order) -> str | None:
    """Why this order can't be paid now, or None."""
    if not test_payments_allowed(current_store()):
        # In production: the platform hasn't allowed test payments for this store.
        return str(CANT_TAKE_PAYMENTS)
    if order.status == states.CANCELLED:
        return gettext("This order was cancelled, so there is nothing to pay.")
    if order.status != states.PENDING_PAYMENT:
        return gettext("This order is already paid: there is nothing to pay.")
    if order.expires_at is not None and order.expires_at <= utcnow():
        return "This order waited too long for its payment and is being cancelled."
    return None


@bp.get("/<int:number>")
def page(number: int):
    """The hosted payment page: what is being paid, and Approve or Decline."""
    order = _order_or_404(number)
    return _page(order, _refusal(order))


def _page(order: Order, refusal: str | None) -> str:
    return render_template(
        "payments/test_gateway.html",
        order=order,
        key=request.values.get("key"),
        refusal=refusal,
        status_path=order_path(order),
        bare=True,
    )


@bp.post("/<int:number>/<any(approve, decline):decision>")
@limiter.limit("30 per minute")
def decide(number: int, decision: str):
    """Approve or decline the payment: the store hears of it by a signed webhook."""
    order = _order_or_404(number)
    refusal = _refusal(order)
    if refusal:
        # Nothing is sent; the page says why.
        return _page(order, refusal), 409
    event = {
        "id": f"evt_test_{uuid.uuid4().hex}",
        "type": "payment.succeeded" if decision == "approve" else "payment.failed",
        "order_number": order.number,
        "amount": order.total,
        "currency": order.currency,
        "payment_id": f"pay_test_{uuid.uuid4().hex[:20]}",
    }
    # The decision is recorded before anything is queued (the outbox, like emails): if Redis
    # is down the shopper still gets an answer, and the delivery sweep sends it later.
    delivery = GatewayDelivery(
        store_id=order.store_id,
        event_id=event["id"],
        order_number=order.number,
        decision=decision,
        body=json.dumps(event),
    )
    db.session.add(delivery)
    path = order_path(order)
    # Nothing may stay open while the webhook is delivered: in embedded mode it is handled
    # in this process at once, and SQLite would make it wait for this request's transaction.
    db.session.commit()
    enqueue_after_commit(
        "jobs.payments.deliver_gateway_delivery",
        delivery.id,
        job_id=f"gateway-delivery-{delivery.id}",
        retries=0,
    )
    if decision == "decline":
        return redirect(f"{path}&payment=declined", 303)
    return redirect(path, 303)
