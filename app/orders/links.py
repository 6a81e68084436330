"""Signed links to an order's status page, for shoppers without an account (or not signed in).

The key is an HMAC of the store, the order id and its number under the app's secret, so it
can't be guessed or moved to another order; it doesn't expire, like the links in order emails
of any shop. The page itself lives in app/orders/shopper_views.py.
"""

import hmac
from urllib.parse import urlencode

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.extensions import db
from app.orders.models import Order
from tenants.models import Store
from tenants.urls import store_url

_SALT = "order-status-link"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def order_key(order: Order) -> str:
    """The signed key that opens `order`'s status page."""
    return _serializer().dumps([order.store_id, order.id, order.number])


def key_opens(order: Order, key: str | None) -> bool:
    """True when `key` was made for exactly this order."""
    if not key or len(key) > 200:
        return False
    try:
        data = _serializer().loads(key)
    except BadSignature:
        return False
    expected = [order.store_id, order.id, order.number]
    return isinstance(data, list) and hmac.compare_digest(repr(data), repr(expected))


def order_path(order: Order) -> str:
    """The order's status page with its signed key, as a path on the store's host.

    Built by hand rather than with url_for because jobs (the emails sent when a payment is
    applied) have no request to build URLs from; a test checks it against the route.
    """
    return f"/orders/{order.number}?{urlencode({'key': order_key(order)})}"


def order_url(order: Order) -> str:
    """The absolute URL of the order's status page on its store's host (for emails)."""
    store = db.session.get(Store, order.store_id)
    return store_url(store, order_path(order))
