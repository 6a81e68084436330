"""axe-core in a real browser on the shopper's, the vendor's and the platform admin's main pages:
no serious or critical WCAG violation anywhere (one context per person, each page once; the
dashboard's pages again at 390 px)."""

import re
import uuid

import pytest

from tests.browser import a11y
from tests.browser.conftest import _flask
from tests.browser.test_two_factor_flow import enrol_authenticator_app

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def add_something_to_the_cart(page, live_server) -> str:
    """Open in-stock products until one can be added; returns its page's address."""
    page.goto(live_server.url("acme", "/products/?in_stock=1"))
    links = page.locator(".product-card a").evaluate_all("links => links.map(a => a.href)")
    add = page.get_by_role("button", name=re.compile("Add to cart"))
    for href in dict.fromkeys(links):
        page.goto(href)
        if add.count():
            add.click()
            page.locator("#cart-count", has_text="1").wait_for()
            return href
    pytest.fail("no demo product can be added to the cart")


def walk_the_shop(page, live_server, check) -> None:
    """A guest: home, listing, product, cart, every checkout step, then the sign-in page."""
    acme = lambda path: live_server.url("acme", path)  # noqa: E731
    page.goto(acme("/"))
    check("store home")
    page.goto(acme("/products/"))
    check("listing")
    product = add_something_to_the_cart(page, live_server)
    page.goto(product)
    check("product")
    page.goto(acme("/cart"))
    check("cart")
    page.get_by_role("button", name="Checkout").click()
    page.wait_for_url(re.compile(r"/checkout/contact$"))
    check("checkout contact")
    page.get_by_label("Email").fill(f"axe-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_role("button", name="Continue to address").click()
    page.wait_for_url(re.compile(r"/checkout/address$"))
    check("checkout address")
    page.get_by_label("Country").select_option("US")
    page.locator("#region option[value='US-CA']").wait_for(state="attached")
    page.get_by_label("Full name").fill("Ada Axe")
    page.get_by_label("Address line 1").fill("1 Market St")
    page.get_by_label("City or town").fill("San Francisco")
    page.locator("#region").select_option("US-CA")
    page.get_by_label("ZIP code").fill("94105")
    page.get_by_role("button", name="Continue to shipping").click()
    page.wait_for_url(re.compile(r"/checkout/shipping$"))
    check("checkout shipping")
    page.get_by_role("button", name="Continue to review").click()
    page.wait_for_url(re.compile(r"/checkout/review$"))
    check("checkout review")
    page.goto(acme("/account/signin"))
    check("sign-in")


def walk_the_dashboard(page, live_server, check) -> None:
    """The owner of Acme: home, products, a product's edit page, orders, an order."""
    acme = lambda path: live_server.url("acme", path)  # noqa: E731
    page.goto(acme("/account/signin?next=/admin/"))
    page.get_by_label("Email").fill("owner@acme.example.com")
    page.get_by_label("Password", exact=True).fill("pasar-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/$"))
    check("dashboard home")
    page.goto(acme("/admin/products/"))
    check("products")
    page.goto(acme(page.locator("table a[href*='/admin/products/']").first.get_attribute("href")))
    check("product edit")
    page.goto(acme("/admin/orders/"))
    check("orders")
    page.goto(acme(page.locator(".order-table__number").first.get_attribute("href")))
    check("order detail")


def walk_the_console(page, live_server, check) -> None:
    """A platform admin of its own (enrolled in two-factor sign-in): the console's overview."""
    email, password = f"axe-{uuid.uuid4().hex[:8]}@example.com", "axe-password-2026"
    _flask(live_server.env, "create-superuser", "--email", email, "--password", password)
    page.goto(live_server.url(path="/account/signin?next=/console/"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/account/security/totp\?next="))
    enrol_authenticator_app(page, f"axe-admin-{live_server.mode}")
    page.wait_for_url(re.compile(r"/console/$"))
    check("console overview")


# The pages are the same in both modes: checked once, on the embedded server.
@pytest.mark.embedded_only
def test_no_serious_or_critical_axe_violations(live_server, browser):
    found: dict[str, list[dict]] = {}
    checked: list[str] = []

    def walk(steps, viewport=DESKTOP):
        context = a11y.axe_context(browser, viewport=viewport)
        page = context.new_page()

        def check(name):
            page.wait_for_load_state("load")
            name = f"{name} at {viewport['width']} px"
            checked.append(name)
            if problems := a11y.violations(page):
                found[f"{name} {page.url}"] = problems

        try:
            steps(page, live_server, check)
        finally:
            context.close()

    walk(walk_the_shop)
    walk(walk_the_dashboard)
    # On a phone the dashboard's sidebar becomes a menu and wide tables scroll in their cards.
    walk(walk_the_dashboard, viewport=PHONE)
    walk(walk_the_console)
    assert len(checked) == 20, checked
    assert not found, "serious or critical axe violations:\n" + a11y.describe(found)
