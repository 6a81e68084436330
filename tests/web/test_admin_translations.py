"""The last English in the admin (issue 16): a German- or Indonesian-speaking vendor reads the
shared services' refusals, the stock sync's stored row messages, the pager and the sidebar in
their own language, and the static scripts take their words from the page."""

import html
import io
import re
from pathlib import Path

import pytest
from flask_babel import gettext, pgettext

from app.accounts.models import User
from app.catalog.service import VariantData
from app.extensions import db
from app.i18n import use_language
from app.pagination import Page, range_phrase
from app.stocksync.messages import REGISTRY, shown
from app.stored_messages import english, translate_stored
from tests.accounts_helpers import mark_recently_confirmed
from tests.conftest import sign_in_as
from tests.factories import make_category, make_product
from tests.web.order_helpers import make_variant, owner_of

# Translated words, numbers and markup: what the app says, not what the database does.
pytestmark = pytest.mark.backends("sqlite")


def _speaking(app, client_for, store, language):
    owner = owner_of(app, store)
    with app.app_context():
        db.session.get(User, owner.id).language = language
        db.session.commit()
    client = client_for(store)
    sign_in_as(client, owner)
    return client


@pytest.fixture
def german(app, client_for, store_a):
    """The owner of store A, who reads German (the store's shoppers read English)."""
    return _speaking(app, client_for, store_a, "de")


@pytest.fixture
def tee(store_a):
    return make_product(
        store_a,
        "Tee",
        variants=[VariantData("TEE-S", 1000, ["S"], stock=4), VariantData("TEE-M", 1200, ["M"])],
        option_names=["Size"],
    )


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# Catalog editing and amounts -------------------------------------------------------------------


def test_a_german_vendor_reads_catalog_editing_refusals_in_german(german, tee):
    """An option without values, a price that isn't a number and a compare-at price below the
    price: each refusal in German, none in English."""
    options = german.post(
        f"/admin/products/{tee.id}/options", data={"option1_name": "Size", "option1_values": ""}
    )
    assert options.status_code == 422
    assert "Geben Sie der Option „Size“ mindestens einen Wert." in text(options)
    assert "at least one value" not in text(options)

    row = {"sku": "TEE-S", "price": "zwölf", "compare_at_price": "5", "stock": "4"}
    refused = german.post(f"/admin/products/{tee.id}/variants/{tee.variants[0].id}", data=row)
    body = text(refused)
    assert refused.status_code == 422
    assert "Der Preis muss eine Zahl wie 19.99 sein." in body
    assert "must be a number" not in body
    row["price"] = "10"
    refused = german.post(f"/admin/products/{tee.id}/variants/{tee.variants[0].id}", data=row)
    assert "Der Vergleichspreis muss höher als der Preis sein." in text(refused)


def test_the_same_refusal_stays_english_for_an_english_vendor(app, client_for, store_a, tee):
    client = _speaking(app, client_for, store_a, "en")
    refused = client.post(
        f"/admin/products/{tee.id}/options", data={"option1_name": "Size", "option1_values": ""}
    )
    assert "Give the option “Size” at least one value." in text(refused)


# Stock sync: stored in English, shown in the reader's language ---------------------------------


