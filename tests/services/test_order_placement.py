"""Placing orders in one transaction: numbers, idempotency, stock, coupons, expiry, races."""

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.catalog.models import Variant
from app.catalog.service import VariantData
from app.database import utcnow
from app.extensions import db
from app.inventory.service import ledger_total
from app.orders.models import Coupon, Order, OrderCounter, OrderEvent
from app.orders.pricing import ShippingRate, TaxRule
from app.orders.service import Checkout, CheckoutError, SoldOut, expire_unpaid_orders, place_order
from tenants.models import Store
from tests.factories import make_product

ADDRESS = {
    "full_name": "Sam Shopper",
    "line1": "1 Market St",
    "city": "San Francisco",
    "region": "US-CA",
    "postal_code": "94105",
    "country": "US",
}


def key() -> str:
    return uuid.uuid4().hex


def checkout(lines, **overrides) -> Checkout:
    values = {
        "email": "Sam@Example.com",
        "lines": lines,
        "idempotency_key": key(),
        "shipping_address": ADDRESS,
        "shipping": ShippingRate(flat=500, free_over=10_000),
        "tax": TaxRule(rate_basis_points=1000),
    }
    values.update(overrides)
    return Checkout(**values)


def place(app, store, data, **kwargs):
    with app.app_context():
        order = place_order(db.session.get(Store, store.id), data, **kwargs)
        return order.id, order.number, order.status, order.total


@pytest.fixture
def tee(app, store_a):
    product = make_product(
        store_a,
        "Tee",
        option_names=["Size"],
        variants=[
            VariantData("TEE-S", 2000, ["S"], stock=5),
            VariantData("TEE-M", 2500, ["M"], stock=2),
        ],
    )
    return [v.id for v in product.variants]


def test_an_order_snapshots_lines_takes_stock_and_numbers_from_1001(app, store_a, tee):
    small, medium = tee
    order_id, number, status, total = place(app, store_a, checkout([(small, 2), (medium, 1)]))
    assert (number, status) == (1001, "pending_payment")
    assert total == (4000 + 2500 + 500) + (4000 + 2500 + 500) // 10
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.email == "sam@example.com" and order.currency == "USD"
        assert [
            (line.sku, line.unit_price, line.quantity, line.variant_title) for line in order.lines
        ] == [("TEE-S", 2000, 2, "S"), ("TEE-M", 2500, 1, "M")]
        assert [e.to_status for e in db.session.scalars(select(OrderEvent))] == ["pending_payment"]
        assert db.session.get(Variant, small).stock == 3 == ledger_total(small)
        assert db.session.get(Variant, medium).stock == 1 == ledger_total(medium)
        # Later catalog edits don't rewrite the order.
        db.session.get(Variant, small).price = 9999
        db.session.commit()
        assert db.session.get(Order, order_id).lines[0].unit_price == 2000
    assert place(app, store_a, checkout([(small, 1)]))[1] == 1002


def test_the_same_submit_twice_makes_one_order(app, store_a, tee):
    data = checkout([(tee[0], 1)])
    first = place(app, store_a, data)
    second = place(app, store_a, data)
    assert first == second
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Order)) == 1
        assert db.session.get(Variant, tee[0]).stock == 4


def test_sold_out_writes_nothing(app, store_a, tee):
    small, medium = tee
    with pytest.raises(SoldOut) as info:
        place(app, store_a, checkout([(small, 1), (medium, 3)]))
    assert info.value.available == 2 and "only 2" in info.value.message
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Order)) == 0
        assert db.session.get(Variant, small).stock == 5 == ledger_total(small)
        counter = db.session.get(OrderCounter, store_a.id)
        assert counter is None or counter.last_number == 1000


@pytest.mark.parametrize("quantity", [0, -1, 10**9, "2", True])
def test_bad_quantities_are_refused(app, store_a, tee, quantity):
    with pytest.raises(CheckoutError, match="Quantities"):
        place(app, store_a, checkout([(tee[0], quantity)]))


def test_variants_of_another_store_or_of_drafts_are_refused(app, store_a, store_b, tee):
    theirs = make_product(store_b, "Theirs", variants=[VariantData("THEIRS", 100, stock=9)])
    draft = make_product(store_a, "Draft", status="draft", variants=[VariantData("DR", 1, stock=9)])
    for variant_id in (theirs.variants[0].id, draft.variants[0].id, 999_999):
        with pytest.raises(CheckoutError, match="no longer available"):
            place(app, store_a, checkout([(variant_id, 1)]))
    with app.app_context():
        assert db.session.get(Variant, theirs.variants[0].id).stock == 9


