"""In a real browser at 390 px: every main page of the vendor's dashboard (home, products, a
product's editor, a new product, orders, an order, the stock ledger, stock sync and a sync's
preview, categories, coupons, staff, settings, checkout, payouts, exports, the audit log, jobs,
search) and of the console fits a phone without scrolling sideways; the sidebar folds into a
Menu that opens without a script; the search boxes find things; and screenshots of each page at
1280 and 390 px land in test-artifacts/ (admin-shell-*). Embedded mode checks every page;
production mode the pages whose content depends on the mode (DIFFERS_BY_MODE)."""

import re
import shutil
import uuid

import pytest

from tests.browser.conftest import ARTIFACTS, ROOT, SCREENSHOT_MODES, _flask, screenshot
from tests.browser.test_checkout_flow import sign_in
from tests.browser.test_two_factor_flow import enrol_authenticator_app

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SIDEWAYS = "() => document.scrollingElement.scrollWidth"
# The outermost elements that reach past the right edge, and positioned ones (which escape a
# scrolling box that isn't positioned itself): what to fix when a page is too wide.
TOO_WIDE = """limit => [...document.querySelectorAll('body, body *')].filter(el => {
  const out = e => e && e.getBoundingClientRect().right > limit + 0.5;
  const escapes = ['absolute', 'fixed'].includes(getComputedStyle(el).position);
  return out(el) && (!out(el.parentElement) || el.parentElement === document.body || escapes);
}).slice(0, 8).map(el => el.tagName.toLowerCase() + '.' + [...el.classList].join('.') + '#' + el.id
  + ' ' + Math.round(el.getBoundingClientRect().right))"""


# What the server's mode changes on a page: the jobs and queues (inline or on Redis), the sync's
# preview (made by the worker in production mode) and the searches (FTS5 or PostgreSQL's
# tsvector). Every other page is the same HTML in both modes, so production mode checks these
# and embedded mode checks them all.
# (The dashboard's and the console's home, jobs and search pages.)
DIFFERS_BY_MODE = {"home", "overview", "stock-sync-preview", "jobs", "search"}


def checked_in(mode: str, name: str) -> bool:
    return mode == "embedded" or name in DIFFERS_BY_MODE


def goto(page, url: str) -> None:
    """Open `url`; pages that ask "confirm it's you" (STEP_UP_MAX_AGE is short here) get the
    demo owner's password."""
    page.goto(url)
    if "/account/2fa/confirm" in page.url:
        page.get_by_label("Your password").fill("pasar-demo-2026")
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_url(url)


def fits_a_phone(page, url: str, name: str) -> None:
    """Open `url` at 1280 and 390 px, take both screenshots, and check nothing scrolls sideways."""
    page.set_viewport_size(DESKTOP)
    goto(page, url)
    assert page.locator(".shell__sidebar").is_visible(), url
    assert page.locator(".site-header, .store-search, .site-nav__cart").count() == 0, url
    screenshot(page, f"admin-shell-{name}-1280")
    page.set_viewport_size(PHONE)
    goto(page, url)
    width = page.evaluate(SIDEWAYS)
    screenshot(page, f"admin-shell-{name}-390")
    too_wide = page.evaluate(TOO_WIDE, PHONE["width"]) if width > PHONE["width"] else []
    assert width <= PHONE["width"], f"{url} is {width}px wide at 390px: {too_wide}"


