"""The console's search box: stores, users and orders of every store, for platform admins only."""

import pytest

from tests.accounts_helpers import sign_in_with_factor
from tests.conftest import sign_in_as
from tests.factories import make_user
from tests.services.test_browse import count_queries
from tests.web.order_helpers import make_order, make_variant, owner_of


@pytest.fixture
def admin(client_for):
    client = client_for(None)
    sign_in_with_factor(client, make_user("root@example.com", superuser=True))
    return client


@pytest.mark.backends("sqlite")  # markup
def test_the_box_is_in_the_consoles_shell(admin):
    page = admin.get("/console/").text
    assert 'action="/console/search"' in page and 'for="console-search-q"' in page
    empty = admin.get("/console/search")
    assert empty.status_code == 200 and "Type into the search box." in empty.text


def test_stores_users_and_orders_by_number_and_email(app, admin, store_a, store_b):
    alpha_lamp = make_variant(store_a, "LAMP", 1000, stock=50)
    bravo_lamp = make_variant(store_b, "BRAVO-LAMP", 1000, stock=50)
    first_a = make_order(app, store_a, alpha_lamp, email="Kim.Buyer@example.com")
    first_b = make_order(app, store_b, bravo_lamp, email="lee@example.com")
    make_user("kim.buyer@example.com", name="Kim Buyer")

    stores = admin.get(f"/console/search?q={store_a.slug}").text
    assert f'href="/console/stores/{store_a.id}"' in stores
    assert f'href="/console/stores/{store_b.id}"' not in stores

    people = admin.get("/console/search?q=kim.buyer").text
    assert "kim.buyer@example.com" in people and 'href="/console/users/' in people

    # A number finds that number in every store; "slug#number" in one.
    both = admin.get(f"/console/search?q=%23{first_a['number']}").text
    assert f"{store_a.slug} #{first_a['number']}" in both
    assert f"{store_b.slug} #{first_b['number']}" in both  # both stores start at the same number
    assert f"http://{store_a.slug}." in both and f"/admin/orders/{first_a['number']}" in both
    one = admin.get(f"/console/search?q={store_b.slug}%23{first_b['number']}").text
    assert f"{store_b.slug} #{first_b['number']}" in one
    assert f"{store_a.slug} #{first_a['number']}" not in one

    # The full email, whatever its letter case; part of one finds no order.
    by_email = admin.get("/console/search?q=KIM.BUYER@example.com").text
    assert f"{store_a.slug} #{first_a['number']}" in by_email
    assert "lee@example.com" not in by_email
    partial = admin.get("/console/search?q=kim.buy").text
    assert "No orders match (orders are found by number or full email)." in partial


@pytest.mark.parametrize(
    "q", ["%", "_", "' OR 1=1 --", "<script>alert(1)</script>", "9" * 40, "x" * 500, "%00"]
)
def test_hostile_searches_answer_calmly(admin, q):
    response = admin.get("/console/search", query_string={"q": q})
    assert response.status_code in (200, 400)
    assert "<script>alert(1)</script>" not in response.text


@pytest.mark.backends("sqlite")  # who may search
def test_only_platform_admins_may_search(app, client_for, store_a):
    owner = client_for(None)
    sign_in_as(owner, owner_of(app, store_a))
    assert owner.get("/console/search?q=alpha").status_code == 404
    # On a store's host the console doesn't exist at all.
    on_store = client_for(store_a)
    sign_in_with_factor(on_store, make_user("root2@example.com", superuser=True))
    assert on_store.get("/console/search?q=alpha").status_code == 404
    assert client_for(None).get("/console/search?q=alpha").status_code == 302


def test_a_search_runs_a_fixed_number_of_queries(app, admin, store_a):
    lamp = make_variant(store_a, "LAMP", 1000, stock=100)
    counts = []
    for n in (2, 12):
        for _ in range(n):
            make_order(app, store_a, lamp, quantity=1, email="same@example.com")
        with app.app_context(), count_queries() as queries:
            page = admin.get("/console/search?q=same@example.com")
        assert page.status_code == 200 and "same@example.com" in page.text
        counts.append(queries.count)
    assert counts[0] == counts[1], counts
