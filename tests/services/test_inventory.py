"""The stock ledger and the never-oversell rule, called directly (SQLite and PostgreSQL)."""

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.catalog.models import Variant
from app.catalog.service import VariantData
from app.extensions import db
from app.inventory.models import StockMovement
from app.inventory.service import InsufficientStock, apply_movement, ledger_total, take_stock
from tests.factories import make_product


def variant_ids(product):
    return [v.id for v in product.variants]


def test_opening_stock_is_in_the_ledger_and_a_mixed_sequence_keeps_the_sums(app, store_a):
    product = make_product(
        store_a,
        "Mug",
        option_names=["Colour"],
        variants=[
            VariantData("MUG-W", 900, ["White"], stock=10),
            VariantData("MUG-B", 900, ["Black"], stock=4),
        ],
    )
    white, black = variant_ids(product)
    with app.app_context():
        take_stock(store_a.id, [(white, 3), (black, 1), (white, 2)], reference="order:1001")
        apply_movement(
            store_a.id, white, 1, "return", reason="Customer return", reference="order:1001"
        )
        apply_movement(store_a.id, black, 20, "sync", reference="import:1")
        apply_movement(store_a.id, black, -2, "adjust", reason="Broken in the warehouse")
        apply_movement(store_a.id, white, 2, "cancellation", reference="order:1002")
        db.session.commit()
        for variant_id, expected in ((white, 10 - 5 + 1 + 2), (black, 4 - 1 + 20 - 2)):
            stock = db.session.get(Variant, variant_id).stock
            assert stock == expected == ledger_total(variant_id)
        kinds = db.session.scalars(
            select(StockMovement.kind)
            .where(StockMovement.variant_id == white)
            .order_by(StockMovement.id)
        ).all()
        assert kinds == ["receive", "sale", "return", "cancellation"]
        last = db.session.scalar(select(StockMovement).order_by(StockMovement.id.desc()))
        assert last.stock_after == db.session.get(Variant, white).stock


def test_taking_more_than_there_is_fails_whole_and_changes_nothing(app, store_a):
    product = make_product(
        store_a,
        "Cap",
        option_names=["Size"],
        variants=[
            VariantData("CAP-S", 500, ["S"], stock=5),
            VariantData("CAP-M", 500, ["M"], stock=1),
        ],
    )
    small, medium = variant_ids(product)
    with app.app_context():
        with pytest.raises(InsufficientStock) as info:
            take_stock(store_a.id, [(small, 2), (medium, 2)], reference="order:1")
        db.session.rollback()
        assert (info.value.variant_id, info.value.wanted, info.value.available) == (medium, 2, 1)
        assert db.session.get(Variant, small).stock == 5
        assert ledger_total(small) == 5


def test_another_store_s_variant_is_not_found(app, store_a, store_b):
    other = make_product(store_b, "Theirs", variants=[VariantData("T-1", 100, stock=3)])
    with app.app_context(), pytest.raises(LookupError):
        apply_movement(store_a.id, other.variants[0].id, -1, "sale")


@pytest.mark.parametrize("quantity", [0, -1, "2", 1.5])
def test_bad_quantities_are_refused(app, store_a, quantity):
    product = make_product(store_a, "Pin", variants=[VariantData("PIN", 100, stock=3)])
    with app.app_context(), pytest.raises(ValueError):
        take_stock(store_a.id, [(product.variants[0].id, quantity)])


def test_the_schema_refuses_negative_stock(app, store_a):
    product = make_product(store_a, "Sock", variants=[VariantData("SOCK", 100, stock=1)])
    with app.app_context():
        db.session.get(Variant, product.variants[0].id).stock = -1
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_thirty_concurrent_buyers_for_five_units_make_five_sales(app, store_a):
    product = make_product(store_a, "Limited Print", variants=[VariantData("LTD", 5000, stock=5)])
    variant_id = product.variants[0].id
    outcomes: list[str] = []
    barrier = threading.Barrier(30, timeout=30)

    def buy(n: int):
        barrier.wait()
        with app.app_context():
            try:
                take_stock(store_a.id, [(variant_id, 1)], reference=f"order:{n}")
                db.session.commit()
                outcomes.append("sold")
            except InsufficientStock:
                db.session.rollback()
                outcomes.append("sold out")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes.count("sold") == 5 and outcomes.count("sold out") == 25
    with app.app_context():
        assert db.session.get(Variant, variant_id).stock == 0
        assert ledger_total(variant_id) == 0
