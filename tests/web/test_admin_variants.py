"""Options, generated variants and inline variant editing in the dashboard."""

import pytest
from sqlalchemy import func, select, update

from app.catalog.editing import VariantErrors, VariantInput, set_options, update_variant
from app.catalog.models import Product, Variant
from app.catalog.service import VariantData
from app.extensions import db
from app.inventory.models import StockMovement
from app.inventory.service import InsufficientStock, apply_movement, ledger_total
from app.money import AmountError, parse_amount
from app.notifications.models import EmailMessage
from tests.conftest import BACKENDS
from tests.factories import make_product
from tests.web.catalog_admin_helpers import HX, signed_in, text_of

pytestmark = pytest.mark.backends("sqlite")  # forms, messages, htmx rows: HTTP, not SQL

ROW = {
    "sku": "TEE-S",
    "price": "12.50",
    "compare_at_price": "20",
    "weight_grams": "180",
    "stock": "9",
    "track_inventory": "y",
}


@pytest.fixture
def owner(app, client_for, store_a):
    return signed_in(app, client_for, store_a)


@pytest.fixture
def tee(store_a):
    return make_product(
        store_a,
        "Tee",
        variants=[VariantData("TEE-S", 1000, ["S"], stock=4), VariantData("TEE-M", 1200, ["M"])],
        option_names=["Size"],
    )


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("19.99", "USD", 1999),
        (" 19.9 ", "USD", 1990),
        ("150000", "IDR", 15_000_000),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("0", "EUR", 0),
        (".5", "EUR", 50),
    ],
)
def test_amounts_become_minor_units(text, currency, expected):
    assert parse_amount(text, currency) == expected


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("", "USD", "required"),
        ("-1", "USD", "negative"),
        ("abc", "USD", "a number"),
        ("1.999", "USD", "at most 2 decimal places"),
        ("15.5", "JPY", "no decimals"),
        ("20000001", "USD", "at most"),
        ("1e3", "USD", "a number"),
        ("Infinity", "USD", "a number"),
        ("1,000", "USD", "a number"),
    ],
)
def test_bad_amounts_are_refused(text, currency, message):
    with pytest.raises(AmountError, match=message):
        parse_amount(text, currency)


@pytest.mark.backends(*BACKENDS)  # unique SKUs, rows kept and removed
def test_options_generate_every_combination_and_keep_existing_variants(app, owner, tee):
    response = owner.post(
        f"/admin/products/{tee.id}/options",
        data={
            "option1_name": "Size",
            "option1_values": "S, M, L, XL, XXL, m",
            "option2_name": "Colour",
            "option2_values": "Red, Blue",
        },
    )
    assert response.status_code == 303
    with app.app_context():
        product = db.session.get(Product, tee.id)
        assert product.option_names == ["Size", "Colour"]
        variants = product.variants
        assert len(variants) == 10
        assert [v.title for v in variants[:3]] == ["S / Red", "S / Blue", "M / Red"]
        by_title = {v.title: v for v in variants}
        # The old S and M variants became S / Red and M / Red, keeping SKU, price and stock.
        assert (by_title["S / Red"].sku, by_title["S / Red"].stock) == ("TEE-S", 4)
        assert (by_title["M / Red"].sku, by_title["M / Red"].price) == ("TEE-M", 1200)
        assert by_title["XXL / Blue"].sku == "TEE-XXL-BLUE" and by_title["XXL / Blue"].price == 1000
        assert len({v.sku for v in variants}) == 10
        assert (product.min_price, product.max_price) == (1000, 1200)
    # Dropping XXL and the colours keeps the rest and removes what no longer exists.
    response = owner.post(
        f"/admin/products/{tee.id}/options",
        data={"option1_name": "Size", "option1_values": "S, M, L, XL"},
    )
    assert response.status_code == 303
    with app.app_context():
        product = db.session.get(Product, tee.id)
        assert [v.title for v in product.variants] == ["S", "M", "L", "XL"]
        assert product.variants[0].sku == "TEE-S" and product.variants[0].stock == 4
        assert db.session.scalar(select(func.count()).select_from(Variant)) == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"option1_name": "Size", "option1_values": ""}, "at least one value"),
        ({"option1_name": "", "option1_values": "S, M"}, "Give every option a name"),
        (
            {
                "option1_name": "Size",
                "option1_values": "S",
                "option2_name": "size",
                "option2_values": "M",
            },
            "its own name",
        ),
        (
            {
                "option1_name": "A",
                "option1_values": ",".join(str(i) for i in range(11)),
                "option2_name": "B",
                "option2_values": ",".join(str(i) for i in range(10)),
            },
            "at most 100",
        ),
    ],
)
def test_bad_options_are_refused_and_nothing_changes(app, owner, tee, data, message):
    response = owner.post(f"/admin/products/{tee.id}/options", data=data)
    assert response.status_code == 422 and message in text_of(response)
    with app.app_context():
        product = db.session.get(Product, tee.id)
        assert product.option_names == ["Size"]
        assert [v.sku for v in product.variants] == ["TEE-S", "TEE-M"]


