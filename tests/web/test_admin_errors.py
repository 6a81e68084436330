"""The dashboard's and the console's 403 and 404 pages sit in the admin shell for the people who
may see it (the store's members, platform admins); outsiders and shoppers get the storefront's
ordinary page, which gives nothing away."""

import pytest

from tests.accounts_helpers import sign_in_with_factor
from tests.conftest import sign_in_as
from tests.factories import add_member, make_user
from tests.web.order_helpers import owner_of

pytestmark = pytest.mark.backends("sqlite")

SHELL = 'class="shell__sidebar"'
STOREFRONT = 'class="site-header"'


def in_shell(response, status: int, title: str) -> str:
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:300]
    assert SHELL in text and STOREFRONT not in text, text[:600]
    assert f"<h1>{title}</h1>" in text
    return text


def in_storefront(response, status: int) -> str:
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:300]
    assert STOREFRONT in text and SHELL not in text, text[:600]
    return text


@pytest.fixture
def owner(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


@pytest.mark.parametrize(
    "path", ["/admin/orders/999999", "/admin/products/999999/edit", "/admin/no-such-page"]
)
def test_a_members_404_is_in_the_dashboard_shell(owner, path):
    text = in_shell(owner.get(path), 404, "Page not found")
    assert "Alpha" in text and 'href="/admin/"' in text  # the store's name, back to the dashboard
    assert 'aria-label="Dashboard"' in text  # the sections' menu


def test_a_staff_members_403_is_in_the_shell_with_their_own_menu(app, client_for, store_a):
    staff = make_user("stocker@example.com")
    add_member(store_a, staff, "staff")
    client = client_for(store_a)
    sign_in_as(client, staff)
    text = in_shell(client.get("/admin/settings"), 403, "Not allowed")
    assert "Your role in this store doesn" in text
    assert ">Orders</a>" in text and ">Staff</a>" not in text  # staff's menu, not the owner's


def test_an_htmx_error_in_the_dashboard_is_still_a_fragment(owner):
    response = owner.get("/admin/orders/999999", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert response.get_data(as_text=True).startswith('<div class="flash flash--error"')


def test_outsiders_and_shoppers_get_the_storefronts_page(app, client_for, store_a, store_b):
    outsider = client_for(store_a)
    sign_in_as(outsider, owner_of(app, store_b))  # owns another store
    for path in ("/admin/", "/admin/orders/", "/admin/no-such-page"):
        text = in_storefront(outsider.get(path), 404)
        assert 'aria-label="Dashboard"' not in text
    shopper = client_for(store_a)
    sign_in_as(shopper, make_user("shopper@example.com"))
    in_storefront(shopper.get("/admin/orders/1"), 404)


def test_the_storefronts_own_404_stays_in_the_storefront_for_members_too(
    owner, client_for, store_a
):
    in_storefront(owner.get("/products/no-such-product"), 404)
    in_storefront(client_for(store_a).get("/no-such-page"), 404)


def test_a_platform_admins_console_404_is_in_the_console_shell(client_for):
    admin = client_for(None)
    sign_in_with_factor(admin, make_user("root@example.com", superuser=True))
    text = in_shell(admin.get("/console/stores/999999"), 404, "Page not found")
    assert "Pasar console" in text and 'href="/console/"' in text
    # Anyone else on the console gets the plain 404 (the console isn't theirs to know about).
    other = client_for(None)
    sign_in_as(other, make_user("someone@example.com"))
    text = other.get("/console/stores/999999").get_data(as_text=True)
    assert SHELL not in text and "Pasar console" not in text
