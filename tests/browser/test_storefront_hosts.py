"""In a real browser: the platform lists the stores, each store lives on its own subdomain."""

import re

import pytest

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_store_subdomain_shows_the_store(live_server, page):
    response = page.goto(live_server.url("acme"))
    assert response.status == 200
    assert page.locator("h1").inner_text() == "Acme Outfitters"
    assert page.title() == "Acme Outfitters"
    # The store's accent colour (#c2410c) reaches the page through theme.css, not inline styles.
    mark = page.locator(".brand__mark")
    assert mark.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(194, 65, 12)"
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.errors == []
    screenshot(page, f"store-home-{live_server.mode}")


def test_platform_home_links_to_each_store(live_server, page):
    page.goto(live_server.url())
    # The three demo stores (other browser tests may have opened more on this server).
    names = page.locator(".store-card").all_inner_texts()
    for name in ("Acme Outfitters", "Batik Nusantara", "Kaffeerösterei Berlin"):
        assert any(name in card for card in names), names
    assert len(names) >= 3
    assert page.errors == []
    screenshot(page, f"platform-home-{live_server.mode}")
    page.get_by_role("link", name=re.compile("Batik Nusantara")).click()
    page.wait_for_url(live_server.url("batik"))
    assert page.locator("h1").inner_text() == "Batik Nusantara"
    # The browser reads English, so the currency is named the English way (app/i18n.py).
    assert "Indonesian Rupiah" in page.locator(".hero__lead").inner_text()


def test_unknown_store_shows_the_store_404_page(live_server, page):
    response = page.goto(live_server.url("no-such-shop"))
    assert response.status == 404
    assert page.locator("h1").inner_text() == "No such store"
    page.get_by_role("link", name="Browse all stores").click()
    page.wait_for_url(re.compile(r"http://pasar\.localhost:\d+/#stores"))
    screenshot(page, f"store-404-{live_server.mode}")


@pytest.mark.embedded_only  # layout and CSS: the same HTML in both server modes
def test_mobile_layout_has_no_horizontal_scroll(live_server, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(live_server.url("kaffee"))
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    screenshot(page, f"store-mobile-{live_server.mode}")
    context.close()
    assert overflow is False