def test_set_options_called_directly_clears_to_one_default_variant(app, tee):
    with app.app_context():
        product = db.session.get(Product, tee.id)
        counts = set_options(product, [])
        db.session.commit()
        assert counts == {"kept": 1, "added": 0, "removed": 1}
        assert [v.title for v in product.variants] == ["Default"] and product.option_names == []


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_inline_edit_swaps_one_row(app, owner, tee):
    variant_id = tee.variants[0].id
    base = f"/admin/products/{tee.id}/variants/{variant_id}"
    edit_row = owner.get(f"{base}/edit", headers=HX)
    body = text_of(edit_row)
    assert edit_row.status_code == 200 and body.startswith(f'<tr id="variant-{variant_id}"')
    assert 'name="price"' in body and 'value="10.00"' in body and "<html" not in body
    saved = owner.post(base, data=ROW, headers=HX)
    row = text_of(saved)
    assert saved.status_code == 200 and row.startswith(f'<tr id="variant-{variant_id}"')
    assert "$12.50" in row and "$20.00" in row and "−37%" in row and 'name="price"' not in row
    cancel = owner.get(base, headers=HX)
    assert cancel.status_code == 200 and "$12.50" in text_of(cancel)
    with app.app_context():
        variant = db.session.get(Variant, variant_id)
        assert (variant.price, variant.compare_at_price, variant.weight_grams, variant.stock) == (
            1250,
            2000,
            180,
            9,
        )
        assert variant.discount_percent == 37
        product = db.session.get(Product, tee.id)
        assert (product.min_price, product.max_price) == (1200, 1250)
        movement = db.session.scalar(select(StockMovement).where(StockMovement.kind == "adjust"))
        assert (movement.quantity, movement.stock_after) == (5, 9)


def test_without_javascript_the_edit_row_opens_in_the_page(app, owner, tee):
    variant_id = tee.variants[1].id
    page = owner.get(f"/admin/products/{tee.id}/variants/{variant_id}/edit")
    assert page.status_code == 200 and "<html" in text_of(page)
    assert f'id="variant-form-{variant_id}"' in text_of(page)
    saved = owner.post(
        f"/admin/products/{tee.id}/variants/{variant_id}", data={**ROW, "sku": "TEE-M2"}
    )
    assert saved.status_code == 303 and saved.headers["Location"].endswith("#variants")


def test_stock_out_and_untracked_follow_into_the_summary(app, owner, tee):
    for variant in tee.variants:
        data = {**ROW, "sku": variant.sku, "stock": "0", "compare_at_price": ""}
        assert (
            owner.post(f"/admin/products/{tee.id}/variants/{variant.id}", data=data).status_code
            == 303
        )
    with app.app_context():
        assert db.session.get(Product, tee.id).in_stock is False
    untracked = {**ROW, "sku": "TEE-S", "stock": "0", "compare_at_price": ""}
    untracked.pop("track_inventory")
    owner.post(f"/admin/products/{tee.id}/variants/{tee.variants[0].id}", data=untracked)
    with app.app_context():
        assert db.session.get(Product, tee.id).in_stock is True


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"sku": "TEE-M"}, "sku", "already used"),
        ({"sku": ""}, "sku", "1 to 64"),
        ({"price": "-1"}, "price", "negative"),
        ({"price": "twelve"}, "price", "a number"),
        ({"price": "1.234"}, "price", "decimal places"),
        ({"price": "999999999999"}, "price", "at most"),
        ({"compare_at_price": "5"}, "compare_at_price", "higher than the price"),
        ({"stock": "-3"}, "stock", "whole number"),
        ({"stock": "2.5"}, "stock", "whole number"),
        ({"weight_grams": "heavy"}, "weight_grams", "whole number"),
    ],
)
def test_bad_variant_rows_answer_422_with_the_row(app, owner, tee, changes, field, message):
    variant_id = tee.variants[0].id
    response = owner.post(
        f"/admin/products/{tee.id}/variants/{variant_id}", data={**ROW, **changes}, headers=HX
    )
    body = text_of(response)
    assert response.status_code == 422 and body.startswith(f'<tr id="variant-{variant_id}"')
    assert (
        message in body.replace("&#39;", "'")
        and f'id="variant-form-{variant_id}-{field}-error"' in body
    )
    full = owner.post(f"/admin/products/{tee.id}/variants/{variant_id}", data={**ROW, **changes})
    assert full.status_code == 422 and "<html" in text_of(full)
    with app.app_context():
        variant = db.session.get(Variant, variant_id)
        assert (variant.sku, variant.price, variant.stock, variant.compare_at_price) == (
            "TEE-S",
            1000,
            4,
            None,
        )
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(StockMovement)
                .where(StockMovement.kind == "adjust")
            )
            == 0
        )


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_another_stores_sku_is_fine_but_ids_are_404(app, owner, tee, store_b):
    theirs = make_product(store_b, "Theirs", variants=[VariantData("THEIR-1", 500)])
    ok = owner.post(
        f"/admin/products/{tee.id}/variants/{tee.variants[0].id}", data={**ROW, "sku": "THEIR-1"}
    )
    assert ok.status_code == 303
    their_variant = theirs.variants[0].id
    my_variant = tee.variants[1].id
    for method, path in [
        ("GET", f"/admin/products/{tee.id}/variants/{their_variant}"),
        ("GET", f"/admin/products/{tee.id}/variants/{their_variant}/edit"),
        ("POST", f"/admin/products/{tee.id}/variants/{their_variant}"),
        ("GET", f"/admin/products/{theirs.id}/variants/{their_variant}/edit"),
        ("POST", f"/admin/products/{theirs.id}/variants/{their_variant}"),
        ("POST", f"/admin/products/{theirs.id}/variants/{my_variant}"),
    ]:
        response = owner.open(path, method=method, data={**ROW, "sku": "HACKED"}, headers=HX)
        assert response.status_code == 404, (method, path)
    with app.app_context():
        assert db.session.get(Variant, their_variant).sku == "THEIR-1"
        assert db.session.get(Variant, my_variant).sku == "TEE-M"


