"""Demo orders: a month of paid orders per demo store, so the dashboard's chart has sales.

They are not test orders: they stand in for a store's real sales (paid "manual", no gateway),
so the demo's charts, GMV and payouts have numbers in them. Orders a visitor places in the
demo through the test gateway are test orders, like everywhere else.
"""

import random
from datetime import timedelta

from sqlalchemy import exists, select

from app.catalog.models import Product, Variant
from app.database import utcnow
from app.extensions import db
from app.orders import states
from app.orders.models import Order
from app.orders.service import Checkout, CheckoutError, place_order, transition
from app.payments.models import Payment
from tenants.models import Store

DEMO_SHOPPERS = ["ana", "budi", "chen", "dewi", "emma", "farid", "greta", "hiro"]
ADDRESS = {"full_name": "Demo Shopper", "line1": "1 Demo Street", "city": "Demo City"}


def seed_store_orders(store: Store, count: int = 45, seed: int = 7) -> int:
    """Place `count` orders over the last 30 days and mark most of them paid (once per store)."""
    if db.session.scalar(select(exists().where(Order.store_id == store.id))):
        return 0
    variants = (
        db.session.execute(
            select(Variant.id)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.store_id == store.id, Product.status == "active", Variant.stock > 3)
            .order_by(Variant.id)
            .limit(60)
        )
        .scalars()
        .all()
    )
    if not variants:
        return 0
    rng = random.Random(seed + store.id)
    now = utcnow()
    placed = 0
    for n in range(count):
        when = now - timedelta(days=rng.uniform(0, 29.5))
        lines = [
            (v, rng.randint(1, 2))
            for v in rng.sample(variants, min(len(variants), rng.randint(1, 3)))
        ]
        shopper = rng.choice(DEMO_SHOPPERS)
        try:
            order = place_order(
                store,
                Checkout(
                    email=f"{shopper}@example.com",
                    lines=lines,
                    idempotency_key=f"demo-order-{store.id:06d}-{n:06d}",
                    shipping_address={**ADDRESS, "country": "US"},
                ),
                now=when,
            )
        except CheckoutError:
            continue
        order.expires_at = None  # the demo keeps its unpaid ones unpaid, not expired
        if rng.random() < 0.9:
            # Paid offline, quietly: a demo mustn't send a hundred confirmation emails.
            transition(order, states.PAID, note="Paid (demo data)")
            order.paid_at = when
            db.session.add(
                Payment(
                    store_id=store.id,
                    order_id=order.id,
                    provider="manual",
                    provider_ref=f"demo-{order.id}",
                    kind="charge",
                    amount=order.total,
                    currency=order.currency,
                    created_at=when,
                )
            )
        db.session.commit()
        placed += 1
    return placed
