"""Placing orders (one transaction), moving them through their states, expiring unpaid ones."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import Integer, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from app.catalog.models import Product, Variant
from app.database import utcnow
from app.extensions import db
from app.field_errors import FieldError
from app.inventory.models import StockMovement
from app.inventory.service import InsufficientStock, apply_movement, take_stock
from app.live import order_changed
from app.orders import states
from app.orders.models import Coupon, CouponRedemption, Order, OrderCounter, OrderEvent, OrderLine
from app.orders.pricing import Coupon as CouponTerms
from app.orders.pricing import Line, ShippingRate, TaxRule, compute_totals
from tenants.models import Store

UNPAID_TTL = timedelta(minutes=30)
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class CheckoutError(FieldError):
    """Checkout refused; the message is for the shopper ("cart" blames the cart as a whole)."""


class SoldOut(CheckoutError):
    """Some items ran out while the shopper was checking out."""

    def __init__(self, variant_id: int, available: int):
        super().__init__(
            "cart",
            "Sorry, an item in your cart just sold out."
            if available == 0
            else f"Sorry, only {available} of an item in your cart are left.",
        )
        self.variant_id = variant_id
        self.available = available


@dataclass(frozen=True)
class Checkout:
    """Everything a checkout submits; prices are never taken from it, only from the catalog."""

    email: str
    lines: list[tuple[int, int]]  # (variant_id, quantity)
    idempotency_key: str
    shipping_address: dict
    billing_address: dict | None = None
    shipping: ShippingRate = field(default_factory=ShippingRate)
    shipping_method: str = "Standard"
    tax: TaxRule = field(default_factory=TaxRule)
    coupon_code: str | None = None
    user_id: int | None = None
    payment_provider: str = "test"
    # A test order (no money moves); the storefront sets it for the test gateway. The demo's
    # seeded orders and direct placements default to real ones.
    is_test: bool = False
    # The language the shopper checked out in: the order's emails are written in it.
    locale: str | None = None


def find_order_by_key(store: Store, key: str) -> Order | None:
    return db.session.scalar(
        select(Order).where(Order.store_id == store.id, Order.idempotency_key == key)
    )


_COUNTERS = OrderCounter.__table__
# Placing an order runs these once each: built once, on the tables rather than the mapped
# classes, they cost a fraction of the CPU of statements built (and unit-of-work flushes)
# per order. Their columns' Python defaults still apply.
_BUMP_COUNTER = (
    update(_COUNTERS)
    .where(_COUNTERS.c.store_id == bindparam("store", type_=Integer))
    .values(last_number=_COUNTERS.c.last_number + 1)
    .returning(_COUNTERS.c.last_number)
)
_INSERT_ORDER = insert(Order.__table__)
_INSERT_LINES = insert(OrderLine.__table__)
_INSERT_EVENT = insert(OrderEvent.__table__)
_INSERT_MOVEMENTS = insert(StockMovement.__table__)


def _next_number(store_id: int) -> int:
    """The store's next order number; the counter row stays locked until the transaction ends."""
    number = db.session.scalar(_BUMP_COUNTER, {"store": store_id})
    if number is None:
        try:
            with db.session.begin_nested():
                db.session.execute(insert(OrderCounter).values(store_id=store_id, last_number=1000))
        except IntegrityError:
            pass  # another checkout created it first
        number = db.session.scalar(_BUMP_COUNTER, {"store": store_id})
    return number


def _valid_coupon(store: Store, code: str, email: str, now: datetime) -> Coupon:
    coupon = db.session.scalar(
        select(Coupon).where(Coupon.store_id == store.id, Coupon.code == code.strip().upper())
    )
    if coupon is None or not coupon.active:
        raise CheckoutError("coupon", gettext("That coupon code isn't valid."))
    if coupon.starts_at and now < coupon.starts_at:
        raise CheckoutError("coupon", gettext("That coupon isn't active yet."))
    if coupon.ends_at and now >= coupon.ends_at:
        raise CheckoutError("coupon", gettext("That coupon has expired."))
    if coupon.usage_limit is not None and coupon.times_used >= coupon.usage_limit:
        raise CheckoutError("coupon", gettext("That coupon has been used up."))
    if coupon.per_customer_limit is not None:
        used = db.session.scalar(
            select(func.count()).where(
                CouponRedemption.coupon_id == coupon.id, CouponRedemption.email == email
            )
        )
        if used >= coupon.per_customer_limit:
            raise CheckoutError("coupon", gettext("You've already used that coupon."))
    return coupon


