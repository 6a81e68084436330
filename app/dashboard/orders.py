"""The dashboard's order pages: the list, one order with its actions, slips and invoices.

Thin views on the dashboard blueprint: every order is found by its number within the current
store (another store's number is a 404), and every action is one app.orders.fulfilment call.
A refused action re-renders the order with the reason (409 for the order's status, 422 for
what was typed, 502 when the payment provider says no) and writes nothing.
"""

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.permissions import can, require_store_permission
from app.dashboard import bp
from app.extensions import db
from app.field_errors import FieldError
from app.i18n import N_
from app.money import AmountError
from app.orders import fulfilment, states
from app.orders.fulfilment import FulfilmentError, payment_state, payment_summary
from app.orders.listing import (
    FULFILMENT_FILTERS,
    PAYMENT_FILTERS,
    STATUS_FILTERS,
    get_order_by_number,
    list_orders,
    order_filters,
)
from app.orders.models import Order
from app.rendering import render_page_or_fragment
from tenants.context import current_store

LIST_TEMPLATE = "admin/orders/list.html"
DETAIL_TEMPLATE = "admin/orders/detail.html"
# Labels in English, marked for the catalog; templates translate them where shown (`_(label)`).
STATUS_LABELS = {
    states.PENDING_PAYMENT: N_("Pending payment"),
    states.PAID: N_("Paid"),
    states.FULFILLED: N_("Fulfilled"),
    states.DELIVERED: N_("Delivered"),
    states.CANCELLED: N_("Cancelled"),
    states.PARTIALLY_REFUNDED: N_("Partially refunded"),
    states.REFUNDED: N_("Refunded"),
}
PAYMENT_LABELS = {
    "unpaid": N_("Unpaid"),
    "paid": N_("Paid"),
    "partially_refunded": N_("Partially refunded"),
    "refunded": N_("Refunded"),
}
FULFILMENT_LABELS = {
    "unfulfilled": N_("Unfulfilled"),
    "shipped": N_("Shipped"),
    "delivered": N_("Delivered"),
    "closed": N_("Not shipped"),
}


@bp.context_processor
def _order_helpers():
    """Order templates label statuses and payment states the same way everywhere."""
    return {
        "order_status_labels": STATUS_LABELS,
        "payment_labels": PAYMENT_LABELS,
        "fulfilment_labels": FULFILMENT_LABELS,
        "payment_state": payment_state,
    }


def _order_or_404(number) -> Order:
    order = get_order_by_number(current_store(), number)
    if order is None:
        abort(404)
    return order


@bp.get("/orders/")
@require_store_permission("orders.view")
def order_list():
    """The store's orders: filter by status, payment, fulfilment and date, search, page; htmx
    swaps the results."""
    args = request.args
    filters = order_filters(
        args.get("q"),
        args.get("status"),
        args.get("payment"),
        args.get("from"),
        args.get("to"),
        fulfilment=args.get("fulfilment"),
    )
    page = list_orders(current_store(), filters, args.get("page"))
    return render_page_or_fragment(
        LIST_TEMPLATE,
        "results",
        page=page,
        filters=filters,
        status_filters=STATUS_FILTERS,
        payment_filters=PAYMENT_FILTERS,
        fulfilment_filters=FULFILMENT_FILTERS,
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
        returnable=fulfilment.returnable(order) if allowed["refund"] else {},
        refund_key=uuid.uuid4().hex,
        **context,
    ), status


@bp.get("/orders/<int:number>")
@require_store_permission("orders.view")
def order_detail(number: int):
    """One order: lines, totals, payments, addresses, its history and what can be done next."""
    return _detail(_order_or_404(number))


def _refused(order: Order, exc: FieldError, **context):
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
    return _done(order, gettext("Order #%(number)s is marked paid.", number=number))


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
    return _done(
        order,
        gettext("Order #%(number)s is marked shipped and the customer was emailed.", number=number),
    )


@bp.post("/orders/<int:number>/deliver")
@require_store_permission("orders.fulfil")
def order_deliver(number: int):
    """Mark a shipped order delivered."""
    order = _order_or_404(number)
    try:
        fulfilment.mark_delivered(order, current_user.id)
    except FulfilmentError as exc:
        return _refused(order, exc)
    return _done(order, gettext("Order #%(number)s is marked delivered.", number=number))


@bp.post("/orders/<int:number>/cancel")
@require_store_permission("orders.refund")
def order_cancel(number: int):
    """Cancel an unpaid or paid order: stock goes back, a paid order is refunded in full."""
    order = _order_or_404(number)
    try:
        fulfilment.cancel(order, current_user.id, reason=request.form.get("reason", ""))
    except FulfilmentError as exc:
        return _refused(order, exc)
    return _done(order, gettext("Order #%(number)s is cancelled.", number=number))


@bp.post("/orders/<int:number>/refund")
@require_store_permission("orders.refund")
def order_refund(number: int):
    """Refund all or part of what was paid, through the provider that took the money."""
    order = _order_or_404(number)
    values = {
        "amount": request.form.get("amount", ""),
        "reason": request.form.get("reason", ""),
        "returns": {
            line.id: request.form.get(f"return-{line.id}", "").strip() for line in order.lines
        },
    }
    try:
        amount = fulfilment.parse_refund_amount(values["amount"], order.currency)
        fulfilment.refund(
            order,
            current_user.id,
            amount=amount,
            returns=_return_quantities(values["returns"]),
            reason=values["reason"],
            key=request.form.get("key"),
        )
    except (FulfilmentError, AmountError) as exc:
        return _refused(order, exc, refund_values={**values, "error_field": exc.field})
    return _done(
        order,
        gettext(
            "The refund for order #%(number)s is done and the customer was emailed.", number=number
        ),
    )


def _return_quantities(typed: dict[int, str]) -> dict[int, int]:
    """The refund form's 'back to stock' quantities per order line (blank means none)."""
    quantities = {}
    for line_id, text in typed.items():
        if not text:
            continue
        if not text.isdigit() or len(text) > 6:
            raise FulfilmentError("returns", "Return quantities are whole numbers.")
        quantities[line_id] = int(text)
    return quantities


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