@pytest.mark.parametrize("bad_key", ["", "short", "x" * 65, "has spaces in it!!!!", None])
def test_a_tampered_idempotency_key_is_refused(app, store_a, tee, bad_key):
    with pytest.raises(CheckoutError):
        place(app, store_a, checkout([(tee[0], 1)], idempotency_key=bad_key))


def add_coupon(app, store, **fields):
    with app.app_context():
        coupon = Coupon(
            store_id=store.id, **{"code": "SAVE10", "kind": "percent", "value": 10, **fields}
        )
        db.session.add(coupon)
        db.session.commit()
        return coupon.id


def test_coupons_apply_and_their_limits_hold(app, store_a, tee):
    add_coupon(app, store_a, usage_limit=1)
    order_id, *_ = place(app, store_a, checkout([(tee[0], 1)], coupon_code=" save10 "))
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.coupon_code, order.discount) == ("SAVE10", 200)
    with pytest.raises(CheckoutError, match="used up"):
        place(app, store_a, checkout([(tee[0], 1)], coupon_code="SAVE10", email="b@example.com"))
    with app.app_context():
        assert db.session.get(Variant, tee[0]).stock == 4  # the refused order took nothing


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ends_at": utcnow() - timedelta(days=1)}, "expired"),
        ({"starts_at": utcnow() + timedelta(days=1)}, "isn't active yet"),
        ({"active": False}, "isn't valid"),
        ({"min_subtotal": 100_000}, "higher subtotal"),
    ],
)
def test_coupons_out_of_their_window_are_refused(app, store_a, tee, fields, message):
    add_coupon(app, store_a, **fields)
    with pytest.raises(CheckoutError, match=message):
        place(app, store_a, checkout([(tee[0], 1)], coupon_code="SAVE10"))
    with pytest.raises(CheckoutError, match="isn't valid"):
        place(app, store_a, checkout([(tee[0], 1)], coupon_code="NOPE"))


def test_per_customer_coupon_limit(app, store_a, tee):
    add_coupon(app, store_a, per_customer_limit=1)
    place(app, store_a, checkout([(tee[0], 1)], coupon_code="SAVE10"))
    with pytest.raises(CheckoutError, match="already used"):
        place(app, store_a, checkout([(tee[0], 1)], coupon_code="SAVE10", email="SAM@example.com"))
    place(app, store_a, checkout([(tee[0], 1)], coupon_code="SAVE10", email="other@example.com"))


def test_unpaid_orders_expire_and_give_their_stock_back(app, store_a, tee):
    order_id, *_ = place(app, store_a, checkout([(tee[0], 2)]))
    with app.app_context():
        assert expire_unpaid_orders(utcnow() + timedelta(minutes=10)) == 0
        assert expire_unpaid_orders(utcnow() + timedelta(minutes=31)) == 1
        assert expire_unpaid_orders(utcnow() + timedelta(minutes=31)) == 0  # twice is harmless
        order = db.session.get(Order, order_id)
        assert order.status == "cancelled"
        assert [e.to_status for e in order.events] == ["pending_payment", "cancelled"]
        assert db.session.get(Variant, tee[0]).stock == 5 == ledger_total(tee[0])


def test_thirty_concurrent_checkouts_for_five_units(app, store_a):
    product = make_product(store_a, "Drop", variants=[VariantData("DROP", 9900, stock=5)])
    variant_id = product.variants[0].id
    results: list = []
    barrier = threading.Barrier(30, timeout=30)

    def buy(n: int):
        barrier.wait()
        with app.app_context():
            try:
                order = place_order(
                    db.session.get(Store, store_a.id),
                    checkout([(variant_id, 1)], email=f"b{n}@example.com"),
                )
                results.append(order.number)
            except SoldOut as exc:
                results.append(exc.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    numbers = sorted(r for r in results if isinstance(r, int))
    assert numbers == [1001, 1002, 1003, 1004, 1005]
    assert results.count("Sorry, an item in your cart just sold out.") == 25
    with app.app_context():
        assert db.session.get(Variant, variant_id).stock == 0 == ledger_total(variant_id)
        assert db.session.scalar(select(func.count()).select_from(Order)) == 5
