"""Stores speak their shoppers' language (issue 16, Languages): the storefront, checkout, account
pages and emails in English, Indonesian and German, chosen by the store's language, the
shopper's switcher and the browser; the dashboard in the member's own language; junk ignored."""

import re

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from app.orders.models import Order
from tests.accounts_helpers import last_email, sign_in_with_factor
from tests.conftest import BACKENDS, host_for, sign_in_as
from tests.factories import make_store, make_user
from tests.web.order_helpers import owner_of
from tests.web.test_checkout import add, to_review, variant_of

pytestmark = pytest.mark.backends("sqlite")

BANDUNG = {
    "country": "ID",
    "full_name": "Dewi Lestari",
    "line1": "Jl. Asia Afrika No. 8",
    "city": "Bandung",
    "region": "ID-JB",
    "postal_code": "40111",
}
BERLIN = {
    "country": "DE",
    "full_name": "Jonas Weber",
    "line1": "Torstraße 1",
    "city": "Berlin",
    "postal_code": "10119",
}
# One storefront phrase, its cart button and money, per language.
HOME = {
    "en": ("Shop all products", "Add to cart"),
    "id": ("Belanja semua produk", "Tambah ke keranjang"),
    "de": ("Alle Produkte entdecken", "In den Warenkorb"),
}


@pytest.fixture
def batik(app):
    return make_store("batik", "Batik Nusantara", currency="IDR", locale="id_ID")


@pytest.fixture
def kaffee(app):
    return make_store("kaffee", "Kaffeerösterei", currency="EUR", locale="de_DE")


def test_each_store_speaks_its_own_language_by_default(client_for, store_a, batik, kaffee):
    for store, language in ((store_a, "en"), (batik, "id"), (kaffee, "de")):
        variant_of(store, "Mug", price=1_250_000 if store is batik else 1250)
        page = client_for(store).get("/")
        assert page.status_code == 200
        assert f'<html lang="{language}">' in page.text
        assert HOME[language][0] in page.text and HOME[language][1] in page.text
        assert page.headers["Content-Language"] == language
        assert "Accept-Language" in page.headers["Vary"]
    # Money and numbers read the way the words do: rupiah without ",00", euros with a comma.
    assert "Rp12.500" in client_for(batik).get("/").text
    assert "12,50\xa0€" in client_for(kaffee).get("/").text


def test_the_browser_language_beats_the_store_default(client_for, batik, kaffee):
    variant_of(kaffee, "Mug", price=1250)
    english = client_for(kaffee).get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert "Shop all products" in english and "€12.50" in english
    indonesian = client_for(kaffee).get("/", headers={"Accept-Language": "id"}).text
    assert "Belanja semua produk" in indonesian and "€12,50" in indonesian
    # A language Pasar doesn't speak falls back to the store's.
    french = client_for(batik).get("/", headers={"Accept-Language": "fr-FR,fr"}).text
    assert '<html lang="id">' in french and "Toko sedang diisi" in french


