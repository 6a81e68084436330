"""The dashboard's order pages: the list, one order with its actions, slips and invoices.

Thin views on the dashboard blueprint: every order is found by its number within the current
store (another store's number is a 404), and every action is one app.orders.fulfilment call.
A refused action re-renders the order with the reason (409 for the order's status, 422 for
what was typed, 502 when the payment provider says no) and writes nothing.
"""

import uuid
from datetime import UTC
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.permissions import can, require_store_permission
from app.dashboard.views import bp
from app.extensions import db
from app.orders import fulfilment, states
from app.orders.fulfilment import FulfilmentError, payment_state, payment_summary
from app.orders.listing import PAYMENT_FILTERS, STATUS_FILTERS, get_order_by_number, list_orders
from app.orders.models import Order
from app.rendering import render_page_or_fragment
from tenants.context import current_store

LIST_TEMPLATE = "admin/orders/list.html"
DETAIL_TEMPLATE = "admin/orders/detail.html"
STATUS_LABELS = {status: status.replace("_", " ").capitalize() for status in states.STATUSES}
PAYMENT_LABELS = {
    "unpaid": "Unpaid",
    "paid": "Paid",
    "partially_refunded": "Partially refunded",
    "refunded": "Refunded",
}


@bp.context_processor
def _order_helpers():
    """Order templates label statuses and payment states the same way everywhere."""
    return {
        "order_status_labels": STATUS_LABELS,
        "payment_labels": PAYMENT_LABELS,
        "payment_state": payment_state,
        "local_time": local_time,
    }


def local_time(moment, fmt: str = "%d %b %Y, %H:%M") -> str:
    """A UTC timestamp in the store's time zone."""
    if moment is None:
        return ""
    try:
        zone = ZoneInfo(current_store().timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return moment.astimezone(zone).strftime(fmt)


def _order_or_404(number) -> Order:
    order = get_order_by_number(current_store(), number)
    if order is None:
        abort(404)
    return order


@bp.get("/orders/")
@require_store_permission("orders.view")
def order_list():
    """The store's orders: filter by status, payment and date, search, page; htmx swaps results."""
    page = list_orders(
        current_store(),
        q=request.args.get("q", ""),
        status=request.args.get("status", "all"),
        payment=request.args.get("payment", "all"),
        date_from=request.args.get("from", ""),
        date_to=request.args.get("to", ""),
        page=request.args.get("page", "1"),
    )
    return render_page_or_fragment(
        LIST_TEMPLATE,
        "results",
        page=page,
        status_filters=STATUS_FILTERS,
        payment_filters=PAYMENT_FILTERS,
    )


def _detail(order: Order, status: int = 200, **context):
    """The order page, with the forms' typed values kept after a refusal."""
    store = current_store()
    summary = payment_summary(order)
    actor_ids = {event.actor_id for event in order.events if event.actor_id}
    actors = (
        dict(db.session.execute(select(User.id, User.email).where(User.id.in_(actor_ids))).all())
        if actor_ids
        else {}
    )
    allowed = {
        "fulfil": can(current_user, store, "orders.fulfil"),
        "refund": can(current_user, store, "orders.refund"),
    }
    context.setdefault("ship_values", {})
    context.setdefault("refund_values", {})
    return render_template(
        DETAIL_TEMPLATE,
        order=order,
        summary=summary,
        actors=actors,
        allowed=allowed,
        steps=fulfilment.next_steps(order, summary),
        refund_key=uuid.uuid4().hex,
        **context,
    ), status


@bp.get("/orders/<int:number>")
@require_store_permission("orders.view")
def order_detail(number: int):
    """One order: lines, totals, payments, addresses, its history and what can be done next."""
    return _detail(_order_or_404(number))


def _refused(order: Order, exc: FulfilmentError, **context):
    flash(exc.message, "error")
    db.session.expire_all()  # show the order as it is, not as the refused attempt left it
    return _detail(_order_or_404(order.number), exc.status, **context)


def _done(order: Order, message: str):
    flash(message, "success")
    return redirect(url_for("dashboard.order_detail", number=order.number), code=303)


@bp.post("/orders/<int:number>/mark-paid")
@require_store_permission("orders.refund")
def order_mark_paid(number: int):
    """Record an offline payment (bank transfer, cash) of the full total."""
    order = _order_or_404(number)
    try:
        fulfilment.mark_paid(order, current_user.id)
    except FulfilmentError as exc:
        return _refused(order, exc)
    return _done(order, f"Order #{number} is marked paid.")


@bp.post("/orders/<int:number>/ship")
@require_store_permission("orders.fulfil")
def order_ship(number: int):
    """Mark the order shipped with a carrier and tracking number; the shopper is emailed."""
    order = _order_or_404(number)
    carrier = request.form.get("carrier", "")
    tracking = request.form.get("tracking_number", "")
    try:
        fulfilment.ship(order, current_user.id, carrier=carrier, tracking_number=tracking)
    except FulfilmentError as exc:
        values = {"carrier": carrier, "tracking_number": tracking, "error_field": exc.field}
        return _refused(order, exc, ship_values=values)
    return _done(order, f"Order #{number} is marked shipped and the customer was emailed.")


@bp.post("/orders/<int:number>/deliver")
@require_store_permission("orders.fulfil")
def order_deliver(number: int):
    """Mark a shipped order delivered."""
    order = _order_or_404(number)
    try:
        fulfilment.mark_delivered(order, current_user.id)
    except FulfilmentError as exc:
        return _refused(order, exc)
    return _done(order, f"Order #{number} is marked delivered.")


@bp.post("/orders/<int:number>/cancel")
@require_store_permission("orders.refund")
def order_cancel(number: int):
    """Cancel an unpaid or paid order: stock goes back, a paid order is refunded in full."""
    order = _order_or_404(number)
    try:
        fulfilment.cancel(order, current_user.id, reason=request.form.get("reason", ""))
    except FulfilmentError as exc:
        return _refused(order, exc)
    return _done(order, f"Order #{number} is cancelled.")


@bp.post("/orders/<int:number>/refund")
@require_store_permission("orders.refund")
def order_refund(number: int):
    """Refund all or part of what was paid, through the provider that took the money."""
    order = _order_or_404(number)
    values = {
        "amount": request.form.get("amount", ""),
        "reason": request.form.get("reason", ""),
        "restock": bool(request.form.get("restock")),
    }
    try:
        amount = fulfilment.parse_refund_amount(values["amount"], order.currency)
        fulfilment.refund(
            order,
            current_user.id,
            amount=amount,
            restock=values["restock"],
            reason=values["reason"],
            key=request.form.get("key"),
        )
    except FulfilmentError as exc:
        return _refused(order, exc, refund_values={**values, "error_field": exc.field})
    return _done(order, f"The refund for order #{number} is done and the customer was emailed.")


@bp.get("/orders/<int:number>/packing-slip")
@require_store_permission("orders.view")
def order_packing_slip(number: int):
    """A printable packing slip: what goes in the box and where it goes, without prices."""
    return render_template("admin/orders/packing_slip.html", order=_order_or_404(number))


@bp.get("/orders/<int:number>/invoice")
@require_store_permission("orders.view")
def order_invoice(number: int):
    """A printable invoice with lines, tax and payments."""
    order = _order_or_404(number)
    return render_template("admin/orders/invoice.html", order=order, summary=payment_summary(order))
