"""The dashboard's home: sales figures, the 30-day chart, low stock and the live latest orders."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.orders.models import Order
from app.reports import sales
from tenants.models import Store
from tests.conftest import sign_in_as
from tests.factories import make_store
from tests.services.test_browse import count_queries
from tests.web.order_helpers import make_order, make_variant, owner_of

HTMX = {"HX-Request": "true"}
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def store_row(app, store):
    with app.app_context():
        row = db.session.get(Store, store.id)
        db.session.expunge(row)
        return row


def test_sums_count_paid_orders_net_of_refunds_and_nothing_else(app, store_a, store_b):
    from app.orders import fulfilment

    lamp = make_variant(store_a, "LAMP", 1000, stock=50)
    make_order(app, store_a, lamp, quantity=2, status="paid", now=NOW - timedelta(hours=1))
    make_order(app, store_a, lamp, quantity=1, status="fulfilled", now=NOW - timedelta(days=3))
    make_order(app, store_a, lamp, quantity=5, status="pending_payment", now=NOW)
    make_order(app, store_a, lamp, quantity=4, status="cancelled", now=NOW)
    refunded = make_order(app, store_a, lamp, quantity=3, status="paid", now=NOW)
    with app.app_context():
        order = db.session.get(Order, refunded["id"])
        fulfilment.refund(order, None, amount=1000)  # 3,000 paid, 1,000 back
    other = make_variant(store_b, "CUP", 9999, stock=5)
    make_order(app, store_b, other, quantity=1, status="paid", now=NOW)
    with app.app_context():
        store = db.session.get(Store, store_a.id)
        series = sales.daily_sales(store, NOW)
        summary = sales.sales_summary(store, NOW, series)
    assert len(series) == 30 and series[-1].day.isoformat() == "2026-11-23"
    assert summary.today == 2000 + 2000 and summary.today_orders == 2
    assert summary.month == 2000 + 1000 + 2000 and summary.month_orders == 3
    assert summary.average == 1667
    assert sum(d.total for d in series) == 5000


def test_days_follow_the_stores_time_zone(app):
    store = make_store("tokyo", "Tokyo Shop", timezone="Asia/Tokyo", currency="JPY")
    cup = make_variant(store, "CUP", 500, stock=10)
    # 23:30 UTC on the 22nd is 08:30 on the 23rd in Tokyo.
    make_order(
        app, store, cup, quantity=1, status="paid", now=datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    )
    with app.app_context():
        series = sales.daily_sales(db.session.get(Store, store.id), NOW)
    by_day = {d.day.isoformat(): d.total for d in series}
    assert by_day["2026-11-23"] == 500 and by_day["2026-11-22"] == 0


def test_the_chart_has_a_bar_per_day_and_round_gridlines():
    days = [sales.Day(datetime(2026, 11, d, tzinfo=UTC).date(), d * 130, 1) for d in range(1, 31)]
    chart = sales.bar_chart(days)
    assert len(chart.bars) == 30 and chart.top == 5000
    assert [value for _, value in chart.gridlines] == [0, 1250, 2500, 3750, 5000]
    assert chart.bars[-1].height > chart.bars[0].height > 0
    assert sales.bar_chart([sales.Day(d.day, 0, 0) for d in days]).top == 1  # no sales


@pytest.mark.backends("sqlite")  # markup
def test_the_home_page_shows_figures_chart_low_stock_and_latest_orders(app, client_for, store_a):
    lamp = make_variant(store_a, "LAMP", 1000, stock=4)
    make_order(app, store_a, lamp, quantity=1, status="paid")
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    page = client.get("/admin/")
    assert page.status_code == 200
    assert page.text.count('class="sales-chart__bar') == 30
    assert 'role="img"' in page.text and "style=" not in page.text.split("<main", 1)[1]
    assert (
        '<title id="sales-chart-title">' in page.text
        and '<desc id="sales-chart-desc">' in page.text
    )
    assert 'aria-labelledby="sales-chart-title sales-chart-desc"' in page.text
    assert "<script" not in page.text.split("<main", 1)[1]
    assert "Sales today" in page.text and "$10.00" in page.text
    assert "Lamp LAMP" in page.text and "3 left" in page.text  # low stock
    assert 'hx-trigger="sse:orders, every 10s"' in page.text and "#1001" in page.text


def test_the_latest_orders_fragment_is_newest_first_and_this_stores_only(
    app, client_for, store_a, store_b
):
    lamp = make_variant(store_a, "LAMP", 1000, stock=20)
    make_order(app, store_a, lamp, status="paid", now=NOW - timedelta(days=1))
    make_order(app, store_a, lamp, status="pending_payment", now=NOW)
    make_order(app, store_b, make_variant(store_b, "CUP", 500), email="theirs@example.com")
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    fragment = client.get("/admin/latest-orders", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<div id="latest-orders"')
    assert fragment.text.index("#1002") < fragment.text.index("#1001")
    assert "theirs@example.com" not in fragment.text


def test_the_home_page_runs_the_same_queries_for_few_and_many_orders(app, client_for, store_a):
    lamp = make_variant(store_a, "LAMP", 1000, stock=200)
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    counts = []
    for n in range(1, 31):
        make_order(app, store_a, lamp, quantity=1, status="paid", now=NOW - timedelta(days=n % 28))
        if n in (3, 30):
            with app.app_context(), count_queries() as counter:
                assert client.get("/admin/").status_code == 200
            counts.append(counter.count)
    assert counts[0] == counts[1] <= 14, counts


def test_demo_orders_seed_once(app, store_a):
    from app.orders.demo import seed_store_orders

    make_variant(store_a, "LAMP", 1000, stock=500)
    with app.app_context():
        store = db.session.get(Store, store_a.id)
        placed = seed_store_orders(store, count=12)
        assert placed == 12
        assert seed_store_orders(store, count=12) == 0
        paid = db.session.scalars(select(Order.status).where(Order.status == "paid")).all()
        assert len(paid) >= 8
        assert sum(d.orders for d in sales.daily_sales(store, datetime.now(UTC))) == len(paid)


def test_low_stock_follows_each_variants_threshold_and_links_to_its_ledger(
    app, client_for, store_a
):
    from app.catalog.models import Variant

    default = make_variant(store_a, "DEFAULT", 1000, stock=5)  # the default threshold, 5
    above = make_variant(store_a, "ABOVE", 1000, stock=6)
    own = make_variant(store_a, "OWN", 1000, stock=15)
    quiet = make_variant(store_a, "QUIET", 1000, stock=3)
    untracked = make_variant(store_a, "LOOSE", 1000, stock=0)
    with app.app_context():
        db.session.get(Variant, own).low_stock_threshold = 20
        db.session.get(Variant, quiet).low_stock_threshold = 0
        db.session.get(Variant, untracked).track_inventory = False
        db.session.commit()
        rows = sales.low_stock(db.session.get(Store, store_a.id))
        assert [(v.sku, threshold) for v, _, _, threshold in rows] == [
            ("DEFAULT", 5),
            ("OWN", 20),
        ]
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    page = client.get("/admin/").text
    assert f'href="/admin/variants/{default}/stock"' in page
    assert f'href="/admin/variants/{own}/stock"' in page and "alert at 20" in page
    assert f'/admin/variants/{above}/stock"' not in page


def test_an_empty_store_s_chart_has_only_its_zero_line():
    days = [sales.Day(datetime(2026, 11, d, tzinfo=UTC).date(), 0, 0) for d in range(1, 31)]
    chart = sales.bar_chart(days)
    assert [value for _, value in chart.gridlines] == [0]
    tiny = sales.bar_chart([*days[:-1], sales.Day(days[-1].day, 3, 1)])
    values = [value for _, value in tiny.gridlines]
    assert values == sorted(set(values)) and values[0] == 0 and values[-1] == tiny.top


@pytest.mark.backends("sqlite")  # markup
def test_an_empty_store_s_home_page_shows_no_axis_of_zeros(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    page = client.get("/admin/").text
    axis = re.findall(r'<text class="sales-chart__axis" x="58"[^>]*>([^<]*)</text>', page)
    assert axis == ["$0.00"]
