"""The dashboard's orders list and order page: filters, search, pages, queries, tenancy."""

from datetime import timedelta

import pytest
from sqlalchemy import event

from app.database import utcnow
from app.extensions import db
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import make_store
from tests.web.order_helpers import make_order, make_variant, order_row, owner_of


@pytest.fixture
def lamp(app, store_a):
    return make_variant(store_a, "LAMP", 4500, stock=500)


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


def numbers_in(body: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r'<tr id="order-(\d+)"', body)]


def test_the_list_shows_orders_newest_first(app, owner_client, store_a, lamp):
    first = make_order(app, store_a, lamp, email="ann@example.com", name="Ann Apple")
    second = make_order(app, store_a, lamp, status="paid", email="bob@example.com", name="Bob")
    body = owner_client.get("/admin/orders/").get_data(as_text=True)
    assert numbers_in(body) == [second["number"], first["number"]]
    assert "Ann Apple" in body and "bob@example.com" in body and "$90.00" in body
    assert "Pending payment" in body and "Unpaid" in body


def test_filters_by_status_payment_and_date(app, owner_client, store_a, lamp):
    now = utcnow()
    old = make_order(app, store_a, lamp, now=now - timedelta(days=40))
    paid = make_order(app, store_a, lamp, status="paid")
    shipped = make_order(app, store_a, lamp, status="fulfilled")
    refunded = make_order(app, store_a, lamp, status="paid")
    with app.app_context():
        from app.orders import fulfilment
        from app.orders.models import Order

        fulfilment.refund(db.session.get(Order, refunded["id"]), None, amount=100)
        db.session.remove()

    def listed(query: str) -> set[int]:
        response = owner_client.get(f"/admin/orders/?{query}")
        assert response.status_code == 200
        return set(numbers_in(response.get_data(as_text=True)))

    assert listed("status=paid") == {paid["number"]}
    assert listed("status=fulfilled") == {shipped["number"]}
    assert listed("payment=unpaid") == {old["number"]}
    assert listed("payment=paid") == {paid["number"], shipped["number"]}
    assert listed("payment=refunded") == {refunded["number"]}
    today = now.date().isoformat()
    recent = {paid["number"], shipped["number"], refunded["number"]}
    assert listed(f"from={(now - timedelta(days=2)).date().isoformat()}") == recent
    assert listed(f"to={(now - timedelta(days=30)).date().isoformat()}") == {old["number"]}
    assert listed(f"from={today}&to={today}&payment=paid") == {paid["number"], shipped["number"]}
    assert listed("status=nonsense&payment=<script>") == recent | {old["number"]}
    bad = owner_client.get("/admin/orders/?from=31/12/2025").get_data(as_text=True)
    assert "must look like 2026-01-31" in bad and len(numbers_in(bad)) == 4