def valid_coupon(store: Store, code: str, email: str, now: datetime | None = None) -> Coupon:
    """The store's coupon with this code if `email` may use it now; CheckoutError says why not."""
    return _valid_coupon(store, code, email.strip().lower(), now or utcnow())


def place_order(
    store: Store,
    checkout: Checkout,
    *,
    now: datetime | None = None,
    then: Callable[[], None] | None = None,
    keep_loaded: bool = False,
    catalog: dict[int, tuple[Variant, Product]] | None = None,
) -> Order:
    """Create the order, its lines, the stock sales and the coupon use in one transaction.

    The same idempotency key returns the first order instead of making another. Raises
    CheckoutError (SoldOut when stock ran out) with nothing written. `then()` runs in the same
    transaction once the stock is taken (the checkout empties the cart there, so placing is
    one commit). `keep_loaded` keeps the store and the new order loaded after the commit
    for a caller that only reads them back (the request ends right after), instead of
    reading them again. `catalog` maps variant ids to the (variant, product) rows the caller
    has just read in this transaction (the checkout's cart), so they aren't read again.
    """
    if not _KEY_RE.fullmatch(checkout.idempotency_key or ""):
        raise CheckoutError(
            "cart", gettext("This checkout form is invalid. Reload the page and try again.")
        )
    try:
        return _place(store, checkout, now or utcnow(), then, keep_loaded, catalog)
    except (CheckoutError, IntegrityError):
        # The key is unique per store: rather than look it up before every order, a submit
        # that can't be placed (sold out, coupon used up, or the key taken) looks for the
        # order that the same key placed a moment ago, and returns that one.
        db.session.rollback()
        existing = find_order_by_key(store, checkout.idempotency_key)
        if existing is None:
            raise
        return existing