def test_a_german_vendor_reads_stock_sync_row_errors_in_german(app, german, store_a):
    make_variant(store_a, "LAMP", 1000, stock=10)
    upload = german.post(
        "/admin/stock-sync/",
        data={"file": (io.BytesIO(b"sku,stock,price\nLAMP,-2,\nNOPE,1,\nLAMP,3,abc\n"), "s.csv")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 303
    run_id = int(upload.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    from app.stocksync.models import ImportRow

    with app.app_context():
        stored = sorted(
            db.session.scalars(db.select(ImportRow.message).where(ImportRow.run_id == run_id)).all()
        )
    # The database keeps the English the worker wrote.
    assert "Stock can't be negative." in stored
    assert "No product in this store has this SKU." in stored
    page = text(german.get(f"/admin/stock-sync/{run_id}?show=error"))
    assert "Der Bestand darf nicht negativ sein." in page
    assert "Kein Produkt in diesem Shop hat diese SKU." in page
    assert "Diese SKU steht schon in Zeile 2; jede SKU darf nur einmal vorkommen." in page
    for english_text in stored:
        assert english_text not in page


def test_a_stock_file_refused_at_upload_is_explained_in_german(german):
    refused = german.post(
        "/admin/stock-sync/",
        data={"file": (io.BytesIO(b"code,amount\nA,1\n"), "s.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "Die erste Zeile muss die Spalten benennen" in text(refused)
    assert "Es fehlt: sku, stock." in text(refused)


def test_stored_messages_translate_back_with_their_parts(app):
    """Placeholders that are messages themselves (a label, notes joined with "; ") are
    translated too, English-grouped numbers regrouped; text no message made is left alone."""
    stored = english(
        "Not undone: %(notes)s.",
        notes="; ".join(
            [
                english(
                    "only %(left)s of %(taken)s could be taken back (sold since the sync)",
                    left="1,250",
                    taken="8",
                ),
                "the price was changed after the sync, so it was kept",
            ]
        ),
    )
    amount = "The compare-at price must be a number such as 19.99."
    with app.test_request_context():
        with use_language("de"):
            assert shown(stored) == (
                "Nicht rückgängig gemacht: nur 1.250 von 8 konnten zurückgenommen werden (seit "
                "dem Abgleich verkauft); der Preis wurde nach dem Abgleich geändert und deshalb "
                "beibehalten."
            )
            assert shown(amount) == "Der Vergleichspreis muss eine Zahl wie 19.99 sein."
            assert shown("Lost connection to Redis") == "Lost connection to Redis"
            assert shown("") == ""
        with use_language("id"):
            assert shown("The SKU is longer than 64 characters.") == (
                "SKU lebih panjang dari 64 karakter."
            )
        with use_language("en"):
            assert shown(stored) == stored
    # Without a request or a language (a job, a shell) the text is what was stored.
    assert translate_stored(stored, REGISTRY) == stored


def test_every_stored_stock_sync_message_is_in_the_catalogs(app):
    """The registry is the list the page translates by: each entry has a German translation."""
    with app.test_request_context(), use_language("de"):
        untranslated = [msgid for msgid in REGISTRY if gettext(msgid) == msgid]
    assert untranslated == []


# The pager ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected", "empty"),
    [
        ("en", "1–25 of 12,345 orders", "0 orders"),
        ("de", "1–25 von 12.345 Bestellungen", "0 Bestellungen"),
        ("id", "1–25 dari 12.345 pesanan", "0 pesanan"),
    ],
)
def test_the_pager_phrase_is_translated_with_locale_numbers(app, language, expected, empty):
    with app.test_request_context(), use_language(language):
        assert range_phrase(Page([], 1, 25, 12_345), "order") == expected
        assert range_phrase(Page([], 1, 25, 0), "order") == empty
    with app.test_request_context(), use_language("de"):
        assert range_phrase(Page([], 1, 25, 1), "product") == "1–1 von 1 Produkt"
        assert range_phrase(Page([], 2, 25, 27), "product") == "26–27 von 27 Produkten"


def test_a_german_vendor_reads_the_pager_of_the_products_list_in_german(german, store_a):
    for number in range(27):
        make_variant(store_a, f"SKU-{number}", 1000)
    first = text(german.get("/admin/products/"))
    assert "1–25 von 27 Produkten" in first and "Seite 1 von 2" in first
    assert "of 27 products" not in first


# The sidebar -------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "word"), [("de", "Kasse"), ("id", "Checkout")])
def test_the_sidebar_says_checkout_as_a_vendor_would(app, client_for, store_a, language, word):
    client = _speaking(app, client_for, store_a, language)
    home = text(client.get("/admin/"))
    link = re.search(r'<a href="/admin/settings/checkout"[^>]*>([^<]+)</a>', home)
    assert link is not None and link.group(1) == word
    assert "Zur Kasse" not in home
    mark_recently_confirmed(client, owner_of(app, store_a))
    settings = client.get("/admin/settings/checkout")
    assert settings.status_code == 200
    assert re.search(rf"<title>{word}\b", text(settings))


def test_shoppers_still_go_zur_kasse(app):
    """Only the admin entry has its own msgid: the shopper's German word is untouched."""
    with app.test_request_context(), use_language("de"):
        assert gettext("Checkout") == "Zur Kasse"
        assert pgettext("admin sidebar", "Checkout") == "Kasse"


# Static JavaScript takes its words from the page -----------------------------------------------


def test_the_product_page_gives_the_scripts_their_words_in_german(german, store_a, tee):
    make_category(store_a, "Shirts")
    page = german.get(f"/admin/products/{tee.id}/edit").get_data(as_text=True)
    picker = re.search(r"<fieldset[^>]*data-category-picker[^>]*>", page).group(0)
    assert 'data-text-matches-one="{n} Kategorie passt"' in picker
    assert 'data-text-matches-other="{n} Kategorien passen"' in picker
    assert 'data-text-remove="{name} entfernen"' in picker
    zone = re.search(r"<form[^>]*data-dropzone[^>]*>", page).group(0)
    assert 'data-text-bad-type="Kein JPEG-, PNG- oder WebP-Bild"' in zone
    assert 'data-text-too-large="Größer als 10 MB"' in zone
    assert 'data-text-too-many="Über der Bildergrenze dieses Produkts"' in zone


@pytest.mark.parametrize(
    ("script", "attributes", "english_words"),
    [
        (
            "category-picker.js",
            ("matches-one", "matches-other", "remove"),
            ("category matches", "categories match", '"Remove '),
        ),
        (
            "image-dropzone.js",
            ("data-text-bad-type", "data-text-too-large", "data-text-too-many"),
            ("Not a JPEG", "Larger than", "limit of images"),
        ),
    ],
)
def test_the_scripts_hold_no_english_of_their_own(script, attributes, english_words):
    source = (Path(__file__).resolve().parents[2] / "static" / "js" / script).read_text()
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))
    for attribute in attributes:
        assert attribute in code
    for words in english_words:
        assert words not in code
