"""The bulk variant editor: every variant of a product in one grid, saved in one transaction."""

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from app.catalog.models import Product, Variant
from app.catalog.service import VariantData
from app.catalog.variant_grid import REASON, GridErrors, GridRow, save_grid
from app.extensions import db
from app.inventory.models import StockMovement
from app.inventory.service import apply_movement, ledger_total
from tests.factories import make_product
from tests.web.catalog_admin_helpers import HX, owner_of, signed_in, text_of


@pytest.fixture
def owner(app, client_for, store_a):
    return signed_in(app, client_for, store_a)


@pytest.fixture
def shirt(store_a):
    return make_product(
        store_a,
        "Grid Shirt",
        variants=[
            VariantData("GS-S", 1000, ["S"], stock=4),
            VariantData("GS-M", 1200, ["M"], compare_at_price=1500, stock=2),
            VariantData("GS-L", 1400, ["L"], stock=0),
        ],
        option_names=["Size"],
    )


def grid_form(product, **changes) -> dict:
    """The grid as the page shows it for `product` (detached, as made), with `changes`:
    {"<sku>": {"price": "12.00", ...}} applied to the rows of those SKUs."""
    data = {"variant": []}
    for variant in product.variants:
        data["variant"].append(str(variant.id))
        row = {
            "sku": variant.sku,
            "price": f"{variant.price / 100:.2f}",
            "compare_at_price": ""
            if variant.compare_at_price is None
            else f"{variant.compare_at_price / 100:.2f}",
            "stock": str(variant.stock),
            "loaded_stock": str(variant.stock),
            **changes.get(variant.sku, {}),
        }
        for name, value in row.items():
            data[f"variant-{variant.id}-{name}"] = value
    return data


def variants_of(app, product_id) -> dict[str, Variant]:
    with app.app_context():
        product = db.session.get(Product, product_id)
        rows = {v.sku: v for v in product.variants}
        for v in rows.values():
            db.session.expunge(v)
        return rows


def cell_input(body: str, variant_id: int, name: str) -> str:
    """The <input> tag of one cell in the rendered grid."""
    match = re.search(rf'<input[^>]*id="variant-{variant_id}-{name}"[^>]*>', body)
    assert match, f"no {name} cell for variant {variant_id}"
    return match.group(0)


@pytest.mark.backends("sqlite")  # markup
def test_the_grid_shows_every_variant_with_its_values(owner, shirt):
    response = owner.get(f"/admin/products/{shirt.id}/variants")
    body = text_of(response)
    assert response.status_code == 200 and "<html" in body
    medium = shirt.variants[1]
    assert 'value="GS-M"' in cell_input(body, medium.id, "sku")
    assert 'value="12.00"' in cell_input(body, medium.id, "price")
    assert 'value="15.00"' in cell_input(body, medium.id, "compare_at_price")
    assert 'value="2"' in cell_input(body, medium.id, "stock")
    assert f'name="variant-{medium.id}-loaded_stock" value="2"' in body
    assert f'for="variant-{medium.id}-price">Price of M<' in body
    # The product page links to it.
    page = text_of(owner.get(f"/admin/products/{shirt.id}/edit"))
    assert f'href="/admin/products/{shirt.id}/variants"' in page