def _place(store, checkout, now, then, keep_loaded, catalog) -> Order:
    if not store.is_active:
        raise CheckoutError("cart", gettext("This store isn't taking orders at the moment."))
    quantities: dict[int, int] = {}
    for variant_id, quantity in checkout.lines:
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 999:
            raise CheckoutError("cart", gettext("Quantities must be whole numbers from 1 to 999."))
        quantities[variant_id] = quantities.get(variant_id, 0) + quantity
    if not quantities:
        raise CheckoutError("cart", gettext("Your cart is empty."))
    if catalog is None:
        rows = db.session.execute(
            select(Variant, Product)
            .join(Product, Product.id == Variant.product_id)
            .where(
                Variant.store_id == store.id,
                Variant.id.in_(quantities),
                Product.status == "active",
            )
        ).all()
    else:
        rows = [
            (variant, product)
            for variant, product in (catalog.get(v, (None, None)) for v in quantities)
            if variant is not None
            and variant.store_id == store.id
            and product.id == variant.product_id
            and product.status == "active"
        ]
    if len(rows) != len(quantities):
        raise CheckoutError("cart", gettext("An item in your cart is no longer available."))
    email = checkout.email.strip().lower()
    coupon = (
        _valid_coupon(store, checkout.coupon_code, email, now) if checkout.coupon_code else None
    )
    by_id = {variant.id: (variant, product) for variant, product in rows}
    ordered = sorted(quantities)
    totals = compute_totals(
        [Line(by_id[v][0].price, quantities[v]) for v in ordered],
        coupon=CouponTerms(coupon.kind, coupon.value, coupon.min_subtotal) if coupon else None,
        shipping=checkout.shipping,
        tax=checkout.tax,
    )
    if coupon is not None and totals.discount == 0:
        raise CheckoutError(
            "coupon",
            gettext(totals.notes[0]) if totals.notes else gettext("That coupon doesn't apply."),
        )
    try:
        # Locks, always in this order: the variants (by id), the coupon, then the store's order
        # counter. Every order of the store waits for the counter, so it is taken last and held
        # only for the few INSERTs and the commit; a shopper waiting for a popular variant
        # doesn't hold up the whole store.
        movements = take_stock(
            store.id,
            [(v, quantities[v]) for v in ordered],
            kind="sale",
            user_id=checkout.user_id,
            tracked={v for v in ordered if by_id[v][0].track_inventory},
            record=False,
        )
    except InsufficientStock as exc:
        raise SoldOut(exc.variant_id, exc.available) from None
    if coupon is not None:
        used = db.session.execute(
            update(Coupon)
            .where(
                Coupon.id == coupon.id,
                (Coupon.usage_limit.is_(None)) | (Coupon.times_used < Coupon.usage_limit),
            )
            .values(times_used=Coupon.times_used + 1)
        ).rowcount
        if not used:
            raise CheckoutError("coupon", gettext("That coupon has been used up."))
    if then is not None:
        then()
    number = _next_number(store.id)
    values = {
        "store_id": store.id,
        "number": number,
        "idempotency_key": checkout.idempotency_key,
        "user_id": checkout.user_id,
        "email": email,
        "status": states.PENDING_PAYMENT,
        "currency": store.currency,
        "locale": checkout.locale,
        "subtotal": totals.subtotal,
        "discount": totals.discount,
        "shipping": totals.shipping,
        "tax": totals.tax,
        "tax_inclusive": checkout.tax.inclusive,
        "total": totals.total,
        "coupon_code": coupon.code if coupon else None,
        "shipping_address": dict(checkout.shipping_address),
        "billing_address": dict(checkout.billing_address or checkout.shipping_address),
        "shipping_method": checkout.shipping_method,
        "payment_provider": checkout.payment_provider,
        "is_test": checkout.is_test,
        "placed_at": now,
        "expires_at": now + UNPAID_TTL,
    }
    order_id = db.session.execute(_INSERT_ORDER, values).inserted_primary_key[0]
    db.session.execute(
        _INSERT_LINES,
        [
            {
                "store_id": store.id,
                "order_id": order_id,
                "variant_id": variant_id,
                "product_title": by_id[variant_id][1].title,
                "variant_title": by_id[variant_id][0].title,
                "sku": by_id[variant_id][0].sku,
                "unit_price": by_id[variant_id][0].price,
                "quantity": quantities[variant_id],
                "line_total": by_id[variant_id][0].price * quantities[variant_id],
            }
            for variant_id in ordered
        ],
    )
    db.session.execute(
        _INSERT_EVENT,
        {
            "store_id": store.id,
            "order_id": order_id,
            "from_status": None,
            "to_status": states.PENDING_PAYMENT,
            "note": "Order placed",
            "actor_id": checkout.user_id,
            "created_at": now,
        },
    )
    if movements:
        db.session.execute(
            _INSERT_MOVEMENTS,
            [
                {
                    "store_id": m.store_id,
                    "variant_id": m.variant_id,
                    "kind": m.kind,
                    "quantity": m.quantity,
                    "stock_after": m.stock_after,
                    "reason": m.reason,
                    "reference": f"order:{order_id}",
                    "user_id": m.user_id,
                }
                for m in movements
            ],
        )
    if coupon is not None:
        db.session.add(
            CouponRedemption(store_id=store.id, coupon_id=coupon.id, order_id=order_id, email=email)
        )
    # The order as the session would have it after a flush (its lines and events load when
    # first read), without the unit of work's cost.
    order = Order(id=order_id, **values)
    make_transient_to_detached(order)
    db.session.add(order)
    _emit_created(order, [(by_id[v][0], quantities[v]) for v in ordered])
    order_changed(store.id, order_id, order.status, placed=True)
    _commit(keep_loaded, stale=[variant for variant, _ in rows] + [coupon])
    return order


def _emit_created(order: Order, lines: list[tuple[Variant, int]]) -> None:
    """The `order.created` webhook event, in the placing transaction (app/webhooks)."""
    from app.webhooks.events import emit
    from app.webhooks.payloads import order_data

    def payload() -> dict:
        data = order_data(order)
        data["lines"] = [
            {"variant_id": v.id, "sku": v.sku, "quantity": n, "unit_price": v.price}
            for v, n in lines
        ]
        return data

    emit(order.store_id, "order.created", payload)


