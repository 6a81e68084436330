"""The emails a paid order sends: the confirmation to the shopper, the notice to the owners.

Recorded only by the code path that moves the order to paid (under the order's row lock), in
the same transaction, so a webhook applied twice or a "mark paid" after a webhook sends each
mail once, and a worker that dies between two commits can't leave a paid order without them.
"""

from flask_babel import lazy_gettext
from sqlalchemy import select

from app.accounts.models import Membership, User
from app.extensions import db
from app.i18n import DEFAULT, language_for_order
from app.notifications.models import EmailMessage
from app.notifications.service import record_email
from app.orders.links import order_url
from app.orders.models import Order
from tenants.models import Store
from tenants.urls import store_url


def subject_for(order: Order, subject):
    """An order email's subject, marked when the order is a test order (no money moved).

    Lazy, like `subject`: record_email translates it in the email's language."""
    return lazy_gettext("[Test] %(subject)s", subject=subject) if order.is_test else subject


def record_payment_notices(order: Order) -> list[EmailMessage]:
    """Add the order confirmation to the shopper and the new-order notice to the owners to the
    session that marks the order paid; after its commit, `send_now` each (or the sweep will)."""
    store = db.session.get(Store, order.store_id)
    link = order_url(order)
    notices = [
        record_email(
            order.email,
            subject_for(
                order,
                lazy_gettext(
                    "Order #%(number)s confirmed: thank you for shopping at %(store)s",
                    number=order.number,
                    store=store.name,
                ),
            ),
            "order_confirmation",
            store=store,
            language=language_for_order(order, store),
            order=order,
            order_link=link,
        )
    ]
    owners = db.session.execute(
        select(User.email, User.language)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.store_id == store.id, Membership.role == "owner")
        .order_by(User.id)
    ).all()
    admin_link = store_url(store, f"/admin/orders/{order.number}")
    for email, language in owners:
        notices.append(
            record_email(
                email,
                subject_for(
                    order,
                    lazy_gettext(
                        "New order #%(number)s at %(store)s", number=order.number, store=store.name
                    ),
                ),
                "new_order",
                store=store,
                language=language or DEFAULT,
                order=order,
                admin_link=admin_link,
            )
        )
    return notices
