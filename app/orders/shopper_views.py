"""The shopper's side of orders: an order's status page (signed link or owner) and order history.

The status page lives on the store's host and opens with the signed key from the confirmation
(so guests can follow their order) or for the signed-in account that placed it. Order history
is an account page: on a store's host it lists that store's orders, on the platform every
store's, each linking to its status page on the store's own host.
"""

import re

from flask import Blueprint, abort, current_app, g, render_template, request
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app.orders import states
from app.orders.access import opens_as_shopper, store_order_or_404
from app.orders.links import order_key, order_path
from app.orders.models import Order
from app.pagination import paginate
from app.rendering import is_htmx, render_page_or_partial
from tenants.context import store_blueprint
from tenants.models import Store, local_time
from tenants.rls import allow_all_stores
from tenants.urls import store_url

bp = store_blueprint("shopper_orders", __name__)
history_bp = Blueprint("account_orders", __name__, url_prefix="/account/orders")

HISTORY_PAGE_SIZE = 20
SHOPPER_STATUS = {
    states.PENDING_PAYMENT: lazy_gettext("Waiting for payment"),
    states.PAID: lazy_gettext("Paid: being prepared"),
    states.FULFILLED: lazy_gettext("Shipped"),
    states.DELIVERED: lazy_gettext("Delivered"),
    states.CANCELLED: lazy_gettext("Cancelled"),
    states.PARTIALLY_REFUNDED: lazy_gettext("Partially refunded"),
    states.REFUNDED: lazy_gettext("Refunded"),
}
EVENT_WORDS = {
    states.PENDING_PAYMENT: lazy_gettext("Order placed"),
    states.PAID: lazy_gettext("Payment received"),
    states.FULFILLED: lazy_gettext("Shipped"),
    states.DELIVERED: lazy_gettext("Delivered"),
    states.CANCELLED: lazy_gettext("Cancelled"),
    states.PARTIALLY_REFUNDED: lazy_gettext("Partly refunded"),
    states.REFUNDED: lazy_gettext("Refunded"),
}


@bp.app_context_processor
def _order_words():
    """Shoppers' words for order statuses, on every page that shows orders."""
    return {
        "shopper_status": SHOPPER_STATUS,
        "event_words": EVENT_WORDS,
    }


def _order_or_404(number: int) -> Order:
    """This store's order, if the signed key opens it or it is the signed-in shopper's."""
    order = store_order_or_404(number)
    if not opens_as_shopper(order):
        abort(404)
    return order


@bp.get("/orders/<int:number>")
def order(number: int):
    """An order's status: what was bought, where it goes, and what has happened so far."""
    found = _order_or_404(number)
    context = {
        "order": found,
        "key": order_key(found),
        "declined": request.args.get("payment") in ("declined", "cancelled"),
        "can_pay": "checkout.pay" in current_app.view_functions,
        "shipment": _shipment_note(found),
        "heading_oob": is_htmx(),  # a refresh of the status brings the heading along
    }
    response = render_page_or_partial(
        "orders/status.html", "orders/_partials/status.html", **context
    )
    response.headers["Cache-Control"] = "no-store"
    return response


_SHIPPED_NOTE = re.compile(r"Shipped with (?P<carrier>.*), tracking (?P<tracking>.*)", re.S)


def _shipment_note(found: Order) -> str | None:
    """The carrier and tracking number the store entered when it shipped."""
    for event in reversed(found.events):
        if event.to_status == states.FULFILLED and event.note:
            # The note is recorded in English (app.orders.fulfilment): say it in the shopper's.
            shipped = _SHIPPED_NOTE.fullmatch(event.note)
            if shipped:
                return gettext(
                    "Shipped with %(carrier)s, tracking %(tracking)s",
                    carrier=shipped["carrier"],
                    tracking=shipped["tracking"],
                )
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
    else:
        allow_all_stores(f"order history of user {current_user.id} across stores")
    page = paginate(
        select(Order, Store)
        .join(Store, Store.id == Order.store_id)
        .where(*conditions)
        .order_by(Order.placed_at.desc(), Order.id.desc()),
        request.args.get("page"),
        HISTORY_PAGE_SIZE,
        count=select(func.count()).select_from(Order).where(*conditions),
    )
    page.items = [
        {
            "order": found,
            "store": its_store,
            "url": order_path(found)
            if store is not None
            else store_url(its_store, order_path(found)),
            "placed": local_time(found.placed_at, its_store, "%d %b %Y"),
        }
        for found, its_store in page.items
    ]
    return render_template("orders/history.html", page=page)
