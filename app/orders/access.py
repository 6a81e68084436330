"""Who may see an order as its shopper: the holder of its signed link, or the signed-in shopper
who placed it. One rule for the order's status page and for its live stream (which also lets
the store's staff listen, app/live/views.py)."""

from flask import abort, request
from flask_login import current_user

from app.extensions import db
from app.orders.links import key_opens
from app.orders.models import Order
from tenants.query import MAX_ID, scoped_select


def store_order_or_404(number: int) -> Order:
    """The current store's order with this number; 404 when it has none."""
    if number > MAX_ID:
        abort(404)
    order = db.session.scalar(scoped_select(Order).where(Order.number == number))
    if order is None:
        abort(404)
    return order


def opens_as_shopper(order: Order) -> bool:
    """True when the request's signed key opens `order`, or its signed-in shopper placed it."""
    if key_opens(order, request.args.get("key")):
        return True
    return current_user.is_authenticated and order.user_id == current_user.id