def test_fulfilment_has_its_own_column_and_filter(app, owner_client, store_a, lamp):
    from app.orders import fulfilment
    from app.orders.models import Order

    unpaid = make_order(app, store_a, lamp)
    to_ship = make_order(app, store_a, lamp, status="paid")
    shipped = make_order(app, store_a, lamp, status="fulfilled")
    delivered = make_order(app, store_a, lamp, status="delivered")
    cancelled = make_order(app, store_a, lamp, status="cancelled")
    # Shipped, then partly refunded: the status says "partially refunded", the goods went out.
    refunded_after = make_order(app, store_a, lamp, status="fulfilled")
    with app.app_context():
        fulfilment.refund(db.session.get(Order, refunded_after["id"]), None, amount=100)
        db.session.remove()

    body = owner_client.get("/admin/orders/").get_data(as_text=True)
    assert '<th scope="col">Fulfilment</th>' in body

    def cell(number: int) -> str:
        import re

        row = re.search(rf'<tr id="order-{number}">(.*?)</tr>', body, re.S).group(1)
        return re.search(r'badge--fulfil-(\w+)">([^<]+)<', row).groups()

    assert cell(unpaid["number"]) == ("unfulfilled", "Unfulfilled")
    assert cell(to_ship["number"]) == ("unfulfilled", "Unfulfilled")
    assert cell(shipped["number"]) == ("shipped", "Shipped")
    assert cell(delivered["number"]) == ("delivered", "Delivered")
    assert cell(cancelled["number"]) == ("closed", "Not shipped")
    assert cell(refunded_after["number"]) == ("shipped", "Shipped")

    def listed(query: str) -> set[int]:
        response = owner_client.get(f"/admin/orders/?{query}")
        assert response.status_code == 200
        return set(numbers_in(response.get_data(as_text=True)))

    assert listed("fulfilment=unfulfilled") == {unpaid["number"], to_ship["number"]}
    assert listed("fulfilment=unfulfilled&payment=paid") == {to_ship["number"]}
    assert listed("fulfilment=shipped") == {shipped["number"], refunded_after["number"]}
    assert listed("fulfilment=delivered") == {delivered["number"]}
    assert listed("fulfilment=closed") == {cancelled["number"]}
    assert len(listed("fulfilment=<script>")) == 6  # unknown: every order
    paged = owner_client.get("/admin/orders/?fulfilment=shipped").get_data(as_text=True)
    assert '<option value="shipped" selected>Shipped</option>' in paged


def test_search_by_number_email_and_name(app, owner_client, store_a, lamp):
    ann = make_order(app, store_a, lamp, email="ann@example.com", name="Ann Apple")
    bob = make_order(app, store_a, lamp, email="bob@shop.example.org", name="Robert Brown")

    def found(q: str) -> list[int]:
        return numbers_in(owner_client.get("/admin/orders/", query_string={"q": q}).get_data(True))

    assert found(str(ann["number"])) == [ann["number"]]
    assert found(f"#{bob['number']}") == [bob["number"]]
    assert found("shop.example") == [bob["number"]]
    assert found("ANN@") == [ann["number"]]
    assert found("robert br") == [bob["number"]]
    assert found("nobody") == [] and found("%") == [] and found("_") == []
    assert found("99999999999999") == []


def test_pages_of_25_and_bad_page_numbers_clamp(app, owner_client, store_a, lamp):
    for _ in range(27):
        make_order(app, store_a, lamp, quantity=1)
    first = owner_client.get("/admin/orders/").get_data(as_text=True)
    assert len(numbers_in(first)) == 25 and "1–25 of 27 orders" in first
    assert 'href="/admin/orders/?page=2"' in first
    second = owner_client.get("/admin/orders/?page=2").get_data(as_text=True)
    assert numbers_in(second) == [1002, 1001]
    past = owner_client.get("/admin/orders/?page=999").get_data(as_text=True)
    assert numbers_in(past) == [1002, 1001] and "There is no page 999" in past
    for junk in ("abc", "-3", "0", "1e9", ""):
        response = owner_client.get(f"/admin/orders/?page={junk}")
        assert response.status_code == 200 and len(numbers_in(response.get_data(True))) == 25


