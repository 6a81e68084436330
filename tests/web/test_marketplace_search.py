"""Cross-store search on the platform host: active products of active stores, linked to their hosts."""

from urllib.parse import quote_plus

import pytest

from app.catalog.service import VariantData
from app.extensions import db
from tenants.models import Store
from tenants.provisioning import set_store_status
from tests.conftest import PLATFORM
from tests.factories import make_image, make_product, make_store

HTMX = {"HX-Request": "true"}


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_platform_search_finds_products_of_every_active_store(app, client, store_a, store_b):
    alpha = make_product(store_a, "Lantern Brass", variants=[VariantData("LA", 1999, stock=1)])
    make_image(alpha, alt="Brass lantern")
    make_product(
        store_b,
        "Lantern Paper",
        option_names=["Size"],
        variants=[
            VariantData("LB-S", 1250, ["S"], stock=1),
            VariantData("LB-L", 2500, ["L"], stock=1),
        ],
    )
    make_product(store_b, "Lantern Draft", status="draft")
    closed = make_store("closed", "Closed Shop")
    make_product(closed, "Lantern Closed")
    with app.app_context():
        set_store_status(db.session.get(Store, closed.id), "suspended")
    html = html_of(client.get("/search?q=lantern"))
    assert f'href="http://alpha.{PLATFORM}/products/lantern-brass"' in html
    assert f'href="http://bravo.{PLATFORM}/products/lantern-paper"' in html
    assert "Alpha Goods" in html and "Bravo Supply" in html
    assert "$19.99" in html  # Alpha prices in USD, en_US
    # Bravo's EUR reads the way the page's language writes it (app/i18n.py): English here.
    assert "€12.50" in html
    german = html_of(client.get("/search?q=lantern", headers={"Accept-Language": "de"}))
    assert "12,50\xa0€" in german and "19,99\xa0$" in german
    assert "thumb.webp" in html and 'alt="Brass lantern"' in html
    assert "Lantern Draft" not in html and "Lantern Closed" not in html
    assert "2 products" in html


@pytest.mark.backends("sqlite")  # an htmx fragment and Vary
def test_platform_search_swaps_results_under_htmx(client, store_a):
    make_product(store_a, "Lantern Brass")
    response = client.get("/search?q=lantern", headers=HTMX)
    html = html_of(response)
    assert html.lstrip().startswith('<section id="results"') and "<html" not in html
    assert "Lantern Brass" in html and "HX-Request" in response.headers["Vary"]


@pytest.mark.backends("sqlite")  # markup
def test_platform_home_has_the_search_and_the_directory(client, store_a):
    html = html_of(client.get("/"))
    assert 'action="/search"' in html and "Stores" in html and "Alpha Goods" in html


@pytest.mark.backends("sqlite")  # messages
def test_empty_and_unmatched_queries(client, store_a):
    make_product(store_a, "Lantern Brass")
    assert "Type what you are looking for" in html_of(client.get("/search"))
    assert "Nothing matches “zzz”" in html_of(client.get("/search?q=zzz"))


@pytest.mark.parametrize(
    "query",
    ['"quoted"', "100%", "back\\slash", "<script>alert(1)</script>", "x" * 2000, "%00", "\xc0\x80"],
)
def test_hostile_queries_never_fail(client, store_a, query):
    make_product(store_a, "<script>alert(2)</script> Lantern")
    for headers in ({}, HTMX):
        response = client.get(f"/search?q={quote_plus(query)}&page=-1", headers=headers)
        assert response.status_code == 200
        assert "<script>" not in response.get_data(as_text=True).split("</head>")[-1]


def test_results_paginate_and_clamp(client, store_a):
    for n in range(26):
        make_product(store_a, f"Candle {n}")
    html = html_of(client.get("/search?q=candle&page=99"))
    assert "Page 2 of 2" in html and html.count('<li class="product-card') == 2


def test_store_search_stays_inside_the_store(client_for, store_a, store_b):
    make_product(store_b, "Lantern Paper")
    html = html_of(client_for(store_a).get("/search?q=lantern"))
    assert "Lantern Paper" not in html and "No products match" in html


def _open_many_stores(app, count):
    from datetime import timedelta

    from app.database import utcnow

    now = utcnow()
    with app.app_context():
        db.session.add_all(
            Store(
                slug=f"shop{n:02d}",
                name=f"Shop {n:02d}",
                currency="EUR" if n % 10 == 0 else "USD",
                published_at=now - timedelta(minutes=count - n),
            )
            for n in range(count)
        )
        db.session.commit()


def test_platform_home_shows_a_bounded_page_of_a_searchable_directory(app, client, store_a):
    _open_many_stores(app, 60)
    html = html_of(client.get("/"))
    directory = html.split('id="store-list"')[1]
    newest = html.split('id="new-stores"')[1].split('id="stores"')[0]
    assert directory.count('class="store-card"') == 24
    assert newest.count('class="store-card"') == 6 and "Shop 59" in newest
    assert html.count('class="store-card"') == 30  # of 61 open stores
    assert "1–24 of 61 open stores" in directory and "Page 1 of 3" in directory
    last = html_of(client.get("/?page=9"))  # past the end: the last page
    assert "Page 3 of 3" in last and "There is no page 9" in last
    assert last.split('id="store-list"')[1].count('class="store-card"') == 13
    found = html_of(client.get("/?q=shop+0", headers=HTMX))
    assert found.lstrip().startswith('<div id="store-list">') and "<html" not in found
    assert found.count('class="store-card"') == 10 and "Alpha Goods" not in found
    euro = html_of(client.get("/?currency=eur"))
    assert euro.split('id="store-list"')[1].count('class="store-card"') == 6
    assert 'id="new-stores"' not in euro and '<option value="EUR" selected>' in euro
    assert "No open store matches" in html_of(client.get("/?q=%25%25_nothing"))


@pytest.mark.backends("sqlite", "postgresql")
def test_platform_search_ranks_and_counts_a_bounded_number_of_matches(
    monkeypatch, app, client, store_a, store_b
):
    from app.catalog import browse

    monkeypatch.setattr(browse, "MARKET_CANDIDATES", 3)
    for n in range(4):
        make_product(store_a if n % 2 else store_b, f"Lantern {n}")
    html = html_of(client.get("/search?q=lantern"))
    assert "3+ products" in html
    assert html.count('class="product-card"') + html.count('class="product-card ') == 3
    # Past the last page of the candidates: the last page, never an error.
    assert "Lantern" in html_of(client.get("/search?q=lantern&page=99"))
