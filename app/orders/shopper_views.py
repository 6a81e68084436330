"""The shopper's side of orders: an order's status page (signed link or owner) and order history.

The status page lives on the store's host and opens with the signed key from the confirmation
(so guests can follow their order) or for the signed-in account that placed it. Order history
is an account page: on a store's host it lists that store's orders, on the platform every
store's, each linking to its status page on the store's own host.
"""

import math
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, abort, current_app, g, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app.addresses import rules as address_rules
from app.extensions import db
from app.orders import states
from app.orders.links import key_opens, order_key, order_path
from app.orders.models import Order
from app.rendering import is_htmx
from tenants.context import current_store, store_blueprint
from tenants.models import Store
from tenants.query import MAX_ID
from tenants.urls import store_url

bp = store_blueprint("shopper_orders", __name__)
history_bp = Blueprint("account_orders", __name__, url_prefix="/account/orders")

HISTORY_PAGE_SIZE = 20
SHOPPER_STATUS = {
    states.PENDING_PAYMENT: "Waiting for payment",
    states.PAID: "Paid: being prepared",
    states.FULFILLED: "Shipped",
    states.DELIVERED: "Delivered",
    states.CANCELLED: "Cancelled",
    states.PARTIALLY_REFUNDED: "Partially refunded",
    states.REFUNDED: "Refunded",
}
EVENT_WORDS = {
    states.PENDING_PAYMENT: "Order placed",
    states.PAID: "Payment received",
    states.FULFILLED: "Shipped",
    states.DELIVERED: "Delivered",
    states.CANCELLED: "Cancelled",
    states.PARTIALLY_REFUNDED: "Partly refunded",
    states.REFUNDED: "Refunded",
}


@bp.app_context_processor
def _order_words():
    """Shoppers' words for order statuses, on every page that shows orders."""
    return {
        "shopper_status": SHOPPER_STATUS,
        "event_words": EVENT_WORDS,
        "country_name": address_rules.country_name,
    }


def store_time(moment, store, fmt: str = "%d %b %Y, %H:%M") -> str:
    """A UTC timestamp in the store's time zone."""
    try:
        zone = ZoneInfo(store.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime(fmt) if moment else ""


def _order_or_404(number: int) -> Order:
    """This store's order, if the signed key opens it or it is the signed-in shopper's."""
    store = current_store()
    if number > MAX_ID:
        abort(404)
    order = db.session.scalar(
        select(Order).where(Order.store_id == store.id, Order.number == number)
    )
    if order is None:
        abort(404)
    if key_opens(order, request.args.get("key")):
        return order
    if current_user.is_authenticated and order.user_id == current_user.id:
        return order
    abort(404)


@bp.get("/orders/<int:number>")
def order(number: int):
    """An order's status: what was bought, where it goes, and what has happened so far."""
    found = _order_or_404(number)
    store = current_store()
    context = {
        "order": found,
        "key": order_key(found),
        "declined": request.args.get("payment") in ("declined", "cancelled"),
        "can_pay": "checkout.pay" in current_app.view_functions,
        "store_time": lambda moment: store_time(moment, store),
        "shipment": _shipment_note(found),
    }
    if is_htmx():
        response = current_app.make_response(
            render_template("orders/_partials/status.html", **context)
        )
    else:
        response = current_app.make_response(render_template("orders/status.html", **context))
    response.vary.add("HX-Request")
    response.headers["Cache-Control"] = "no-store"
    return response


def _shipment_note(found: Order) -> str | None:
    """The carrier and tracking number the store entered when it shipped."""
    for event in reversed(found.events):
        if event.to_status == states.FULFILLED and event.note:
            return event.note
    return None


@history_bp.get("/")
@login_required
def history():
    """Your orders: this store's on a store's host, every store's on the platform."""
    store = g.get("store")
    conditions = [Order.user_id == current_user.id]
    if store is not None:
        conditions.append(Order.store_id == store.id)
    total = db.session.scalar(select(func.count()).select_from(Order).where(*conditions))
    pages = max(1, math.ceil(total / HISTORY_PAGE_SIZE))
    try:
        page = min(max(int(request.args.get("page", 1)), 1), pages)
    except (TypeError, ValueError):
        page = 1
    rows = db.session.execute(
        select(Order, Store)
        .join(Store, Store.id == Order.store_id)
        .where(*conditions)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(HISTORY_PAGE_SIZE)
        .offset((page - 1) * HISTORY_PAGE_SIZE)
    ).all()
    entries = [
        {
            "order": found,
            "store": its_store,
            "url": order_path(found)
            if store is not None
            else store_url(its_store, order_path(found)),
            "placed": store_time(found.placed_at, its_store, "%d %b %Y"),
        }
        for found, its_store in rows
    ]
    return render_template(
        "orders/history.html", entries=entries, page=page, pages=pages, total=total
    )
