"""In a real browser: one shopper holds the last unit, another sees it sold out; the hold's
countdown runs out and says so, and the other shopper buys it (both server modes)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from tests.browser.conftest import screenshot
from tests.browser.test_checkout_flow import sign_in

pytestmark = pytest.mark.browser


def database(live_server):
    return create_engine(live_server.env["DATABASE_URL"])


def a_demo_variant(engine):
    """(product slug, variant id) of a tracked variant of an active demo product of acme."""
    with engine.connect() as db:
        return db.execute(
            text(
                "SELECT p.slug, v.id FROM products p"
                " JOIN stores s ON s.id = p.store_id JOIN variants v ON v.product_id = p.id"
                " WHERE s.slug = 'acme' AND p.status = 'active' AND v.track_inventory"
                " ORDER BY p.id, v.id LIMIT 1"
            )
        ).one()


def move_holds(engine, variant_id, seconds_from_now):
    """The hold's time, as if the store's hold time were that short."""
    when = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
    with engine.begin() as db:
        db.execute(
            text(
                "UPDATE stock_holds SET expires_at = :when"
                " WHERE variant_id = :variant AND status = 'active'"
            ),
            {"when": when, "variant": variant_id},
        )


def new_shopper(browser):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


def check_out(page, live_server, email):
    """From the cart through the steps to the test gateway's page."""
    page.goto(live_server.url("acme", "/cart"))
    page.get_by_role("button", name="Checkout").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue to address").click()
    page.wait_for_url(re.compile(r"/checkout/address$"))
    page.get_by_label("Country").select_option("US")
    page.locator("#region option[value='US-CA']").wait_for(state="attached")
    page.get_by_label("Full name").fill("Olga Other")
    page.get_by_label("Address line 1").fill("1 Market St")
    page.get_by_label("City or town").fill("San Francisco")
    page.locator("#region").select_option("US-CA")
    page.get_by_label("ZIP code").fill("94105")
    page.get_by_role("button", name="Continue to shipping").click()
    page.get_by_role("button", name="Continue to review").click()
    page.wait_for_url(re.compile(r"/checkout/review$"))
    page.get_by_role("button", name=re.compile("Place order")).click()
    page.wait_for_url(re.compile(r"/pay/test/"))


def test_a_held_last_unit_is_sold_out_to_others_until_the_hold_runs_out(live_server, browser, page):
    engine = database(live_server)
    slug, variant_id = a_demo_variant(engine)
    product = live_server.url("acme", f"/products/{slug}?variant={variant_id}")

    # The vendor counts one left.
    sign_in(page, live_server, "owner@acme.example.com", f"/admin/variants/{variant_id}/stock")
    page.wait_for_url(re.compile(rf"/admin/variants/{variant_id}/stock$"))
    page.get_by_label("Set to what I counted").check()
    page.get_by_label("Quantity").fill("1")
    page.get_by_label("Reason").fill("Stocktake")
    page.get_by_role("button", name="Save change").click()
    page.locator(".stock-summary__value", has_text=re.compile(r"^\s*1\b")).wait_for()

    # Both shoppers put it in their carts; the first starts checkout and holds it.
    holder, other = new_shopper(browser), new_shopper(browser)
    for shopper in (holder, other):
        shopper.goto(product)
        shopper.get_by_role("button", name="Add to cart").click()
        shopper.locator("#cart-count", has_text="1").wait_for()
    holder.goto(live_server.url("acme", "/cart"))
    holder.get_by_role("button", name="Checkout").click()
    holder.wait_for_url(re.compile(r"/checkout/contact$"))
    clock = holder.locator("[data-hold-countdown]")
    assert re.fullmatch(r"(9:[0-5]\d|10:00)", clock.inner_text())
    first = clock.inner_text()
    holder.wait_for_function(
        "first => document.querySelector('[data-hold-countdown]').textContent !== first", arg=first
    )  # it ticks
    screenshot(holder, f"stock-hold-countdown-{live_server.mode}")

    # The other shopper sees it gone, on the product page and in the cart.
    other.goto(product)
    other.locator("#buy-box .stock--out", has_text="Sold out").wait_for()
    assert other.get_by_role("button", name="Add to cart").count() == 0
    other.goto(live_server.url("acme", "/cart"))
    other.get_by_text("No longer available.").wait_for()
    assert other.get_by_role("button", name="Checkout").is_disabled()

    # The vendor sees it held, not moved.
    page.reload()
    page.get_by_text("Held now in shoppers' checkouts: 1").wait_for()

    # The hold runs out a few seconds from now: the countdown gets there and the page says so.
    move_holds(engine, variant_id, 4)
    holder.reload()
    holder.get_by_text("Your hold ran out, so these items are no longer kept for you.").wait_for(
        timeout=15_000
    )
    holder.get_by_text("Everything in your cart is still available.").wait_for()
    assert holder.get_by_role("button", name="Try again").count() == 1

    # Now the other shopper can buy it.
    other.reload()
    other.get_by_role("button", name="Checkout").wait_for()
    check_out(other, live_server, "olga@example.com")
    with engine.connect() as db:
        stock, held = db.execute(
            text("SELECT stock, held FROM variants WHERE id = :v"), {"v": variant_id}
        ).one()
    assert (stock, held) == (0, 0)

    # The first shopper tries again and is told it's gone.
    holder.get_by_role("button", name="Try again").click()
    holder.get_by_text("We couldn't hold everything in your cart").wait_for()
    assert holder.errors == [] and other.errors == []
    engine.dispose()
