"""The vendor API: keys, scopes, hosts, problem+json, resources, idempotency, rate limits."""

import pytest
from sqlalchemy import func, select

from app.api.models import ApiIdempotencyKey, ApiKey
from app.audit.models import AuditLog
from app.catalog.models import Product, Variant
from app.extensions import db
from app.inventory.models import StockMovement
from app.orders.models import Coupon, Order
from tests.api.helpers import bearer, make_key
from tests.conftest import BACKENDS
from tests.factories import make_category, make_product
from tests.web.order_helpers import make_order, make_variant

pytestmark = pytest.mark.backends("sqlite")  # keys, scopes, validation: HTTP, not SQL

PROBLEM = "application/problem+json"


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _stock(app, variant_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(Variant.stock).where(Variant.id == variant_id))


@pytest.fixture
def api_a(app, client_for, store_a):
    """A client on store A's host and a key of store A with every scope."""
    secret = make_key(app, store_a)
    return client_for(store_a), secret


# Authentication and tenancy -------------------------------------------------------------------


def test_products_list_with_a_key(app, api_a, store_a):
    make_product(store_a, "Blue Shirt")
    client, secret = api_a
    response = client.get("/api/v1/products", headers=bearer(secret))
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert [p["title"] for p in body["data"]] == ["Blue Shirt"]
    assert body["data"][0]["variants"][0]["price"] == 1999
    assert body["data"][0]["currency"] == "USD"
    assert body["next_cursor"] is None


