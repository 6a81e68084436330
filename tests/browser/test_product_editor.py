"""In a real browser: the category picker (filter, Enter, chips), the bulk variant grid (a bad
cell swapped in by htmx with everything typed kept, then saved), the image drop zone's previews,
and no sideways scroll at 390 px. Screenshots at 1280 and 390 px land in test-artifacts/."""

import re
import uuid

import pytest
from PIL import Image

from tests.browser.conftest import screenshot
from tests.browser.test_checkout_flow import sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
WIDTH = "() => document.documentElement.scrollWidth"


def visible_categories(page) -> list[str]:
    return [
        item.inner_text().strip()
        for item in page.locator("#category-options [data-picker-item]").all()
        if item.is_visible()
    ]


def fits(page, name: str) -> None:
    """The page at 1280 and 390 px: screenshots of both, and no sideways scroll on the phone."""
    url = page.url
    page.set_viewport_size(DESKTOP)
    page.goto(url)
    screenshot(page, f"{name}-1280")
    page.set_viewport_size(PHONE)
    page.goto(url)
    screenshot(page, f"{name}-390")
    assert page.evaluate(WIDTH) <= PHONE["width"], f"{url} scrolls sideways at 390 px"
    page.set_viewport_size(DESKTOP)


def test_vendor_picks_categories_and_edits_every_variant_in_one_grid(
    live_server, browser, page, tmp_path
):
    mode = live_server.mode
    word = f"grid{uuid.uuid4().hex[:6]}"
    sign_in(page, live_server, "owner@acme.example.com", "/admin/products/new")
    page.wait_for_url(re.compile(r"/admin/products/new$"))

    # The picker: typing filters the list, Enter takes the first match, chips remove themselves.
    search = page.get_by_label("Filter categories")
    assert search.is_visible()
    search.fill("sho")
    assert visible_categories(page) == ["Shorts"]
    # The script's words come from the page's data-text-* attributes (translated there).
    assert page.locator("#category-filter-status").inner_text() == "1 category matches"
    search.press("Enter")
    assert page.url.endswith("/admin/products/new")  # Enter didn't submit the form
    chips = page.locator(".category-picker__chip")
    assert chips.count() == 1 and "Bottoms › Shorts" in chips.first.inner_text()
    search.fill("hat")
    page.get_by_label("Hats", exact=True).check()
    assert chips.count() == 2
    search.fill("zzz")
    assert visible_categories(page) == [] and page.get_by_text("No category matches").is_visible()
    search.press("Escape")
    assert len(visible_categories(page)) == 10
    page.get_by_role("button", name="Remove Bottoms › Shorts").click()
    assert chips.count() == 1 and not page.get_by_label("Shorts", exact=True).is_checked()
    screenshot(page, f"product-editor-picker-{mode}-1280")

    page.get_by_label("Title", exact=True).fill(f"{word.title()} Tee")
    page.get_by_label("Price (USD)").fill("10.00")
    page.get_by_label("Stock", exact=True).fill("4")
    page.get_by_label("SKU", exact=True).fill(f"{word.upper()}-1")
    page.get_by_role("button", name="Create product").click()
    page.wait_for_url(re.compile(r"/admin/products/\d+/edit$"))
    assert page.get_by_label("Hats", exact=True).is_checked()
    assert "Accessories › Hats" in page.locator(".category-picker__chip").first.inner_text()

    page.get_by_label("Option 1").fill("Size")
    page.locator("input[name='option1_values']").fill("S, M, L")
    page.get_by_role("button", name="Save options and update variants").click()
    page.locator("#variants tbody tr").nth(2).wait_for()

    # The drop zone: reached with the keyboard (the file input inside it takes the focus, and
    # the zone shows it), and a chosen file shows its preview before anything is uploaded.
    page.get_by_role("button", name="Save options and update variants").wait_for()
    page.locator("#images-input").focus()
    zone_outline = "() => getComputedStyle(document.querySelector('.dropzone__zone')).outlineStyle"
    assert page.evaluate("() => document.activeElement.id") == "images-input"
    assert page.evaluate(zone_outline) == "solid"
    picture = tmp_path / "tee.png"
    Image.new("RGB", (300, 200), (200, 60, 40)).save(picture, "PNG")
    page.locator("input[type=file][name=images]").set_input_files(str(picture))
    preview = page.locator(".dropzone__preview img")
    preview.wait_for()
    page.wait_for_function(
        "() => (document.querySelector('.dropzone__preview img').src || '').startsWith('data:')"
    )
    assert "tee.png" in page.locator(".dropzone__preview").inner_text()
    screenshot(page, f"product-editor-dropzone-{mode}-1280")
    page.get_by_role("button", name="Upload").click()
    page.locator(".image-card").first.wait_for(timeout=15000)

    # Its description: a labelled field by the picture, saved with the product.
    page.get_by_label("Description of image 1").fill("Red tee, folded")
    page.get_by_role("button", name="Save product and descriptions").click()
    page.get_by_text("Product saved.").wait_for()
    assert page.get_by_label("Description of image 1").input_value() == "Red tee, folded"
    assert page.get_by_label("Hats", exact=True).is_checked()
    fits(page, f"product-editor-edit-{mode}")

    # The grid: a bad price comes back on its cell, with everything typed still there.
    page.get_by_role("link", name=re.compile("Edit all variants")).click()
    page.wait_for_url(re.compile(r"/admin/products/\d+/variants$"))
    grid_url = page.url
    assert page.locator("#variant-grid tbody tr").count() == 3
    page.get_by_label("Price of M", exact=True).fill("12,50")
    page.get_by_label("Stock of M", exact=True).fill("8")
    page.get_by_label("SKU of L", exact=True).fill(f"{word.upper()}-LARGE")
    page.evaluate("() => { window.stillThisPage = true; }")
    page.get_by_role("button", name="Save all variants").click()
    page.locator("#variant-grid [aria-invalid=true]").wait_for()
    # Swapped by htmx: the same document, not a new page.
    assert page.url == grid_url and page.evaluate("() => window.stillThisPage === true")
    price = page.get_by_label("Price of M", exact=True)
    assert price.get_attribute("aria-invalid") == "true" and price.input_value() == "12,50"
    assert page.get_by_label("Stock of M", exact=True).input_value() == "8"
    assert page.get_by_label("SKU of L", exact=True).input_value() == f"{word.upper()}-LARGE"
    assert page.get_by_text("must be a number").is_visible()
    screenshot(page, f"product-editor-grid-errors-{mode}-1280")
    page.set_viewport_size(PHONE)
    screenshot(page, f"product-editor-grid-errors-{mode}-390")
    assert page.evaluate(WIDTH) <= PHONE["width"]
    page.set_viewport_size(DESKTOP)

    page.get_by_label("Price of M", exact=True).fill("12.50")
    page.get_by_role("button", name="Save all variants").click()
    page.get_by_text("2 variants saved.").wait_for()
    page.reload()
    assert page.get_by_label("Price of M", exact=True).input_value() == "12.50"
    assert page.get_by_label("Stock of M", exact=True).input_value() == "8"
    assert page.get_by_label("SKU of L", exact=True).input_value() == f"{word.upper()}-LARGE"
    fits(page, f"product-editor-grid-{mode}")

    # A 422 is logged by the browser as a failed resource; nothing else may be.
    errors = [e for e in page.errors if "status of 422" not in e]
    assert errors == [], errors