def test_the_switcher_is_a_plain_form_and_its_choice_is_remembered(client_for, batik):
    client = client_for(batik)
    page = client.get("/products/")
    form = re.search(r'<form class="language-switch".*?</form>', page.text, re.S).group(0)
    assert 'action="/language"' in form and 'name="next" value="/products/"' in form
    assert 'value="de"' in form and 'value="en"' in form and "Bahasa Indonesia" in form
    switched = client.post("/language", data={"lang": "de", "next": "/products/"})
    assert switched.status_code == 303 and switched.location == "/products/"
    for path in ("/", "/products/", "/cart"):
        assert '<html lang="de">' in client.get(path).text
    # The choice beats the browser's language too.
    chosen = client.get("/", headers={"Accept-Language": "en"}).text
    assert '<html lang="de">' in chosen and "Der Shop wird gerade bestückt" in chosen


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_the_switcher_answers_htmx_with_a_full_redirect(client_for, batik):
    client = client_for(batik)
    answer = client.post(
        "/language", data={"lang": "en", "next": "/cart"}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == "/cart"
    assert '<html lang="en">' in client.get("/cart").text
    # Fragments htmx swaps in later come in the chosen language as well.
    fragment = client.get("/search/suggest?q=mug", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text


@pytest.mark.parametrize(
    "junk",
    ["xx", "<script>alert(1)</script>", "de\r\nSet-Cookie: x=1", "../../etc", "d" * 5000, ""],
)
def test_junk_languages_are_ignored_never_reflected_never_a_500(client_for, batik, junk):
    client = client_for(batik)
    # As a query parameter, a header (where a client can send it) and a switcher choice.
    header = {} if "\n" in junk else {"Accept-Language": junk[:900]}
    page = client.get("/", query_string={"lang": junk}, headers=header)
    assert page.status_code in (200, 400, 414)
    if page.status_code == 200:
        assert '<html lang="id">' in page.text and page.headers["Content-Language"] == "id"
        assert "<script>alert(1)</script>" not in page.text
    switched = client.post("/language", data={"lang": junk, "next": "https://evil.example/"})
    assert switched.status_code in (303, 400)
    if switched.status_code == 303:
        assert switched.location == "/"  # no open redirect
    assert '<html lang="id">' in client.get("/").text


def test_a_lang_parameter_changes_one_page_only(client_for, batik):
    client = client_for(batik)
    assert '<html lang="en">' in client.get("/?lang=en").text
    assert '<html lang="id">' in client.get("/").text


def _checkout(client_for, store, address, email, language=None):
    """A guest checks out (in `language`, chosen with the switcher) and approves on the test
    gateway: returns the client."""
    client = client_for(store)
    if language:
        client.post("/language", data={"lang": language, "next": "/"})
    add(client, variant_of(store, "Teh", price=4_500_000 if store.currency == "IDR" else 4500))
    key = to_review(client, email=email, address=address)
    review = client.get("/checkout/review").text
    pay_url = client.post("/checkout/place", data={"idempotency_key": key}).location
    number, order_key = re.search(r"/pay/test/(\d+)\?key=([^&\"]+)", pay_url).groups()
    approved = client.post(f"/pay/test/{number}/approve?key={order_key}")
    assert approved.status_code == 303
    return client, review, client.get(approved.location).text


def test_checking_out_in_indonesian_sends_an_indonesian_confirmation(app, client_for, batik):
    _, review, status = _checkout(client_for, batik, BANDUNG, "dewi@example.com")
    assert "Tinjau dan bayar" in review and "Buat pesanan dan bayar" in review
    assert "Terima kasih atas pesanan Anda" in status
    mail = last_email(app, "dewi@example.com")
    assert re.match(r"\[Uji coba\] Pesanan #\d+ dikonfirmasi: terima kasih", mail.subject)
    assert "Terima kasih atas pesanan Anda!" in mail.text_body
    assert "Terima kasih atas pesanan Anda!" in mail.html_body and 'lang="id"' in mail.html_body
    assert "Rp45.000" in mail.text_body and "Thank you" not in mail.text_body
    with app.app_context():
        assert db.session.scalar(select(Order.locale)) == "id"


def test_checking_out_in_german_sends_a_german_confirmation(app, client_for, kaffee):
    _checkout(client_for, kaffee, BERLIN, "jonas@example.com")
    mail = last_email(app, "jonas@example.com")
    assert re.search(r"Bestellung Nr\. \d+ bestätigt: Danke", mail.subject)
    assert "Danke für Ihre Bestellung!" in mail.text_body and "45,00\xa0€" in mail.text_body
    assert "Zwischensumme" in mail.html_body and "Deutschland" in mail.text_body


def test_the_shopper_choice_beats_the_store_language_in_the_email(app, client_for, kaffee):
    _checkout(client_for, kaffee, BERLIN, "lee@example.com", language="en")
    mail = last_email(app, "lee@example.com")
    assert "Thank you for your order!" in mail.text_body and "€45.00" in mail.text_body
    assert "Danke" not in mail.text_body


def test_the_owner_is_told_in_their_own_language(app, client_for, batik):
    owner = owner_of(app, batik)
    with app.app_context():
        db.session.get(User, owner.id).language = "de"
        db.session.commit()
    _checkout(client_for, batik, BANDUNG, "dewi@example.com")
    notice = last_email(app, owner.email)
    assert notice.template == "new_order" and "Neue Bestellung Nr. " in notice.subject
    assert "bezahlt" in notice.text_body


def test_account_emails_speak_the_page_language(app, client_for, kaffee):
    client = client_for(kaffee)
    client.post(
        "/account/register",
        data={"name": "Jonas", "email": "new@example.com", "password": "kaffee-bohne-2026"},
    )
    mail = last_email(app, "new@example.com")
    assert "Ihr Bestätigungscode lautet" in mail.text_body


def test_shopper_messages_and_validation_are_translated(client_for, batik):
    client = client_for(batik)
    empty = client.post("/cart/items", data={"variant_id": "999999", "quantity": "1"})
    assert "Produk itu tidak tersedia." in empty.text or empty.status_code == 404
    add(client, variant_of(batik, "Kain", price=1_000_000))
    client.post("/checkout/contact", data={"email": "x@example.com"})
    refused = client.post("/checkout/address", data={**BANDUNG, "postal_code": "ABC"})
    assert refused.status_code == 422
    assert "Masukkan kode pos yang valid untuk Indonesia" in refused.text
    assert "Negara" in refused.text  # the country field's label


def test_members_read_the_dashboard_in_their_own_language(app, client_for, batik):
    """The dashboard follows the member, not the store: Batik's owner reads English by default
    even though Batik's shoppers read Indonesian; the profile setting switches it."""
    owner = owner_of(app, batik)
    client = client_for(batik)
    sign_in_as(client, owner)
    assert '<html lang="en">' in client.get("/admin/").text
    assert '<html lang="de">' in client.get("/admin/", headers={"Accept-Language": "de"}).text
    profile = client.post("/account/", data={"name": "Owner", "language": "de"})
    assert profile.status_code == 303
    with app.app_context():
        assert db.session.get(User, owner.id).language == "de"
    assert '<html lang="de">' in client.get("/admin/", headers={"Accept-Language": "en"}).text
    refused = client.post("/account/", data={"name": "Owner", "language": "xx"})
    assert refused.status_code == 422 or "Choose a language" in refused.text


def test_a_member_without_a_preference_gets_english_on_the_console_host(app, client_for):
    make_user("plain@example.com")
    page = client_for(None).get("/", headers={"Accept-Language": "id-ID"})
    assert '<html lang="id">' in page.text
    assert '<html lang="en">' in client_for(None).get("/").text


# The dashboard's and the console's own words, per member language (issue 16): one phrase from
# the shell, the home page, the products list and the console overview, and a form's refusal.
MEMBER_PAGES = {
    "en": {
        "home": ("Overview", "Sales today", "What your role can do"),
        "products": ("Add product", "All statuses", "No products yet."),
        "console": ("Platform overview", "Paid orders", "Latest activity"),
        "refusal": "Give the product a title.",
    },
    "id": {
        "home": ("Ringkasan", "Penjualan hari ini", "Yang bisa dilakukan peran Anda"),
        "products": ("Tambah produk", "Semua status", "Belum ada produk."),
        "console": ("Ringkasan platform", "Pesanan lunas", "Aktivitas terbaru"),
        "refusal": "Beri produk sebuah judul.",
    },
    "de": {
        "home": ("Übersicht", "Umsatz heute", "Was Ihre Rolle darf"),
        "products": ("Produkt hinzufügen", "Alle Status", "Noch keine Produkte."),
        "console": ("Plattformübersicht", "Bezahlte Bestellungen", "Neueste Aktivität"),
        "refusal": "Geben Sie dem Produkt einen Titel.",
    },
}


def _prefer(app, user, language):
    with app.app_context():
        db.session.get(User, user.id).language = language
        db.session.commit()


def _english_absent(page: str, phrases) -> None:
    for phrase in phrases:
        assert phrase not in page, phrase


@pytest.mark.parametrize("language", ["id", "de"])
def test_the_dashboard_speaks_the_members_language(app, client_for, store_a, language):
    """Home and products list in the member's own language, whatever the browser asks for and
    although the store's shoppers read English; the form's refusal too."""
    owner = owner_of(app, store_a)
    _prefer(app, owner, language)
    client = client_for(store_a)
    sign_in_as(client, owner)
    words = MEMBER_PAGES[language]
    home = client.get("/admin/", headers={"Accept-Language": "en"})
    assert home.status_code == 200
    assert f'<html lang="{language}">' in home.text
    for phrase in words["home"]:
        assert phrase in home.text
    _english_absent(home.text, MEMBER_PAGES["en"]["home"][1:])
    products = client.get("/admin/products/")
    assert products.status_code == 200
    for phrase in words["products"]:
        assert phrase in products.text
    _english_absent(products.text, MEMBER_PAGES["en"]["products"])
    refused = client.post("/admin/products/new", data={"title": "", "price": "5", "sku": "X-1"})
    assert refused.status_code == 422
    assert words["refusal"] in refused.text
    assert MEMBER_PAGES["en"]["refusal"] not in refused.text


@pytest.mark.parametrize("language", ["id", "de"])
def test_the_console_speaks_the_admins_language(app, client_for, language):
    root = make_user("root@example.com", superuser=True)
    _prefer(app, root, language)
    client = client_for(None)
    sign_in_with_factor(client, root)
    page = client.get("/console/")
    assert page.status_code == 200
    assert f'<html lang="{language}">' in page.text
    for phrase in MEMBER_PAGES[language]["console"]:
        assert phrase in page.text
    _english_absent(page.text, MEMBER_PAGES["en"]["console"])
    # A refused date range answers in the same language, never a 500.
    refused = client.get("/console/", query_string={"from": "2026-13-45"})
    assert refused.status_code == 422
    assert {"id": "Gunakan tanggal", "de": "Verwenden Sie Daten"}[language] in refused.text


@pytest.mark.parametrize("junk", ["xx", "zz-ZZ", "<b>", "de_DE\n", ""])
def test_a_junk_preference_falls_back_to_english(app, client_for, store_a, junk):
    """A preference Pasar doesn't speak (or hostile text in the column) is ignored: English,
    never reflected, never a 500; the browser's language still counts after it."""
    owner = owner_of(app, store_a)
    _prefer(app, owner, junk)
    client = client_for(store_a)
    sign_in_as(client, owner)
    home = client.get("/admin/")
    assert home.status_code == 200
    assert '<html lang="en">' in home.text
    for phrase in MEMBER_PAGES["en"]["home"]:
        assert phrase in home.text
    assert "<b>" not in home.text.split("<body", 1)[0]
    products = client.get("/admin/products/", headers={"Accept-Language": "junk;;q=x"})
    assert products.status_code == 200
    assert MEMBER_PAGES["en"]["products"][0] in products.text
    browser = client.get("/admin/products/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert MEMBER_PAGES["de"]["products"][0] in browser.text


def test_templates_follow_a_language_switched_inside_the_request(app, kaffee):
    """Templates keep the request's catalog beside its locale (app.i18n._translations): a page in
    English that renders an email in German (`use_language`) gets German inside and English
    again after, and `refresh` (after a new choice of language) takes effect at once."""
    from flask import render_template_string, session
    from flask_babel import refresh

    from app.i18n import SESSION_KEY, use_language

    with app.test_request_context("/", headers={"Host": host_for(kaffee), "Accept-Language": "en"}):
        app.preprocess_request()  # resolves the store, as a request to it would
        cart = "{{ _('Cart') }}"
        assert render_template_string(cart) == "Cart"
        with use_language("de"):
            assert render_template_string(cart) == "Warenkorb"
            with use_language("en"):
                assert render_template_string(cart) == "Cart"
            assert render_template_string(cart) == "Warenkorb"
        assert render_template_string(cart) == "Cart"
        session[SESSION_KEY] = "de"  # the switcher's choice, as its view saves it
        refresh()
        assert render_template_string(cart) == "Warenkorb"