def test_without_a_key_401_problem(api_a):
    client, _ = api_a
    response = client.get("/api/v1/products")
    assert response.status_code == 401
    assert response.content_type == PROBLEM
    body = response.get_json()
    assert body["status"] == 401 and body["title"] == "Unauthorized" and body["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.backends(*BACKENDS)  # another store's key
def test_a_key_of_store_a_is_unknown_on_store_b(app, client_for, store_a, store_b):
    secret = make_key(app, store_a)
    make_product(store_b, "Bravo thing")
    response = client_for(store_b).get("/api/v1/products", headers=bearer(secret))
    assert response.status_code == 401
    assert b"Bravo thing" not in response.data
    with app.app_context():
        key = db.session.scalar(select(ApiKey))
        assert key.last_used_at is None  # nothing was read or written for it


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_store_b_ids_are_404_with_a_store_a_key(app, api_a, store_b):
    client, secret = api_a
    product = make_product(store_b, "Bravo thing")
    variant_id = product.variants[0].id
    order = make_order(app, store_b, variant_id)
    with app.app_context():
        coupon = Coupon(store_id=store_b.id, code="BRAVO", kind="percent", value=5)
        db.session.add(coupon)
        db.session.commit()
        coupon_id = coupon.id
    for path in (
        f"/api/v1/products/{product.id}",
        f"/api/v1/variants/{variant_id}",
        f"/api/v1/stock/{variant_id}",
        f"/api/v1/stock/{variant_id}/movements",
        f"/api/v1/orders/{order['id']}",
        f"/api/v1/coupons/{coupon_id}",
    ):
        response = client.get(path, headers=bearer(secret))
        assert response.status_code == 404, path
        assert response.content_type == PROBLEM
    for path, body in (
        (f"/api/v1/stock/{variant_id}/adjustments", {"change": 5, "reason": "x"}),
        (f"/api/v1/orders/{order['id']}/ship", {"carrier": "DHL", "tracking_number": "1"}),
    ):
        assert client.post(path, json=body, headers=bearer(secret)).status_code == 404
    patched = client.patch(
        f"/api/v1/products/{product.id}", json={"title": "Mine"}, headers=bearer(secret)
    )
    assert patched.status_code == 404
    assert _stock(app, variant_id) == 8  # the order's 2, nothing from the API
    with app.app_context():
        assert db.session.get(Product, product.id).title == "Bravo thing"


def test_the_api_is_not_on_the_platform_host(app, client_for, store_a):
    secret = make_key(app, store_a)
    response = client_for(None).get("/api/v1/products", headers=bearer(secret))
    assert response.status_code == 404
    assert response.content_type == PROBLEM


def test_a_revoked_key_stops_working_at_once(app, api_a, store_a):
    from app.api.keys import revoke_key
    from tenants.models import Store

    client, secret = api_a
    assert client.get("/api/v1/products", headers=bearer(secret)).status_code == 200
    with app.app_context():
        revoke_key(db.session.get(Store, store_a.id), db.session.scalar(select(ApiKey)))
        db.session.commit()
    assert client.get("/api/v1/products", headers=bearer(secret)).status_code == 401


def test_a_missing_scope_is_403(app, client_for, store_a):
    secret = make_key(app, store_a, scopes=["products:read"])
    variant_id = make_variant(store_a)
    client = client_for(store_a)
    response = client.post(
        f"/api/v1/stock/{variant_id}/adjustments",
        json={"change": 5, "reason": "delivery"},
        headers=bearer(secret),
    )
    assert response.status_code == 403
    assert response.content_type == PROBLEM
    assert "stock:write" in response.get_json()["detail"]
    assert _stock(app, variant_id) == 10
    assert client.get("/api/v1/orders", headers=bearer(secret)).status_code == 403


def test_a_session_cookie_does_not_authenticate(app, client_for, store_a):
    from tests.conftest import sign_in_as
    from tests.web.order_helpers import owner_of

    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/products").status_code == 401


def test_last_used_is_recorded(app, api_a):
    client, secret = api_a
    client.get("/api/v1/products", headers=bearer(secret))
    with app.app_context():
        assert db.session.scalar(select(ApiKey)).last_used_at is not None


# Validation -----------------------------------------------------------------------------------


def test_bad_input_is_422_with_field_errors(app, api_a, store_a):
    client, secret = api_a
    response = client.post(
        "/api/v1/products",
        json={"title": "", "variants": [{"sku": "A", "price": -1}]},
        headers=bearer(secret),
    )
    assert response.status_code == 422
    assert response.content_type == PROBLEM
    fields = {(e["location"], e["field"]) for e in response.get_json()["errors"]}
    assert ("json", "title") in fields
    assert ("json", "variants.0.price") in fields
    assert _count(app, Product) == 0


@pytest.mark.backends(*BACKENDS)  # SKU uniqueness
def test_a_domain_refusal_names_its_field(app, api_a, store_a):
    make_product(store_a, "Taken", variants=None)
    client, secret = api_a
    with app.app_context():
        sku = db.session.scalar(select(Variant.sku))
    response = client.post(
        "/api/v1/products",
        json={"title": "Other", "variants": [{"sku": sku, "price": 100}]},
        headers=bearer(secret),
    )
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "sku"


def test_a_bad_cursor_is_422(api_a):
    client, secret = api_a
    response = client.get("/api/v1/products?cursor=nonsense", headers=bearer(secret))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "cursor"


# Products -------------------------------------------------------------------------------------


@pytest.mark.backends(*BACKENDS)  # cursor order, stock ledger, JSON details
def test_create_update_and_page_products(app, api_a, store_a):
    client, secret = api_a
    category = make_category(store_a, "Lamps")
    response = client.post(
        "/api/v1/products",
        json={
            "title": "Desk Lamp",
            "status": "active",
            "option_names": ["Colour"],
            "category_ids": [category.id],
            "tags": ["light"],
            "variants": [
                {"sku": "LAMP-R", "price": 4500, "options": ["Red"], "stock": 3},
                {"sku": "LAMP-B", "price": 4700, "options": ["Blue"]},
            ],
        },
        headers=bearer(secret),
    )
    assert response.status_code == 201, response.data
    product = response.get_json()
    assert [v["sku"] for v in product["variants"]] == ["LAMP-R", "LAMP-B"]
    assert product["variants"][0]["stock"] == 3
    assert product["categories"][0]["name"] == "Lamps"
    assert (product["min_price"], product["max_price"]) == (4500, 4700)
    with app.app_context():  # the opening stock went through the ledger
        assert db.session.scalar(select(func.sum(StockMovement.quantity))) == 3

    patched = client.patch(
        f"/api/v1/products/{product['id']}",
        json={"title": "Desk Lamp II", "status": "draft"},
        headers=bearer(secret),
    )
    assert patched.status_code == 200, patched.data
    assert patched.get_json()["title"] == "Desk Lamp II"
    assert patched.get_json()["categories"][0]["id"] == category.id

    variant_id = product["variants"][1]["id"]
    priced = client.patch(
        f"/api/v1/variants/{variant_id}",
        json={"price": 3999, "compare_at_price": 4999},
        headers=bearer(secret),
    )
    assert priced.status_code == 200, priced.data
    assert (priced.get_json()["price"], priced.get_json()["compare_at_price"]) == (3999, 4999)

    for n in range(3):
        make_product(store_a, f"Extra {n}")
    first = client.get("/api/v1/products?limit=2", headers=bearer(secret)).get_json()
    assert [p["title"] for p in first["data"]] == ["Extra 2", "Extra 1"]
    second = client.get(
        f"/api/v1/products?limit=2&cursor={first['next_cursor']}", headers=bearer(secret)
    ).get_json()
    assert [p["title"] for p in second["data"]] == ["Extra 0", "Desk Lamp II"]
    assert second["next_cursor"] is None
    drafts = client.get("/api/v1/products?status=draft", headers=bearer(secret)).get_json()
    assert [p["title"] for p in drafts["data"]] == ["Desk Lamp II"]
    with app.app_context():
        writes = db.session.scalars(select(AuditLog).where(AuditLog.action == "api.write")).all()
        assert len(writes) == 3
        assert {w.details["api_key"] for w in writes} == {"ERP"}


# Stock ----------------------------------------------------------------------------------------


@pytest.mark.backends(*BACKENDS)  # stock ledger
def test_adjust_stock_through_the_ledger(app, api_a, store_a):
    client, secret = api_a
    variant_id = make_variant(store_a)
    response = client.post(
        f"/api/v1/stock/{variant_id}/adjustments",
        json={"change": 5, "kind": "receive", "reason": "delivery"},
        headers=bearer(secret),
    )
    assert response.status_code == 201, response.data
    assert response.get_json() == {"variant_id": variant_id, "before": 10, "after": 15, "change": 5}
    below = client.post(
        f"/api/v1/stock/{variant_id}/adjustments",
        json={"change": -16, "reason": "damaged"},
        headers=bearer(secret),
    )
    assert below.status_code == 422
    assert below.get_json()["errors"][0]["field"] == "change"
    stale = client.post(
        f"/api/v1/stock/{variant_id}/adjustments",
        json={"set_to": 12, "expected_stock": 10, "reason": "count"},
        headers=bearer(secret),
    )
    assert stale.status_code == 409
    assert stale.content_type == PROBLEM
    stale_change = client.post(
        f"/api/v1/stock/{variant_id}/adjustments",
        json={"change": -1, "expected_stock": 10, "reason": "count"},
        headers=bearer(secret),
    )
    assert stale_change.status_code == 409
    counted = client.post(
        f"/api/v1/stock/{variant_id}/adjustments",
        json={"set_to": 12, "expected_stock": 15, "reason": "count"},
        headers=bearer(secret),
    )
    assert counted.status_code == 201
    assert _stock(app, variant_id) == 12
    movements = client.get(
        f"/api/v1/stock/{variant_id}/movements", headers=bearer(secret)
    ).get_json()["data"]
    assert [m["quantity"] for m in movements][:2] == [-3, 5]
    level = client.get(f"/api/v1/stock/{variant_id}", headers=bearer(secret)).get_json()
    assert level["stock"] == 12
    with app.app_context():  # the ledger's own audit entries name the key that made them
        adjusted = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "stock.adjusted")
        ).all()
        assert [entry.details["api_key"] for entry in adjusted] == ["ERP", "ERP"]


