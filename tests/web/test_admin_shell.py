"""The admin shell (layouts/admin.html): the dashboard and the console have a sidebar with their
sections and no storefront header; the store switcher lists only the member's own stores."""

import re

import pytest
from sqlalchemy import update

from app.database import utcnow
from app.extensions import db
from tenants.models import Store
from tests.accounts_helpers import sign_in_with_factor
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import add_member, make_product, make_store, make_user
from tests.web.order_helpers import make_order, make_variant, owner_of

pytestmark = pytest.mark.backends("sqlite")

STOREFRONT_CHROME = ('class="site-header"', "store-search", "site-nav__cart", "Cart (")


def switcher_links(html: str) -> list[str]:
    """The hrefs in the store switcher, or [] when the page has none."""
    found = re.search(r'<details class="store-switcher".*?</details>', html, re.S)
    return re.findall(r'href="([^"]+)"', found.group(0)) if found else []


def assert_admin_shell(html: str, name: str) -> None:
    assert 'class="shell__sidebar"' in html and 'id="main"' in html
    assert f'<span class="shell__brand-name" id="shell-store-name">{name}</span>' in html
    for chrome in STOREFRONT_CHROME:
        assert chrome not in html, chrome


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/products/",
        "/admin/products/{product}/edit",
        "/admin/products/{product}/variants",
        "/admin/categories/",
        "/admin/orders/",
        "/admin/orders/{order}",
        "/admin/variants/{variant}/stock",
        "/admin/staff",
        "/admin/settings",
        "/admin/coupons/",
        "/admin/stock-sync/",
        "/admin/jobs",
        "/admin/exports/",
        "/admin/payouts",
        "/admin/audit",
    ],
)
def test_dashboard_pages_have_the_sidebar_and_no_storefront_header(app, client_for, store_a, path):
    variant = make_variant(store_a, "LAMP", 1000, stock=5)
    order = make_order(app, store_a, variant, status="paid")
    product = make_product(store_a, "Desk", status="active")
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    url = path.format(product=product.id, order=order["number"], variant=variant)
    page = client.get(url)
    assert page.status_code == 200, url
    html = page.get_data(as_text=True)
    assert_admin_shell(html, "Alpha Goods")
    assert '<nav class="admin__nav shell__nav" aria-label="Dashboard">' in html
    assert "Your role: owner" in html
    assert 'for="shell-menu"' in html and "<script>" not in html  # the menu needs no script


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_the_console_has_its_own_sidebar_and_no_storefront_header(client_for):
    client = client_for(None)
    sign_in_with_factor(client, make_user("root@example.com", superuser=True))
    for path in ("/console/", "/console/stores/", "/console/users/", "/console/jobs"):
        html = client.get(path).get_data(as_text=True)
        assert 'class="shell__sidebar"' in html and "Pasar console" in html, path
        assert '<nav class="console-nav shell__nav" aria-label="Console">' in html
        for chrome in STOREFRONT_CHROME:
            assert chrome not in html, (path, chrome)


def test_one_store_has_no_switcher(app, client_for, store_a, store_b):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    html = client.get("/admin/").get_data(as_text=True)
    assert "store-switcher" not in html
    assert "Bravo Supply" not in html


@pytest.mark.backends(*BACKENDS)  # on PostgreSQL, memberships in other stores pass RLS
def test_the_switcher_lists_only_the_members_other_stores(app, client_for, store_a, store_b):
    """Owner of alpha and staff of gamma; bravo and a deleted store of theirs never appear."""
    owner = owner_of(app, store_a)
    gamma = make_store("gamma", "Gamma Tools")
    gone = make_store("gone", "Gone Store")
    add_member(gamma, owner, "staff")
    add_member(gone, owner, "manager")
    with app.app_context():
        db.session.execute(update(Store).where(Store.id == gone.id).values(deleted_at=utcnow()))
        db.session.commit()

    for store, here, other in ((store_a, "alpha", "gamma"), (gamma, "gamma", "alpha")):
        client = client_for(store)
        sign_in_as(client, owner)
        html = client.get("/admin/").get_data(as_text=True)
        links = switcher_links(html)
        assert links == [f"http://{other}.pasar.test/admin/"], (here, links)
        assert "bravo" not in html.lower() and "Gone Store" not in html


