"""In a real browser, two shoppers (issue 20's first Done-when): one holds the last unit and the
other, whose product page stays open and is never reloaded, sees it sold out within 2 s; the hold
runs out, is released the way the mode releases it (the periodic job through the RQ worker in
production mode, each web process's own sweep in embedded mode, where no cron runs), and the
open page shows it for sale again, and the second shopper buys it (both server modes)."""

import re
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from tests.browser.conftest import ROOT, screenshot
from tests.browser.test_checkout_flow import sign_in
from tests.browser.test_live_flow import wait_until_live
from tests.browser.test_stock_holds_flow import check_out, database, move_holds, new_shopper

pytestmark = pytest.mark.browser


def another_demo_variant(engine):
    """(product slug, variant id) of a tracked variant of acme's second active demo product (the
    stock holds flow sells out the first one on the same server)."""
    with engine.connect() as db:
        return db.execute(
            text(
                "SELECT p.slug, v.id FROM products p"
                " JOIN stores s ON s.id = p.store_id JOIN variants v ON v.product_id = p.id"
                " WHERE s.slug = 'acme' AND p.status = 'active' AND v.track_inventory"
                " AND p.id > (SELECT min(p2.id) FROM products p2 JOIN stores s2"
                "  ON s2.id = p2.store_id WHERE s2.slug = 'acme' AND p2.status = 'active')"
                " ORDER BY p.id, v.id LIMIT 1"
            )
        ).one()


def count_one_left(page, live_server, variant_id):
    """The vendor sets the variant's stock to 1 through the stock page (a counted movement)."""
    sign_in(page, live_server, "owner@acme.example.com", f"/admin/variants/{variant_id}/stock")
    page.wait_for_url(re.compile(rf"/admin/variants/{variant_id}/stock$"))
    page.get_by_label("Set to what I counted").check()
    page.get_by_label("Quantity").fill("1")
    page.get_by_label("Reason").fill("Stocktake")
    page.get_by_role("button", name="Save change").click()
    page.locator(".stock-summary__value", has_text=re.compile(r"^\s*1\b")).wait_for()


def run_release_job(live_server):
    """What `flask cron` does every 30 s in production: queue the release job for the worker."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from wsgi import app\n"
            "from app.background import enqueue\n"
            "with app.app_context():\n"
            "    enqueue('jobs.maintenance.release_expired_holds_job')\n",
        ],
        cwd=ROOT,
        env=live_server.env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def hold_status(engine, variant_id):
    with engine.connect() as db:
        return db.execute(
            text("SELECT status FROM stock_holds WHERE variant_id = :v ORDER BY id DESC LIMIT 1"),
            {"v": variant_id},
        ).scalar_one()


def test_an_open_product_page_follows_another_shoppers_hold(live_server, browser, page):
    engine = database(live_server)
    slug, variant_id = another_demo_variant(engine)
    product = live_server.url("acme", f"/products/{slug}?variant={variant_id}")
    count_one_left(page, live_server, variant_id)

    # Shopper B opens the product page first and keeps it open: it's never navigated again.
    holder, other = new_shopper(browser), new_shopper(browser)
    other.goto(product)
    wait_until_live(other)
    other.locator("#buy-box .stock--low", has_text="Only 1 left").wait_for()
    other.evaluate("window.stillTheSamePage = true")
    loads = []
    other.on("load", lambda: loads.append(other.url))  # a full page load (not htmx's swaps)

    # Shopper A puts the last unit in the cart and starts checkout: that takes the hold.
    holder.goto(product)
    holder.get_by_role("button", name="Add to cart").click()
    holder.locator("#cart-count", has_text="1").wait_for()
    holder.goto(live_server.url("acme", "/cart"))
    with holder.expect_response(
        lambda r: r.url.endswith("/checkout/hold") and r.request.method == "POST"
    ):
        holder.get_by_role("button", name="Checkout").click()
    held_at = time.monotonic()
    other.locator("#buy-box .stock--out", has_text="Sold out").wait_for(timeout=10_000)
    assert time.monotonic() - held_at < 2.0
    assert other.get_by_role("button", name="Add to cart").count() == 0
    holder.wait_for_url(re.compile(r"/checkout/contact$"))
    assert hold_status(engine, variant_id) == "active"
    screenshot(other, f"live-hold-sold-out-{live_server.mode}")

    # The hold runs out, and is released as this mode releases it.
    move_holds(engine, variant_id, -1)
    if live_server.mode == "production":
        run_release_job(live_server)
    # (embedded mode: the web processes' own sweep, every EMBEDDED_HOLD_SWEEP_SECONDS = 5 s)
    other.locator("#buy-box .stock--low", has_text="Only 1 left").wait_for(timeout=20_000)
    assert hold_status(engine, variant_id) == "expired"

    # B buys it from the same page, never reloaded.
    assert loads == [] and other.evaluate("window.stillTheSamePage === true")
    other.get_by_role("button", name="Add to cart").click()
    other.locator("#cart-count", has_text="1").wait_for()
    check_out(other, live_server, "bea@example.com")
    with engine.connect() as db:
        stock, held = db.execute(
            text("SELECT stock, held FROM variants WHERE id = :v"), {"v": variant_id}
        ).one()
    assert (stock, held) == (0, 0)
    assert holder.errors == [] and other.errors == []
    engine.dispose()