def test_the_audit_log_page_names_the_key(app, api_a, store_a):
    from tests.conftest import sign_in_as
    from tests.web.order_helpers import owner_of

    client, secret = api_a
    variant_id = make_variant(store_a)
    client.post(
        f"/api/v1/stock/{variant_id}/adjustments",
        json={"change": 2, "reason": "found two"},
        headers=bearer(secret),
    )
    sign_in_as(client, owner_of(app, store_a))
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "API key “ERP”" in page and "Change through the API" in page


@pytest.mark.backends(*BACKENDS)  # idempotency on a unique key
def test_an_idempotent_replay_changes_nothing(app, api_a, store_a):
    client, secret = api_a
    variant_id = make_variant(store_a)
    headers = bearer(secret, **{"Idempotency-Key": "adj-1"})
    body = {"change": 5, "reason": "delivery"}
    first = client.post(f"/api/v1/stock/{variant_id}/adjustments", json=body, headers=headers)
    again = client.post(f"/api/v1/stock/{variant_id}/adjustments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _stock(app, variant_id) == 15
    other = client.post(
        f"/api/v1/stock/{variant_id}/adjustments", json={**body, "change": 6}, headers=headers
    )
    assert other.status_code == 422
    assert _stock(app, variant_id) == 15
    assert _count(app, ApiIdempotencyKey) == 1


# Orders and coupons ---------------------------------------------------------------------------


@pytest.mark.backends(*BACKENDS)  # filtered in SQL, fulfilment writes
def test_orders_read_and_fulfil(app, api_a, store_a):
    from app.orders import states

    client, secret = api_a
    variant_id = make_variant(store_a)
    paid = make_order(app, store_a, variant_id, status=states.PAID)
    make_order(app, store_a, variant_id)
    listed = client.get("/api/v1/orders?payment=paid", headers=bearer(secret)).get_json()
    assert [o["id"] for o in listed["data"]] == [paid["id"]]
    order = listed["data"][0]
    assert order["lines"][0]["quantity"] == 2
    assert order["payments"][0]["amount"] == paid["total"]
    assert order["payment_state"] == "paid" and order["fulfilment_state"] == "unfulfilled"
    assert [e["to_status"] for e in order["timeline"]][-1] == "paid"

    early = client.post(f"/api/v1/orders/{paid['id']}/deliver", headers=bearer(secret))
    assert early.status_code == 409
    shipped = client.post(
        f"/api/v1/orders/{paid['id']}/ship",
        json={"carrier": "DHL", "tracking_number": "JD0001"},
        headers=bearer(secret),
    )
    assert shipped.status_code == 200, shipped.data
    assert shipped.get_json()["status"] == "fulfilled"
    assert shipped.get_json()["fulfilment_state"] == "shipped"
    delivered = client.post(f"/api/v1/orders/{paid['id']}/deliver", headers=bearer(secret))
    assert delivered.status_code == 200
    assert delivered.get_json()["fulfilment_state"] == "delivered"
    with app.app_context():
        assert db.session.get(Order, paid["id"]).status == "delivered"


@pytest.mark.backends(*BACKENDS)  # case-insensitive code uniqueness
def test_coupons_create_list_update(app, api_a):
    client, secret = api_a
    made = client.post(
        "/api/v1/coupons",
        json={"code": "summer-10", "kind": "percent", "value": 10, "ends_on": "2030-01-31"},
        headers=bearer(secret),
    )
    assert made.status_code == 201, made.data
    coupon = made.get_json()
    assert (coupon["code"], coupon["ends_on"]) == ("SUMMER-10", "2030-01-31")
    dup = client.post(
        "/api/v1/coupons",
        json={"code": "SUMMER-10", "kind": "percent", "value": 5},
        headers=bearer(secret),
    )
    assert dup.status_code == 422 and dup.get_json()["errors"][0]["field"] == "code"
    fixed = client.patch(
        f"/api/v1/coupons/{coupon['id']}",
        json={"kind": "fixed", "value": 500, "active": False},
        headers=bearer(secret),
    )
    assert fixed.status_code == 200, fixed.data
    assert (fixed.get_json()["kind"], fixed.get_json()["value"]) == ("fixed", 500)
    assert fixed.get_json()["ends_on"] == "2030-01-31"
    inactive = client.get("/api/v1/coupons?active=false", headers=bearer(secret)).get_json()
    assert [c["code"] for c in inactive["data"]] == ["SUMMER-10"]


# Rate limit and document ----------------------------------------------------------------------


def test_rate_limit_per_key_with_retry_after(app, client_for, store_a):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    client = client_for(store_a)
    secret = make_key(app, store_a)
    other = make_key(app, store_a, name="Other")
    codes = [client.get("/api/v1/coupons", headers=bearer(secret)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/coupons", headers=bearer(secret))
    assert limited.content_type == PROBLEM
    assert int(limited.headers["Retry-After"]) >= 1
    assert client.get("/api/v1/coupons", headers=bearer(other)).status_code == 200


def test_the_openapi_document(client_for, store_a):
    response = client_for(store_a).get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    assert "/api/v1/stock/{variant_id}/adjustments" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    error = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert "application/problem+json" in error


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_the_docs_page_uses_our_own_files(client_for, store_a):
    response = client_for(store_a).get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "vendor/swagger-ui-bundle.js" in page and "js/api-docs.js" in page
    assert "<script>" not in page and "https://" not in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.backends(*BACKENDS)  # query count
def test_lists_run_the_same_queries_for_few_and_many_rows(app, api_a, store_a):
    from sqlalchemy import event

    from tests.factories import make_image

    client, secret = api_a

    def count_queries(path: str) -> int:
        statements = []

        def on_execute(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            assert client.get(path, headers=bearer(secret)).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
        return len(statements)

    def add_rows(count: int):
        for n in range(count):
            product = make_product(store_a, f"Row {count}-{n}")
            make_image(product)
            make_order(app, store_a, product.variants[0].id, quantity=1, status="paid")

    paths = ("/api/v1/products", "/api/v1/orders", "/api/v1/stock", "/api/v1/coupons")
    add_rows(2)
    count_queries(paths[0])  # the key's first use writes its last-used time
    few = {path: count_queries(path) for path in paths}
    add_rows(10)
    assert {path: count_queries(path) for path in paths} == few
    assert max(few.values()) <= 8, few


def test_images_list_the_urls_of_their_processed_sizes(app, api_a, store_a):
    from tests.factories import make_image

    client, secret = api_a
    product = make_product(store_a, "Pictured")
    make_image(product, alt="Front")
    body = client.get(f"/api/v1/products/{product.id}", headers=bearer(secret)).get_json()
    image = body["images"][0]
    assert image["status"] == "ready" and image["alt"] == "Front"
    assert set(image["urls"]) == {"thumb", "medium", "large"}
    assert image["urls"]["thumb"].endswith("/thumb.webp")


@pytest.mark.backends(*BACKENDS)  # date comparison in SQL
def test_idempotency_records_are_pruned_after_a_day(app, api_a, store_a):
    from datetime import timedelta

    from app.database import utcnow
    from jobs.maintenance import prune_api_idempotency_keys_job

    client, secret = api_a
    variant_id = make_variant(store_a)
    headers = bearer(secret, **{"Idempotency-Key": "old"})
    body = {"change": 1, "reason": "found"}
    client.post(f"/api/v1/stock/{variant_id}/adjustments", json=body, headers=headers)
    with app.app_context():
        assert prune_api_idempotency_keys_job() == 0  # still fresh
        row = db.session.scalar(select(ApiIdempotencyKey))
        row.created_at = utcnow() - timedelta(days=1, minutes=1)
        db.session.commit()
        assert prune_api_idempotency_keys_job() == 1
    again = client.post(f"/api/v1/stock/{variant_id}/adjustments", json=body, headers=headers)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert _stock(app, variant_id) == 12


@pytest.mark.backends(*BACKENDS)  # held stock summed in SQL
def test_stock_levels_show_what_live_holds_keep(app, api_a, store_a):
    """Issue 20: the API's available is on hand minus shoppers' live holds (not movements)."""
    from tests.services.test_stock_holds import hold, make_cart

    client, secret = api_a
    variant_id = make_variant(store_a)  # 10 on hand
    hold(app, store_a, make_cart(app, store_a, [(variant_id, 3)]))
    one = client.get(f"/api/v1/stock/{variant_id}", headers=bearer(secret)).get_json()
    assert (one["stock"], one["held"], one["available"]) == (10, 3, 7)
    listed = client.get(f"/api/v1/stock?product_id={one['product_id']}", headers=bearer(secret))
    assert [(v["held"], v["available"]) for v in listed.get_json()["data"]] == [(3, 7)]
    assert _count(app, StockMovement, StockMovement.variant_id == variant_id) == 1