def test_a_variant_of_another_product_in_the_same_store_is_404(owner, tee, store_a):
    other = make_product(store_a, "Other", variants=[VariantData("OTHER-1", 500)])
    response = owner.get(f"/admin/products/{tee.id}/variants/{other.variants[0].id}/edit")
    assert response.status_code == 404


def low_stock_alerts(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(EmailMessage.to_address).where(EmailMessage.template == "low_stock")
            )
        )


@pytest.mark.backends(*BACKENDS)  # stock ledger
def test_an_edit_that_lowers_stock_below_the_threshold_alerts_and_never_goes_negative(
    app, owner, store_a
):
    lamp = make_product(store_a, "Lamp", variants=[VariantData("LAMP", 1000, stock=12)])
    variant_id = lamp.variants[0].id
    url = f"/admin/products/{lamp.id}/variants/{variant_id}"
    row = {**ROW, "sku": "LAMP", "compare_at_price": ""}
    assert owner.post(url, data={**row, "stock": "8"}).status_code == 303  # above 5: no alert
    assert low_stock_alerts(app) == []
    assert owner.post(url, data={**row, "stock": "2"}).status_code == 303  # fell to 2
    assert low_stock_alerts(app) == [f"owner@{store_a.slug}.example.com"]
    refused = owner.post(url, data={**row, "stock": "-1"}, headers=HX)
    assert refused.status_code == 422 and "whole number" in text_of(refused)
    with app.app_context():
        assert db.session.get(Variant, variant_id).stock == 2 == ledger_total(variant_id)
        # The same guard as every movement: a take below zero changes nothing.
        with pytest.raises(InsufficientStock):
            apply_movement(store_a.id, variant_id, -3, "adjust")
        db.session.rollback()
        assert db.session.get(Variant, variant_id).stock == 2
        kinds = db.session.execute(
            select(StockMovement.kind, StockMovement.quantity, StockMovement.stock_after)
            .where(StockMovement.variant_id == variant_id)
            .order_by(StockMovement.id)
        ).all()
        assert [tuple(k) for k in kinds] == [
            ("receive", 12, 12),
            ("adjust", -4, 8),
            ("adjust", -6, 2),
        ]


@pytest.mark.backends(*BACKENDS)  # a stale count: the conditional UPDATE
def test_an_edit_from_a_stale_count_is_refused_on_the_stock_field(app, owner, store_a):
    lamp = make_product(store_a, "Lamp", variants=[VariantData("LAMP", 1000, stock=12)])
    variant = lamp.variants[0]
    with app.app_context():
        variant = db.session.get(Variant, variant.id)
        shown = variant.stock
        # An order takes 5 after the edit read the count (another connection, committed).
        db.session.execute(
            update(Variant).where(Variant.id == variant.id).values(stock=Variant.stock - 5),
            execution_options={"synchronize_session": False},
        )
        assert variant.stock == shown == 12
        with pytest.raises(VariantErrors) as refused:
            update_variant(variant, VariantInput(sku="LAMP", price="10", stock="3"))
        assert "changed to 7" in refused.value.errors["stock"]
        db.session.rollback()
