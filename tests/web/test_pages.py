"""The shared pager and the one way views answer htmx: fragments vary on HX-Request, a history
restore gets the whole page, and pager links keep the list's filters with and without htmx."""

import pytest

from app.pagination import page_url
from tests.conftest import BACKENDS, sign_in_as
from tests.web.order_helpers import make_order, make_variant, owner_of
from tests.web.test_order_status import link_for

pytestmark = pytest.mark.backends("sqlite")  # page links, htmx, Vary headers: HTTP, not SQL

HTMX = {"HX-Request": "true"}
RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


def test_page_links_keep_filters_and_leave_page_one_bare(app):
    with app.test_request_context("/"):
        assert page_url("/products/", {"sort": "price-asc", "q": "", "page": "7"}, 2) == (
            "/products/?sort=price-asc&page=2"
        )
        assert page_url("/products/", {"sort": "price-asc"}, 1) == "/products/?sort=price-asc"
        assert page_url("/products/", {}, 1) == "/products/"
        assert page_url("search", {"q": "lamp", "x": None}, 3) == "/search?q=lamp&page=3"


@pytest.mark.backends(*BACKENDS)  # pagination counted and windowed in SQL
def test_the_pager_keeps_filters_and_htmx_gets_the_results_with_vary(app, owner_client, store_a):
    lamp = make_variant(store_a, "LAMP", 4500, stock=500)
    for _ in range(27):
        make_order(app, store_a, lamp, quantity=1)
    full = owner_client.get("/admin/orders/?status=pending_payment")
    assert "<html" in full.text and "HX-Request" in full.headers["Vary"]
    next_link = "/admin/orders/?status=pending_payment&amp;page=2"
    assert f'rel="next" href="{next_link}" hx-get="{next_link}"' in full.text
    assert 'hx-target="#order-results"' in full.text and "1–25 of 27 orders" in full.text
    second = owner_client.get("/admin/orders/?status=pending_payment&page=2", headers=HTMX)
    assert second.text.lstrip().startswith('<div id="order-results"')
    assert "<html" not in second.text and "HX-Request" in second.headers["Vary"]
    assert "26–27 of 27 orders" in second.text and "Page 2 of 2" in second.text
    assert 'rel="prev" href="/admin/orders/?status=pending_payment"' in second.text
    restored = owner_client.get("/admin/orders/?status=pending_payment&page=2", headers=RESTORE)
    assert "<html" in restored.text and "HX-Request" in restored.headers["Vary"]


def test_a_separate_partial_for_htmx_and_the_page_otherwise_both_vary(app, client_for, store_a):
    lamp = make_variant(store_a, "LAMP", 4500, stock=500)
    order = make_order(app, store_a, lamp)
    client = client_for(store_a)
    link = link_for(app, store_a, order["number"])
    partial = client.get(link, headers=HTMX)
    assert partial.text.lstrip().startswith('<section id="order-status"')
    assert "HX-Request" in partial.headers["Vary"]
    for headers in ({}, RESTORE):
        page = client.get(link, headers=headers)
        assert "<html" in page.text and 'id="order-status"' in page.text
        assert "HX-Request" in page.headers["Vary"]


@pytest.mark.parametrize("raw", ["abc", "0", "-4", "1e9", "99999999999999999999", "", "2%2C5"])
def test_junk_page_numbers_show_a_real_page_with_and_without_htmx(owner_client, raw):
    for headers in ({}, HTMX):
        response = owner_client.get(f"/admin/orders/?page={raw}", headers=headers)
        assert response.status_code == 200 and "0 orders" in response.text
