"""Pasar's built-in test gateway: a hosted payment page where the shopper approves or declines.

It then behaves like a real provider: it sends the store a signed webhook (from a job, over
HTTP in production mode), and the order is paid only when that webhook is verified and applied.
"""

import json
import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app.database import utcnow
from app.extensions import db, limiter
from app.orders import states
from app.orders.links import key_opens, order_path
from app.orders.models import Order
from app.payments.models import Payment
from jobs import enqueue
from tenants.context import current_store, store_blueprint
from tenants.query import MAX_ID

bp = store_blueprint("test_gateway", __name__, url_prefix="/pay/test")


def _order_or_404(number: int) -> Order:
    """The store's test-gateway order this signed key opens; 404 for anything else."""
    store = current_store()
    if number > MAX_ID:
        abort(404)
    order = db.session.scalar(
        select(Order).where(Order.store_id == store.id, Order.number == number)
    )
    key = request.values.get("key")
    if order is None or order.payment_provider != "test" or not key_opens(order, key):
        abort(404)
    return order


def _refusal(order: Order) -> str | None:
    """Why this order can't be paid now, or None."""
    if order.status != states.PENDING_PAYMENT:
        status = order.status.replace("_", " ")
        return f"This order is {status}: there is nothing to pay."
    if order.expires_at is not None and order.expires_at <= utcnow():
        return "This order waited too long for its payment and is being cancelled."
    return None


@bp.get("/<int:number>")
def page(number: int):
    """The hosted payment page: what is being paid, and Approve or Decline."""
    order = _order_or_404(number)
    return render_template(
        "payments/test_gateway.html",
        order=order,
        key=request.values.get("key"),
        refusal=_refusal(order),
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
        flash(refusal, "error")
        return redirect(url_for(".page", number=number, key=request.values.get("key")), 303)
    event = {
        "id": f"evt_test_{uuid.uuid4().hex}",
        "type": "payment.succeeded" if decision == "approve" else "payment.failed",
        "order_number": order.number,
        "amount": order.total,
        "currency": order.currency,
        "payment_id": f"pay_test_{uuid.uuid4().hex[:20]}",
    }
    store_id, path = order.store_id, order_path(order)
    already_paid = db.session.scalar(
        select(Payment.id).where(Payment.order_id == order.id, Payment.kind == "charge")
    )
    # Nothing may stay open while the webhook is delivered: in embedded mode it is handled
    # in this process at once, and SQLite would make it wait for this request's transaction.
    db.session.commit()
    if not already_paid:
        from jobs.payments import deliver_test_webhook

        enqueue(deliver_test_webhook, store_id, json.dumps(event), job_id=event["id"])
    if decision == "decline":
        return redirect(f"{path}&payment=declined", 303)
    return redirect(path, 303)