def test_saving_the_grid_changes_every_row_in_one_go(app, owner, shirt):
    data = grid_form(
        shirt,
        **{
            "GS-S": {"price": "11.50", "stock": "10", "sku": "GS-SMALL"},
            "GS-M": {"compare_at_price": "", "stock": "0"},
            "GS-L": {"price": "14", "compare_at_price": "19.99"},
        },
    )
    response = owner.post(f"/admin/products/{shirt.id}/variants", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/products/{shirt.id}/variants"
    assert "3 variants saved." in text_of(owner.get(response.headers["Location"]))
    rows = variants_of(app, shirt.id)
    assert (rows["GS-SMALL"].price, rows["GS-SMALL"].stock) == (1150, 10)
    assert (rows["GS-M"].compare_at_price, rows["GS-M"].stock) == (None, 0)
    assert (rows["GS-L"].price, rows["GS-L"].compare_at_price) == (1400, 1999)
    with app.app_context():
        product = db.session.get(Product, shirt.id)
        assert (product.min_price, product.max_price, product.in_stock) == (1150, 1400, True)


def test_stock_changes_go_through_the_ledger(app, owner, shirt):
    small, medium = shirt.variants[0], shirt.variants[1]
    data = grid_form(shirt, **{"GS-S": {"stock": "9"}, "GS-M": {"stock": "1"}})
    assert owner.post(f"/admin/products/{shirt.id}/variants", data=data).status_code == 303
    with app.app_context():
        moves = db.session.scalars(
            select(StockMovement)
            .where(StockMovement.kind == "adjust")
            .order_by(StockMovement.variant_id)
        ).all()
        assert [(m.variant_id, m.quantity, m.stock_after, m.reason) for m in moves] == [
            (small.id, 5, 9, REASON),
            (medium.id, -1, 1, REASON),
        ]
        assert all(m.user_id is not None for m in moves)
        for variant_id in (small.id, medium.id):
            assert ledger_total(variant_id) == db.session.get(Variant, variant_id).stock


@pytest.mark.backends("sqlite")  # an htmx fragment and Vary
def test_htmx_gets_just_the_grid(app, owner, shirt):
    data = grid_form(shirt, **{"GS-L": {"price": "15.00"}})
    response = owner.post(f"/admin/products/{shirt.id}/variants", data=data, headers=HX)
    body = text_of(response)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert body.lstrip().startswith('<form id="variant-grid"') and "<html" not in body
    assert "1 variant saved." in body
    assert 'value="15.00"' in cell_input(body, shirt.variants[2].id, "price")
    errors = owner.post(
        f"/admin/products/{shirt.id}/variants",
        data=grid_form(shirt, **{"GS-L": {"price": "x"}}),
        headers=HX,
    )
    assert errors.status_code == 422
    assert text_of(errors).lstrip().startswith('<form id="variant-grid"')


@pytest.mark.parametrize(
    ("sku", "cell", "typed", "message"),
    [
        ("GS-M", "price", "12,5", "must be a number"),
        ("GS-M", "price", "", "is required"),
        ("GS-M", "price", "1.999", "at most 2 decimal places"),
        ("GS-M", "compare_at_price", "11.00", "must be higher than the price"),
        ("GS-M", "stock", "-3", "can't be negative"),
        ("GS-M", "stock", "1000000001", "from 0 to 1,000,000,000"),
        ("GS-M", "stock", "99999999999999999999999", "from 0 to 1,000,000,000"),
        ("GS-M", "stock", "2.5", "whole number"),
        ("GS-M", "sku", "", "1 to 64 printable characters"),
        ("GS-M", "sku", "X" * 65, "1 to 64 printable characters"),
        ("GS-M", "sku", "BAD\u200bSKU", "1 to 64 printable characters"),
    ],
)
def test_a_bad_cell_keeps_every_typed_value_and_saves_nothing(
    app, owner, shirt, sku, cell, typed, message
):
    small, medium = shirt.variants[0], shirt.variants[1]
    data = grid_form(
        shirt, **{"GS-S": {"price": "99.00", "stock": "7", "sku": "GS-NEW"}, sku: {cell: typed}}
    )
    response = owner.post(f"/admin/products/{shirt.id}/variants", data=data)
    body = text_of(response)
    assert response.status_code == 422 and "Nothing was saved" in body
    bad = cell_input(body, medium.id, cell)
    assert 'aria-invalid="true"' in bad and "input--error" in bad
    assert f'aria-describedby="variant-{medium.id}-{cell}-error"' in bad
    error = re.search(rf'id="variant-{medium.id}-{cell}-error">([^<]*)<', body).group(1)
    assert message in error.replace("&#39;", "'")
    # What was typed elsewhere is still there, and no other cell is marked.
    assert 'value="99.00"' in cell_input(body, small.id, "price")
    assert 'value="GS-NEW"' in cell_input(body, small.id, "sku")
    assert 'value="7"' in cell_input(body, small.id, "stock")
    assert body.count('aria-invalid="true"') == 1
    rows = variants_of(app, shirt.id)
    assert set(rows) == {"GS-S", "GS-M", "GS-L"}
    assert (rows["GS-S"].price, rows["GS-S"].stock, rows["GS-M"].price) == (1000, 4, 1200)
    with app.app_context():
        assert (
            db.session.scalar(select(StockMovement).where(StockMovement.kind == "adjust")) is None
        )


def test_a_sku_of_another_variant_is_a_cell_error_not_a_500(app, owner, shirt, store_a):
    make_product(store_a, "Other", variants=[VariantData("TAKEN-1", 500)])
    data = grid_form(shirt, **{"GS-L": {"sku": "TAKEN-1"}, "GS-S": {"sku": "GS-M"}})
    response = owner.post(f"/admin/products/{shirt.id}/variants", data=data)
    body = text_of(response)
    assert response.status_code == 422
    assert "already used by another variant" in body
    assert 'aria-invalid="true"' in cell_input(body, shirt.variants[2].id, "sku")
    # GS-S takes GS-M while GS-M keeps it: the grid would hold it twice.
    assert "is in this grid twice" in body
    assert set(variants_of(app, shirt.id)) == {"GS-S", "GS-M", "GS-L"}


def test_a_sku_taken_between_the_check_and_the_write_is_409_not_a_500(
    app, owner, shirt, store_a, monkeypatch
):
    """The unique index is the backstop when another request takes the SKU after the check."""
    import app.catalog.variant_grid as grid

    make_product(store_a, "Racer", variants=[VariantData("RACED-1", 500)])
    monkeypatch.setattr(grid, "_check_skus", lambda product, parsed, cells: None)
    data = grid_form(shirt, **{"GS-L": {"sku": "RACED-1", "price": "30.00"}})
    response = owner.post(f"/admin/products/{shirt.id}/variants", data=data, headers=HX)
    body = text_of(response)
    assert response.status_code == 409 and "was just taken by another variant" in body
    assert 'value="RACED-1"' in cell_input(body, shirt.variants[2].id, "sku")
    assert 'value="30.00"' in cell_input(body, shirt.variants[2].id, "price")
    rows = variants_of(app, shirt.id)
    assert "GS-L" in rows and rows["GS-L"].price == 1400


def test_a_sku_of_another_store_is_free_to_use(app, owner, shirt, store_b):
    make_product(store_b, "Theirs", variants=[VariantData("THEIRS-1", 500)])
    data = grid_form(shirt, **{"GS-L": {"sku": "THEIRS-1"}})
    assert owner.post(f"/admin/products/{shirt.id}/variants", data=data).status_code == 303
    assert "THEIRS-1" in variants_of(app, shirt.id)


def test_two_rows_may_swap_skus(app, owner, shirt):
    data = grid_form(shirt, **{"GS-S": {"sku": "GS-M"}, "GS-M": {"sku": "GS-S"}})
    assert owner.post(f"/admin/products/{shirt.id}/variants", data=data).status_code == 303
    rows = variants_of(app, shirt.id)
    assert (rows["GS-M"].price, rows["GS-S"].price) == (1000, 1200)


def test_stock_changed_since_loading_is_reported_per_cell_not_overwritten(app, owner, shirt):
    small, medium = shirt.variants[0], shirt.variants[1]
    form = grid_form(shirt, **{"GS-S": {"stock": "10", "price": "10.50"}, "GS-M": {"stock": "2"}})
    with app.app_context():
        apply_movement(shirt.store_id, small.id, -3, "sale", reference="order:1")  # 4 -> 1
        apply_movement(shirt.store_id, medium.id, -1, "sale", reference="order:2")  # 2 -> 1
        db.session.commit()
    response = owner.post(f"/admin/products/{shirt.id}/variants", data=form)
    body = text_of(response)
    assert response.status_code == 422
    stock = cell_input(body, small.id, "stock")
    assert 'value="10"' in stock and 'aria-invalid="true"' in stock
    assert "Stock changed from 4 to 1 since you opened this page" in body
    # Medium's stock wasn't edited: the sale there is no conflict and isn't undone, and its cell
    # now shows the count as it is.
    assert 'aria-invalid="true"' not in cell_input(body, medium.id, "stock")
    assert 'value="1"' in cell_input(body, medium.id, "stock")
    assert f'name="variant-{medium.id}-loaded_stock" value="1"' in body
    # The form now carries the count in the database, so saving again applies the typed number.
    assert f'name="variant-{small.id}-loaded_stock" value="1"' in body
    rows = variants_of(app, shirt.id)
    assert (rows["GS-S"].stock, rows["GS-S"].price, rows["GS-M"].stock) == (1, 1000, 1)
    again = {
        **form,
        f"variant-{small.id}-loaded_stock": "1",
        f"variant-{medium.id}-stock": "1",
        f"variant-{medium.id}-loaded_stock": "1",
    }
    assert owner.post(f"/admin/products/{shirt.id}/variants", data=again).status_code == 303
    rows = variants_of(app, shirt.id)
    assert (rows["GS-S"].stock, rows["GS-S"].price) == (10, 1050)
    with app.app_context():
        assert ledger_total(small.id) == 10


# PostgreSQL: SQLite's one writer would make the other connection wait for the session's lock.
@pytest.mark.backends("postgresql")
def test_a_race_between_the_check_and_the_update_is_caught_by_the_conditional_update(app, shirt):
    """The grid reads the stock, then someone sells: the UPDATE's own condition refuses."""
    small = shirt.variants[0]
    with app.app_context():
        product = db.session.get(Product, shirt.id)
        assert product.variants[0].stock == 4  # loaded, as when the grid checked it
        with db.engine.connect() as other:  # another transaction sells one meanwhile
            if other.dialect.name == "postgresql":  # as the administrator: past the policies
                other.exec_driver_sql("SELECT set_config('app.all_stores', 'on', true)")
            other.execute(Variant.__table__.update().where(Variant.id == small.id).values(stock=3))
            other.commit()
        rows = [GridRow(small.id, "GS-S", "10.00", "", "9", "4")]
        with pytest.raises(GridErrors) as caught:
            save_grid(product, rows)
        db.session.rollback()
        assert caught.value.current == {small.id: 3}
        assert "from 4 to 3" in caught.value.cells[small.id]["stock"]
        assert db.session.get(Variant, small.id).stock == 3


def test_another_stores_variant_in_the_form_is_404_and_changes_nothing(app, owner, shirt, store_b):
    theirs = make_product(store_b, "Theirs", variants=[VariantData("B-1", 500, stock=5)])
    victim = theirs.variants[0]
    data = grid_form(shirt, **{"GS-S": {"price": "1.00"}})
    data["variant"].append(str(victim.id))
    data.update(
        {
            f"variant-{victim.id}-sku": "PWNED",
            f"variant-{victim.id}-price": "0",
            f"variant-{victim.id}-stock": "0",
            f"variant-{victim.id}-loaded_stock": "5",
        }
    )
    assert owner.post(f"/admin/products/{shirt.id}/variants", data=data).status_code == 404
    with app.app_context():
        row = db.session.get(Variant, victim.id)
        assert (row.sku, row.price, row.stock) == ("B-1", 500, 5)
        assert db.session.get(Variant, shirt.variants[0].id).price == 1000


@pytest.mark.backends("sqlite")  # the form checked in Python
def test_a_variant_of_another_product_of_the_same_store_is_404(app, owner, shirt, store_a):
    other = make_product(store_a, "Sibling", variants=[VariantData("SIB-1", 700, stock=1)])
    data = grid_form(shirt)
    data["variant"].append(str(other.variants[0].id))
    data[f"variant-{other.variants[0].id}-price"] = "0"
    assert owner.post(f"/admin/products/{shirt.id}/variants", data=data).status_code == 404
    assert variants_of(app, other.id)["SIB-1"].price == 700


@pytest.mark.parametrize("bad_id", ["abc", "-1", "0", "99999999999999"])
def test_junk_variant_ids_are_404(owner, shirt, bad_id):
    data = grid_form(shirt)
    data["variant"].append(bad_id)
    assert owner.post(f"/admin/products/{shirt.id}/variants", data=data).status_code == 404


@pytest.mark.backends("sqlite")  # a validation message
def test_a_tampered_loaded_stock_is_a_cell_error(app, owner, shirt):
    small = shirt.variants[0]
    data = grid_form(shirt, **{"GS-S": {"stock": "5", "loaded_stock": "-4"}})
    response = owner.post(f"/admin/products/{shirt.id}/variants", data=data)
    assert response.status_code == 422 and "Reload the page" in text_of(response)
    assert variants_of(app, shirt.id)["GS-S"].stock == small.stock


def test_another_stores_product_grid_is_404(app, client_for, store_a, store_b, shirt):
    intruder = signed_in(app, client_for, store_b)  # on store B's host: A's product isn't there
    assert intruder.get(f"/admin/products/{shirt.id}/variants").status_code == 404
    response = intruder.post(f"/admin/products/{shirt.id}/variants", data=grid_form(shirt))
    assert response.status_code == 404
    # On store A's host, signed in as store B's owner: not a member, 404 too.
    foreign = signed_in(app, client_for, store_a, owner_of(app, store_b))
    assert foreign.get(f"/admin/products/{shirt.id}/variants").status_code == 404
    response = foreign.post(
        f"/admin/products/{shirt.id}/variants",
        data=grid_form(shirt, **{"GS-S": {"price": "0.01"}}),
        headers=HX,
    )
    assert response.status_code == 404
    assert variants_of(app, shirt.id)["GS-S"].price == 1000


@contextmanager
def count_queries(app):
    counter = {"n": 0}

    def listener(conn, cursor, statement, parameters, context, executemany):
        counter["n"] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def test_query_count_does_not_grow_with_the_rows_except_for_stock_moves(
    app, owner, store_a, backend
):
    """On PostgreSQL the ORM sends every row's new SKU and price in one executemany (SQLite: one
    UPDATE a row); stock is one conditional UPDATE per changed variant, as it must be."""

    def product_with(n):
        return make_product(
            store_a,
            f"Q{n}",
            variants=[VariantData(f"Q{n}-{i}", 1000 + i, [str(i)], stock=5) for i in range(n)],
            option_names=["N"],
        )

    small, big = product_with(2), product_with(20)
    counts = {}
    for product in (small, big):
        edits = {v.sku: {"price": "50.00", "sku": v.sku + "X"} for v in product.variants}
        with count_queries(app) as counter:
            response = owner.post(
                f"/admin/products/{product.id}/variants", data=grid_form(product, **edits)
            )
        assert response.status_code == 303
        counts[product.id] = counter["n"]
    if backend == "postgresql":
        assert counts[big.id] == counts[small.id]
    else:
        assert counts[big.id] == counts[small.id] + 18
    # Stock moves are one conditional UPDATE per changed variant, and one INSERT for the ledger.
    big_now = make_product(
        store_a,
        "Q20b",
        variants=[VariantData(f"R-{i}", 1000, [str(i)], stock=5) for i in range(20)],
        option_names=["N"],
    )
    edits = {v.sku: {"stock": "6"} for v in big_now.variants}
    with count_queries(app) as counter:
        response = owner.post(
            f"/admin/products/{big_now.id}/variants", data=grid_form(big_now, **edits)
        )
    assert response.status_code == 303
    per_row = 1 if backend == "postgresql" else 2  # SQLite inserts the ledger rows one by one
    assert counter["n"] <= counts[small.id] + 20 * per_row + 2