@pytest.mark.backends(*BACKENDS)
def test_another_stores_owner_sees_only_their_own_stores(app, client_for, store_a, store_b):
    """Bravo's owner, also staff in a third store: alpha is never offered, on any page."""
    bravo_owner = owner_of(app, store_b)
    third = make_store("third", "Third Shop")
    add_member(third, bravo_owner, "staff")
    client = client_for(store_b)
    sign_in_as(client, bravo_owner)
    html = client.get("/admin/orders/").get_data(as_text=True)
    assert switcher_links(html) == ["http://third.pasar.test/admin/"]
    assert "Alpha Goods" not in html and "alpha." not in html
    # And alpha's dashboard stays closed to them.
    other = client_for(store_a)
    sign_in_as(other, bravo_owner)
    assert other.get("/admin/").status_code == 404


@pytest.mark.backends(*BACKENDS)
def test_search_finds_the_stores_orders_products_and_customers_and_nothing_else(
    app, client_for, store_a, store_b
):
    lamp = make_variant(store_a, "LAMP", 1000, stock=50)
    mine = make_order(app, store_a, lamp, email="Rina.Lamp@example.com", status="paid")
    make_order(app, store_a, lamp, email="rina.lamp@example.com", status="paid")
    make_order(app, store_a, lamp, email="other@example.com", status="paid")
    theirs = make_variant(store_b, "LAMP", 2000, stock=50)
    make_order(app, store_b, theirs, email="lamp-b@example.com", status="paid")
    make_product(store_b, "Bravo Lamp Secret")
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))

    html = client.get("/admin/search?q=lamp").get_data(as_text=True)
    assert 'id="search-orders"' in html and f"#{mine['number']}" in html
    assert "Lamp LAMP" in html  # the product, from the product list's search
    customers = re.search(r'id="search-customers".*?</section>', html, re.S).group(0)
    assert customers.count("rina.lamp@example.com") == 2  # the link and its text: one customer
    assert "2 orders" in customers and "other@example.com" not in customers
    assert "lamp-b@example.com" not in html and "Bravo Lamp Secret" not in html
    assert 'value="lamp"' in html  # the shell's box keeps what was searched

    by_number = client.get(f"/admin/search?q=%23{mine['number']}").get_data(as_text=True)
    assert f"#{mine['number']}" in by_number
    nothing = client.get("/admin/search?q=zzz-nothing").get_data(as_text=True)
    assert 'id="search-empty"' in nothing


def test_search_needs_a_member_of_the_store(app, client_for, store_a, store_b):
    anonymous = client_for(store_a).get("/admin/search?q=lamp")
    assert anonymous.status_code == 302
    outsider = client_for(store_a)
    sign_in_as(outsider, owner_of(app, store_b))
    assert outsider.get("/admin/search?q=lamp").status_code == 404


def test_a_dashboard_confirmation_page_keeps_the_shell(app, client_for, store_a):
    """The no-JavaScript confirmation of a dashboard action is in the admin shell too."""
    variant = make_variant(store_a, "LAMP", 1000, stock=5)
    order = make_order(app, store_a, variant, status="paid")
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    action = f"/admin/orders/{order['number']}/cancel"
    page = client.get(f"/admin/orders/{order['number']}").get_data(as_text=True)
    form = page[page.index(f'action="{action}"') :]
    fields = dict(
        re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[: form.index("</form>")]
        )
    )
    asked = client.post(action, data=fields)
    assert asked.status_code == 200 and "Please confirm" in asked.text
    assert_admin_shell(asked.get_data(as_text=True), "Alpha Goods")
