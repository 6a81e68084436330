"""The emails a paid order sends: the confirmation to the shopper, the notice to the owners.

Sent only by the code path that moved the order to paid (under the order's row lock), after
its commit, so a webhook applied twice or a "mark paid" after a webhook sends each mail once.
"""

from sqlalchemy import select

from app.accounts.models import Membership, User
from app.extensions import db
from app.notifications.service import queue_email
from app.orders.links import order_url
from app.orders.models import Order
from tenants.models import Store
from tenants.urls import store_url


def subject_for(order: Order, subject: str) -> str:
    """An order email's subject, marked when the order is a test order (no money moved)."""
    return f"[Test] {subject}" if order.is_test else subject


def send_payment_notices(order: Order) -> None:
    """Queue the order confirmation to the shopper and the new-order notice to the owners."""
    store = db.session.get(Store, order.store_id)
    link = order_url(order)
    queue_email(
        order.email,
        subject_for(
            order, f"Order #{order.number} confirmed: thank you for shopping at {store.name}"
        ),
        "order_confirmation",
        store=store,
        order=order,
        order_link=link,
    )
    owners = db.session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.store_id == store.id, Membership.role == "owner")
        .order_by(User.id)
    ).all()
    admin_link = store_url(store, f"/admin/orders/{order.number}")
    for email in owners:
        queue_email(
            email,
            subject_for(order, f"New order #{order.number} at {store.name}"),
            "new_order",
            store=store,
            order=order,
            admin_link=admin_link,
        )
