"""In a real browser: a shopper checks out in Indonesian on Batik (picked with the footer's
language switcher, over an English browser) and in German on Kaffee (from the browser's own
language), and the confirmation emails arrive in those languages (issue 16, Languages)."""

import re
import uuid

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_checkout_flow import wait_for_mail

pytestmark = pytest.mark.browser


def _shopper(browser, locale: str):
    """A fresh context whose browser asks for `locale` (Accept-Language)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return context, page


def _add_something(page, live_server, slug: str, add_label: str):
    """Put one in-stock product in the cart from the listing (or its page)."""
    page.goto(live_server.url(slug, "/products/?in_stock=1"))
    quick = page.locator(".product-card .add-to-cart__button")
    if quick.count():
        quick.first.click()
    else:
        page.locator(".product-card a").first.click()
        page.get_by_role("button", name=add_label).click()
    page.locator("#cart-count", has_text="1").wait_for()


def test_checking_out_in_indonesian_on_batik(live_server, browser, live_smtp):
    email = f"dewi-{uuid.uuid4().hex[:8]}@example.com"
    context, page = _shopper(browser, "en-US")
    try:
        # An English browser gets English first; the switcher (htmx) makes it Indonesian.
        page.goto(live_server.url("batik", "/"))
        assert page.locator("html").get_attribute("lang") == "en"
        page.locator(".language-switch").get_by_role("button", name="Bahasa Indonesia").click()
        page.locator("html[lang='id']").wait_for(state="attached")
        assert (
            page.get_by_text("Belanja per kategori").count()
            or page.get_by_text("Produk terbaru").count()
        )
        screenshot(page, f"i18n-batik-home-id-{live_server.mode}")
        page.set_viewport_size({"width": 390, "height": 844})
        screenshot(page, f"i18n-batik-home-id-390-{live_server.mode}")
        page.set_viewport_size({"width": 1280, "height": 900})

        _add_something(page, live_server, "batik", "Tambah ke keranjang")
        page.goto(live_server.url("batik", "/cart"))
        assert page.get_by_role("heading", name="Keranjang Anda").count() == 1
        page.get_by_role("button", name="Checkout").click()
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Lanjut ke alamat").click()
        page.wait_for_url(re.compile(r"/checkout/address$"))
        page.get_by_label("Negara", exact=True).select_option("ID")
        page.locator("#region option[value='ID-JB']").wait_for(state="attached")
        page.get_by_label("Nama lengkap").fill("Dewi Lestari")
        page.get_by_label("Alamat baris 1").fill("Jl. Asia Afrika No. 8")
        page.get_by_label("Kota atau kabupaten").fill("Bandung")
        page.locator("#region").select_option("ID-JB")
        page.get_by_label("Kode pos").fill("40111")
        page.get_by_role("button", name="Lanjut ke pengiriman").click()
        page.get_by_role("button", name="Lanjut ke tinjauan").click()
        page.wait_for_url(re.compile(r"/checkout/review$"))
        assert page.get_by_role("heading", name="Tinjau dan bayar").count() == 1
        assert "Rp" in page.locator(".checkout-totals__total dd").inner_text()
        screenshot(page, f"i18n-batik-review-id-{live_server.mode}")
        page.get_by_role("button", name=re.compile("Buat pesanan dan bayar")).click()

        page.wait_for_url(re.compile(r"/pay/test/\d+\?key="))
        number = re.search(r"/pay/test/(\d+)", page.url).group(1)
        page.get_by_role("button", name="Approve payment").click()
        page.wait_for_url(re.compile(rf"/orders/{number}\?key="))
        # Paid at once inline; in production once the worker applied it (the status polls).
        page.locator(".order-status", has_text="Dibayar").first.wait_for(timeout=20000)
        assert "Pembayaran Anda sudah masuk" in page.locator(".order-status").inner_text()
        assert page.errors == []
    finally:
        context.close()

    (mail,) = wait_for_mail(live_smtp, email, 1)
    assert f"Pesanan #{number} dikonfirmasi" in str(mail["Subject"])
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Terima kasih atas pesanan Anda!" in body and "Thank you" not in body
    assert re.search(r"Rp\d{1,3}(\.\d{3})+", body)


def test_checking_out_in_german_on_kaffee(live_server, browser, live_smtp):
    email = f"jonas-{uuid.uuid4().hex[:8]}@example.com"
    context, page = _shopper(browser, "de-DE")
    try:
        page.goto(live_server.url("kaffee", "/"))
        assert page.locator("html").get_attribute("lang") == "de"
        _add_something(page, live_server, "kaffee", "In den Warenkorb")
        page.goto(live_server.url("kaffee", "/cart"))
        page.get_by_role("button", name="Zur Kasse").click()
        page.get_by_label("E-Mail").fill(email)
        page.get_by_role("button", name="Weiter zur Adresse").click()
        page.wait_for_url(re.compile(r"/checkout/address$"))
        page.get_by_label("Land", exact=True).select_option("DE")
        page.get_by_label("Vollständiger Name").fill("Jonas Weber")
        page.get_by_label("Adresszeile 1").fill("Torstraße 1")
        page.get_by_label("Ort", exact=True).fill("Berlin")
        page.get_by_label("Postleitzahl").fill("10119")
        page.get_by_role("button", name="Weiter zum Versand").click()
        page.get_by_role("button", name="Weiter zur Übersicht").click()
        page.wait_for_url(re.compile(r"/checkout/review$"))
        assert "€" in page.locator(".checkout-totals__total dd").inner_text()
        screenshot(page, f"i18n-kaffee-review-de-{live_server.mode}")
        page.set_viewport_size({"width": 390, "height": 844})
        screenshot(page, f"i18n-kaffee-review-de-390-{live_server.mode}")
        page.get_by_role("button", name=re.compile("Bestellen und bezahlen")).click()

        page.wait_for_url(re.compile(r"/pay/test/\d+\?key="))
        number = re.search(r"/pay/test/(\d+)", page.url).group(1)
        page.get_by_role("button", name="Approve payment").click()
        page.wait_for_url(re.compile(rf"/orders/{number}\?key="))
        page.locator(".order-status", has_text="Bezahlt").first.wait_for(timeout=20000)
        assert "Ihre Zahlung ist eingegangen" in page.locator(".order-status").inner_text()
        assert page.errors == []
    finally:
        context.close()

    (mail,) = wait_for_mail(live_smtp, email, 1)
    assert f"Bestellung Nr. {number} bestätigt" in str(mail["Subject"])
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Danke für Ihre Bestellung!" in body and "Zwischensumme" in body
    assert "Thank you" not in body and "\xa0€" in body
