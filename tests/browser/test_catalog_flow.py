"""In a real browser: a vendor builds a product with size variants and a picture and publishes
it; a shopper finds it by live search, filters to it, opens it and switches variants."""

import re
import uuid

import pytest
from PIL import Image

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def png_file(tmp_path):
    path = tmp_path / "shirt.png"
    Image.new("RGB", (900, 900), (30, 110, 160)).save(path, "PNG")
    return path


def sign_in(page, live_server, email, next_path):
    page.goto(live_server.url("acme", f"/account/signin?next={next_path}"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill("pasar-demo-2026")
    page.get_by_role("button", name="Sign in").click()


def test_vendor_publishes_and_shopper_finds_filters_and_picks_a_variant(
    live_server, browser, page, tmp_path
):
    word = f"zebra{uuid.uuid4().hex[:6]}"
    title = f"{word.title()} Linen Shirt"

    # The vendor creates the product, adds sizes, reprices one, uploads a picture, publishes.
    sign_in(page, live_server, "owner@acme.example.com", "/admin/products/new")
    page.wait_for_url(re.compile(r"/admin/products/new$"))
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Tags", exact=True).fill("linen, summer")
    page.get_by_label("Description", exact=True).fill("A **breezy** shirt for hot days.")
    page.get_by_label("Price (USD)").fill("49.00")
    page.get_by_label("Stock", exact=True).fill("7")
    page.get_by_label("SKU", exact=True).fill(f"{word.upper()}-1")
    page.get_by_label("Status").select_option("active")
    page.get_by_role("button", name="Create product").click()
    page.wait_for_url(re.compile(r"/admin/products/\d+/edit$"))

    page.get_by_label("Option 1").fill("Size")
    page.locator("input[name='option1_values']").fill("S, M, L")  # "Values, separated by commas"
    page.get_by_role("button", name="Save options and update variants").click()
    variants = page.locator("#variants tbody tr")
    variants.nth(2).wait_for()
    assert variants.count() == 3

    page.get_by_role("link", name="Edit M", exact=True).click()
    page.get_by_label("Price in USD for M").fill("59.00")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("#variants tbody tr", has_text="$59.00").wait_for()

    page.locator("input[type=file][name=images]").set_input_files(str(png_file(tmp_path)))
    page.get_by_role("button", name="Upload").click()
    page.locator(".image-card img, .images img").first.wait_for(timeout=15000)
    screenshot(page, f"vendor-product-{live_server.mode}")

    # A shopper (a fresh browser context) finds it by live search...
    shopper = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    shopper.goto(live_server.url("acme"))
    shopper.locator("#store-search-q").fill(word)
    suggestion = shopper.locator("#search-suggest").get_by_text(title)
    suggestion.wait_for(timeout=10000)
    screenshot(shopper, f"shopper-live-search-{live_server.mode}")

    # ...filters the listing to it...
    shopper.goto(live_server.url("acme", "/products/"))
    shopper.locator("#filter-tag").select_option("linen")
    shopper.locator("#filter-min").fill("45")
    shopper.locator("#filter-max").fill("60")
    shopper.locator("#filter-min").press("Enter")
    # Each change swaps the results and pushes the URL; wait for the one with every filter.
    shopper.wait_for_url(re.compile(r"(?=.*tag=linen)(?=.*min=45)(?=.*max=60)"))
    cards = shopper.locator(".product-card")
    cards.filter(has_text=title).first.wait_for()
    assert "min=45" in shopper.url

    # ...opens it and switches sizes, the price following without a reload.
    cards.filter(has_text=title).first.get_by_role("link").first.click()
    shopper.wait_for_url(re.compile(r"/products/"))
    assert shopper.locator("h1").inner_text() == title
    price = shopper.locator("#buy-box .buy-box__price .price").first
    shopper.locator("#pick-option1").select_option("M")
    shopper.locator("#buy-box", has_text="$59.00").wait_for()
    assert price.inner_text() == "$59.00" or "$59.00" in shopper.locator("#buy-box").inner_text()
    shopper.locator("#pick-option1").select_option("S")
    shopper.locator("#buy-box", has_text="$49.00").wait_for()
    assert shopper.locator("img[alt]").count() >= 1
    screenshot(shopper, f"shopper-product-{live_server.mode}")
    shopper.context.close()