def _commit(keep_loaded: bool, stale: list) -> None:
    """Commit; with `keep_loaded`, forget only the rows changed behind the ORM's back."""
    if not keep_loaded:
        db.session.commit()
        return
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    for obj in stale:
        if obj is not None:
            session.expire(obj)  # stock and times_used changed by UPDATE statements


# The outbound webhook event (app/webhooks) each status change is, written with it.
WEBHOOK_EVENTS = {
    states.PAID: "order.paid",
    states.FULFILLED: "order.shipped",
    states.PARTIALLY_REFUNDED: "order.refunded",
    states.REFUNDED: "order.refunded",
}


def transition(order: Order, to_status: str, *, actor_id: int | None = None, note: str = ""):
    """Move an order to `to_status` (IllegalTransition if the state machine says no)."""
    states.check_transition(order.status, to_status)
    order.events.append(
        OrderEvent(
            store_id=order.store_id,
            from_status=order.status,
            to_status=to_status,
            note=note,
            actor_id=actor_id,
        )
    )
    order.status = to_status
    order_changed(order.store_id, order.id, to_status)
    if to_status == states.PAID:
        order.paid_at = utcnow()
    event_type = WEBHOOK_EVENTS.get(to_status)
    if event_type is not None:
        from app.webhooks.events import emit
        from app.webhooks.payloads import order_data

        emit(order.store_id, event_type, lambda: order_data(order))


def return_stock(order: Order, *, kind: str = "cancellation", actor_id: int | None = None):
    """Put an order's items back in stock (variants that still exist and track inventory)."""
    for line in sorted(order.lines, key=lambda line: line.variant_id or 0):
        if line.variant_id is None:
            continue
        tracked = db.session.scalar(
            select(Variant.track_inventory).where(
                Variant.id == line.variant_id, Variant.store_id == order.store_id
            )
        )
        if tracked:
            apply_movement(
                order.store_id,
                line.variant_id,
                line.quantity,
                kind,
                reference=f"order:{order.id}",
                user_id=actor_id,
            )


def awaiting_payment_news():
    """A condition true for orders that a recorded payment event or an approval still to be
    delivered may yet pay: the expiry must wait for those rather than cancel a paid order."""
    from app.payments.models import GatewayDelivery, WebhookEvent

    unapplied = select(WebhookEvent.id).where(
        WebhookEvent.store_id == Order.store_id,
        WebhookEvent.order_number == Order.number,
        WebhookEvent.status == "received",
    )
    undelivered = select(GatewayDelivery.id).where(
        GatewayDelivery.store_id == Order.store_id,
        GatewayDelivery.order_number == Order.number,
        GatewayDelivery.status == "pending",
        GatewayDelivery.decision == "approve",
    )
    return unapplied.exists() | undelivered.exists()


def expire_unpaid_orders(now: datetime | None = None, batch: int = 200) -> int:
    """Cancel orders left unpaid past their expiry and return their stock; safe to run twice.

    An order with a payment event not yet applied (Redis was down, or the provider is being
    re-checked) or an approval not yet delivered is left alone until that is settled.
    """
    now = now or utcnow()
    ids = db.session.scalars(
        select(Order.id)
        .where(
            Order.status == states.PENDING_PAYMENT,
            Order.expires_at < now,
            ~awaiting_payment_news(),
        )
        .order_by(Order.id)
        .limit(batch)
    ).all()
    expired = 0
    for order_id in ids:
        order = db.session.scalar(select(Order).where(Order.id == order_id).with_for_update())
        if (
            order is None
            or order.status != states.PENDING_PAYMENT
            or db.session.scalar(select(awaiting_payment_news()).where(Order.id == order_id))
        ):
            db.session.rollback()
            continue  # paid, cancelled or payment news arrived meanwhile
        transition(order, states.CANCELLED, note="Not paid in time")
        return_stock(order)
        db.session.commit()
        expired += 1
    return expired