def test_the_list_issues_the_same_number_of_queries_for_3_or_25_orders(
    app, owner_client, store_a, lamp
):
    def count_queries() -> int:
        statements = []

        def on_execute(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            assert owner_client.get("/admin/orders/").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
        return len(statements)

    for _ in range(3):
        make_order(app, store_a, lamp, quantity=1, status="paid")
    few = count_queries()
    for _ in range(25):
        make_order(app, store_a, lamp, quantity=1)
    assert count_queries() == few <= 8


@pytest.mark.backends("sqlite")  # an htmx fragment and Vary
def test_htmx_filters_get_only_the_results(app, owner_client, store_a, lamp):
    make_order(app, store_a, lamp)
    fragment = owner_client.get("/admin/orders/?status=paid", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert body.strip().startswith('<div id="order-results"') and "<html" not in body
    assert "No orders match" in body
    assert "HX-Request" in fragment.headers["Vary"]
    full = owner_client.get("/admin/orders/?status=paid").get_data(as_text=True)
    assert "<html" in full and 'hx-push-url="true"' in full and 'id="order-results"' in full


@pytest.mark.backends("sqlite")  # markup
def test_the_order_page_shows_lines_totals_payments_addresses_and_history(
    app, owner_client, store_a, lamp
):
    order = make_order(app, store_a, lamp, status="fulfilled", name="Ann <b>Apple</b>")
    body = owner_client.get(f"/admin/orders/{order['number']}").get_data(as_text=True)
    assert f"Order #{order['number']}" in body
    assert "Lamp LAMP" in body and "<code>LAMP</code>" in body
    assert "$45.00" in body and "$90.00" in body
    assert "Ann &lt;b&gt;Apple&lt;/b&gt;" in body and "San Francisco" in body
    assert "Same as shipping." in body
    assert "Pending payment" in body and "Fulfilled" in body and "Order placed" in body
    assert f"pay-{order['id']}" in body  # the charge's reference
    assert "Mark delivered" in body and "Refund</button>" in body
    assert "Cancel order" not in body  # a shipped order can't be cancelled


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_packing_slip_and_invoice_are_plain_printable_pages(app, owner_client, store_a, lamp):
    order = make_order(app, store_a, lamp, status="paid")
    slip = owner_client.get(f"/admin/orders/{order['number']}/packing-slip")
    invoice = owner_client.get(f"/admin/orders/{order['number']}/invoice")
    for response in (slip, invoice):
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "print-docs.css" in body and "admin__nav" not in body and "site-header" not in body
        assert "Sam Shopper" in body and "LAMP" in body
    assert "Packing slip" in slip.get_data(as_text=True)
    assert "$45.00" not in slip.get_data(as_text=True)  # no prices in the box
    assert "$90.00" in invoice.get_data(as_text=True)


ORDER_ROUTES = [
    ("GET", ""),
    ("GET", "/packing-slip"),
    ("GET", "/invoice"),
    ("POST", "/mark-paid"),
    ("POST", "/ship"),
    ("POST", "/deliver"),
    ("POST", "/cancel"),
    ("POST", "/refund"),
]


@pytest.mark.parametrize("method, suffix", ORDER_ROUTES)
def test_another_stores_order_number_is_404_everywhere(app, owner_client, store_a, method, suffix):
    store_b = make_store("bravo", "Bravo Supply", currency="EUR")
    theirs = make_order(app, store_b, make_variant(store_b, "BRAVO", 1000), status="paid")
    before = order_row(app, theirs)
    data = {"carrier": "DHL", "tracking_number": "1", "amount": "1.00"}
    response = owner_client.open(
        f"/admin/orders/{theirs['number']}{suffix}", method=method, data=data
    )
    assert response.status_code == 404
    assert order_row(app, theirs) == before


def _tampered_number_is_404(app, owner_client, store_a, lamp, number, suffix):
    make_order(app, store_a, lamp, status="paid")
    method = "POST" if suffix == "/refund" else "GET"
    response = owner_client.open(f"/admin/orders/{number}{suffix}", method=method)
    assert response.status_code == 404


@pytest.mark.backends("sqlite")  # the URL's converter and a lookup that finds nothing
@pytest.mark.parametrize("number", ["abc", "-1", "0", "1001x", "%231001", "1e3"])
@pytest.mark.parametrize("suffix", ["", "/invoice", "/refund"])
def test_tampered_order_numbers_are_404(app, owner_client, store_a, lamp, number, suffix):
    _tampered_number_is_404(app, owner_client, store_a, lamp, number, suffix)


@pytest.mark.backends(*BACKENDS)  # past the integer column's range: PostgreSQL refuses the value
@pytest.mark.parametrize("suffix", ["", "/invoice", "/refund"])
def test_an_order_number_past_the_columns_range_is_404(app, owner_client, store_a, lamp, suffix):
    _tampered_number_is_404(app, owner_client, store_a, lamp, "99999999999", suffix)