def test_the_vendors_pages_and_the_console_fit_a_phone(live_server, browser, page):
    mode = live_server.mode
    # The "before" pictures (the commit before the admin shell, by scripts/admin_screenshots.py)
    # beside this run's "after" ones.
    if mode in SCREENSHOT_MODES:
        shutil.copytree(
            ROOT / "docs" / "screenshots" / "before", ARTIFACTS / "admin-before", dirs_exist_ok=True
        )
    sign_in(page, live_server, "owner@acme.example.com", "/admin/")
    page.wait_for_url(re.compile(r"/admin/$"))
    acme = lambda path: live_server.url("acme", path)  # noqa: E731

    page.goto(acme("/admin/products/"))
    product_edit = page.locator("table a[href*='/admin/products/']").first.get_attribute("href")
    page.goto(acme(product_edit))
    stock = page.get_by_role("link", name=re.compile("History")).first.get_attribute("href")
    page.goto(acme("/admin/orders/"))
    order = page.locator(".order-table__number").first.get_attribute("href")

    sync_preview = upload_a_stock_file(page, live_server)
    # The preview names each SKU's product and variant (one query for the page: a web test).
    assert page.locator("#sync-rows .sync-sku__name").count() > 0

    pages = {
        "home": "/admin/",
        "products": "/admin/products/",
        "product-edit": product_edit,
        "product-new": "/admin/products/new",
        "orders": "/admin/orders/",
        "order": order,
        "stock": stock,
        "stock-sync": "/admin/stock-sync/",
        "stock-sync-preview": sync_preview,
        "categories": "/admin/categories/",
        "category-new": "/admin/categories/new",
        "coupons": "/admin/coupons/",
        "coupon-new": "/admin/coupons/new",
        "staff": "/admin/staff",
        "settings": "/admin/settings",
        "checkout-settings": "/admin/settings/checkout",
        "payouts": "/admin/payouts",
        "exports": "/admin/exports/",
        "audit": "/admin/audit",
        "audit-all": "/admin/audit?all=1",
        "jobs": "/admin/jobs",
        "search": "/admin/search?q=linen",
    }
    for name, path in pages.items():
        if checked_in(mode, name):
            fits_a_phone(page, acme(path), f"{name}-{mode}")
    if mode == "embedded":
        # A member's 404 sits in the shell too (fits_a_phone checks the sidebar); the browser
        # logs the page's status as an error, the only one expected.
        errors_before = list(page.errors)
        fits_a_phone(page, acme("/admin/orders/99999999"), f"not-found-{mode}")
        assert page.locator("h1", has_text="Page not found").count() == 1
        assert all("status of 404" in e for e in page.errors[len(errors_before) :]), page.errors
        page.errors[:] = errors_before

    # On a phone the sections sit behind "Menu", which opens with CSS alone.
    page.set_viewport_size(PHONE)
    page.goto(acme("/admin/"))
    orders_link = page.locator(".admin__nav").get_by_role("link", name="Orders", exact=True)
    assert page.locator("#shell-store-name").inner_text() == "Acme Outfitters"
    assert not orders_link.is_visible()
    page.locator("label[for=shell-menu]").click()
    assert orders_link.is_visible()
    screenshot(page, f"admin-shell-menu-open-{mode}-390")
    orders_link.click()
    page.wait_for_url(re.compile(r"/admin/orders/$"))

    # The shell's search box finds the store's orders, products and customers.
    page.get_by_label("Search orders, products and customers").fill("linen")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/search\?q=linen$"))
    assert page.locator("#search-products li").count() > 0
    assert page.errors == []

    # A platform admin of its own (the demo admin's enrolment belongs to another test).
    email, password = f"shell-{uuid.uuid4().hex[:8]}@example.com", "shell-password-2026"
    _flask(live_server.env, "create-superuser", "--email", email, "--password", password)
    admin = browser.new_context(viewport=DESKTOP).new_page()
    admin.goto(live_server.url(path="/account/signin?next=/console/"))
    admin.get_by_label("Email").fill(email)
    admin.get_by_label("Password", exact=True).fill(password)
    admin.get_by_role("button", name="Sign in", exact=True).click()
    admin.wait_for_url(re.compile(r"/account/security/totp\?next="))
    enrol_authenticator_app(admin, f"shell-admin-{mode}")
    admin.wait_for_url(re.compile(r"/console/$"))
    console = {
        "overview": "/console/",
        "stores": "/console/stores/",
        "users": "/console/users/",
        "payouts": "/console/payouts/",
        "jobs": "/console/jobs",
        "emails": "/console/emails/",
        "audit": "/console/audit",
        "search": "/console/search?q=acme",
    }
    for name, path in console.items():
        if checked_in(mode, name):
            fits_a_phone(admin, live_server.url(path=path), f"console-{name}-{mode}")
    # One store's and one user's page, reached from the console's search box.
    admin.get_by_label("Search stores, users and orders").fill("acme")
    admin.get_by_role("button", name="Search", exact=True).click()
    admin.wait_for_url(re.compile(r"/console/search\?q=acme$"))
    store_page = admin.locator("#search-stores a").first.get_attribute("href")
    user_page = admin.locator("#search-users a").first.get_attribute("href")
    if mode == "embedded":
        fits_a_phone(admin, live_server.url(path=store_page), f"console-store-{mode}")
        fits_a_phone(admin, live_server.url(path=user_page), f"console-user-{mode}")
    else:
        assert store_page and user_page
    admin.context.close()


def upload_a_stock_file(page, live_server) -> str:
    """Upload three of Acme's SKUs with new counts; returns the address of the sync's preview."""
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url("acme", "/admin/stock-sync/"))
    csv_text = page.evaluate("() => fetch('/admin/stock-sync/current.csv').then(r => r.text())")
    rows = [line.split(",") for line in csv_text.lstrip("\ufeff").splitlines()[1:]]
    rows = [r for r in rows if r[1]][:3]
    body = "sku,stock\n" + "".join(f"{r[0]},{int(r[1]) + 7}\n" for r in rows) + "NOT-A-SKU,1\n"
    page.get_by_label("CSV file").set_input_files(
        {
            "name": f"shell-{uuid.uuid4().hex[:6]}.csv",
            "mimeType": "text/csv",
            "buffer": body.encode(),
        }
    )
    page.get_by_role("button", name="Upload and preview").click()
    page.locator("#sync-confirm").wait_for(timeout=30000)
    return page.url.split(str(live_server.port), 1)[1]
