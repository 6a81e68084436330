"""The product page: gallery, price, variant picker (htmx and without), SEO data, redirects, 404s."""

import json
import re

import pytest
from sqlalchemy import event

from app.catalog.models import Product, ProductSlugRedirect
from app.catalog.service import VariantData
from app.extensions import db
from tests.conftest import BACKENDS, PLATFORM
from tests.factories import make_category, make_image, make_product

# One backend: the product page's markup and htmx answers (see "Which tests run on both databases" in the README).
pytestmark = pytest.mark.backends("sqlite")

HTMX = {"HX-Request": "true"}


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def json_ld(html: str) -> dict:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert found, "no JSON-LD"
    return json.loads(found.group(1))


def make_shirt(store, **fields):
    return make_product(
        store,
        fields.pop("title", "Batik Shirt"),
        option_names=["Size", "Colour"],
        variants=[
            VariantData("BS-S-RED", 1500, ["S", "Red"], compare_at_price=2000, stock=0),
            VariantData("BS-M-RED", 1800, ["M", "Red"], stock=3),
            VariantData("BS-M-BLUE", 1900, ["M", "Blue"], stock=20),
        ],
        description_md="Hand-drawn **batik**.\n\n<script>alert(1)</script>",
        faqs=[("Does it shrink?", "No.\nWash cold."), ("Where is it made?", "Solo.")],
        tags="cotton, <b>bold</b>",
        seo_description="A hand-drawn batik shirt.",
        **fields,
    )


def test_product_page_shows_gallery_price_picker_description_and_faq(client_for, store_a):
    shirt = make_shirt(store_a)
    first = make_image(shirt, alt="Front view")
    second = make_image(shirt, alt="")
    html = html_of(client_for(store_a).get("/products/batik-shirt"))
    assert '<h1 class="product__title">Batik Shirt</h1>' in html
    # Gallery: in order, medium with a large srcset, alt text (the title when none was given).
    assert html.index(f"/media/{first.key}/medium.webp") < html.index(f"/media/{second.key}/medium")
    assert f"/media/{first.key}/large.webp 1600w" in html
    assert 'alt="Front view"' in html and 'alt="Batik Shirt"' in html
    # Opens on the first variant in stock.
    assert "$18.00" in html and "BS-M-RED" in html and "Only 3 left" in html
    # One select per option, with hx-include of the picker, and a submit without JS.
    assert html.count('<select id="pick-option') == 2
    assert 'hx-get="/products/batik-shirt/variant"' in html
    assert 'hx-include="#variant-picker"' in html and 'hx-target="#buy-box"' in html
    assert '<option value="M" selected>' in html and '<option value="Red" selected>' in html
    assert 'action="/products/batik-shirt/variant"' in html and ">Choose</button>" in html
    # The sanitised description renders as HTML; the script the vendor typed does not.
    assert "<strong>batik</strong>" in html
    assert "<script>alert(1)" not in html
    assert "Does it shrink?" in html and "Wash cold." in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_a_discounted_variant_shows_compare_at_and_percent(client_for, store_a):
    make_shirt(store_a)
    html = html_of(client_for(store_a).get("/products/batik-shirt?option1=S&option2=Red"))
    assert "$15.00" in html and "$20.00</s>" in html and "Save 25%" in html
    assert "Sold out" in html


def test_json_ld_and_open_graph(client_for, store_a):
    shirt = make_shirt(store_a, title="Shirt </script><script>alert(1)</script>")
    image = make_image(shirt, alt="Front")
    html = html_of(client_for(store_a).get(f"/products/{shirt.slug}"))
    data = json_ld(html)
    url = f"http://alpha.{PLATFORM}/products/{shirt.slug}"
    assert data["@type"] == "Product" and data["name"].startswith("Shirt </script>")
    assert data["sku"] == "BS-M-RED" and data["description"] == "A hand-drawn batik shirt."
    assert data["image"] == [f"http://alpha.{PLATFORM}/media/{image.key}/large.webp"]
    assert data["offers"] == {
        "@type": "Offer",
        "url": url,
        "sku": "BS-M-RED",
        "price": "18.00",
        "priceCurrency": "USD",
        "availability": "https://schema.org/InStock",
    }
    head = html.split("</head>")[0]
    # htmx, its SSE extension, pasar.js, live.js and the JSON-LD data block only
    assert head.count("<script") == 5
    assert '<meta property="og:type" content="product">' in head
    assert f'<meta property="og:url" content="{url}">' in head
    assert f'<meta property="og:image" content="{data["image"][0]}">' in head
    assert '<meta property="og:description" content="A hand-drawn batik shirt.">' in head
    assert 'og:title" content="Shirt &lt;/script&gt;&lt;script&gt;alert(1)' in head
    body = html.split("</head>")[1]
    assert "<script>" not in body and "style=" not in body


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_variant_endpoint_swaps_price_stock_and_sku(client_for, store_a):
    make_shirt(store_a)
    client = client_for(store_a)
    response = client.get("/products/batik-shirt/variant?option1=M&option2=Blue", headers=HTMX)
    html = html_of(response)
    assert html.startswith('<div id="buy-box"') and "<html" not in html
    assert "$19.00" in html and "BS-M-BLUE" in html and "In stock" in html
    variant_id = _variant_id("BS-M-BLUE")
    assert response.headers["HX-Replace-Url"] == f"/products/batik-shirt?variant={variant_id}"
    assert "HX-Request" in response.headers["Vary"]
    missing = client.get("/products/batik-shirt/variant?option1=S&option2=Blue", headers=HTMX)
    assert "isn't available" in html_of(missing) and "HX-Replace-Url" not in missing.headers


def test_without_javascript_choose_reloads_the_page_on_the_variant(client_for, store_a):
    make_shirt(store_a)
    client = client_for(store_a)
    response = client.get("/products/batik-shirt/variant?option1=M&option2=Blue")
    variant_id = _variant_id("BS-M-BLUE")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/products/batik-shirt?variant={variant_id}"
    html = html_of(client.get(response.headers["Location"]))
    assert "BS-M-BLUE" in html and '<option value="Blue" selected>' in html
    # A combination that doesn't exist reloads with the choice kept, and says so.
    response = client.get("/products/batik-shirt/variant?option1=S&option2=Blue")
    assert response.status_code == 303
    html = html_of(client.get(response.headers["Location"]))
    assert "isn't available" in html and '<option value="Blue" selected>' in html


def test_a_product_without_options_has_no_picker(client_for, store_a):
    make_product(store_a, "Gift Card", variants=[VariantData("GC", 5000, stock=0)])
    html = html_of(client_for(store_a).get("/products/gift-card"))
    assert "variant-picker" not in html and "$50.00" in html and "Sold out" in html
    assert json_ld(html)["offers"]["availability"] == "https://schema.org/OutOfStock"
    assert "gallery__placeholder" in html and "og:image" not in html


def test_related_products_share_a_category(client_for, store_a):
    shirts = make_category(store_a, "Shirts")
    make_shirt(store_a, categories=[shirts])
    for n in range(6):
        make_product(store_a, f"Other Shirt {n}", categories=[shirts])
    make_product(store_a, "Hidden Shirt", categories=[shirts], status="draft")
    make_product(store_a, "A Teapot")
    html = html_of(client_for(store_a).get("/products/batik-shirt"))
    related = html.split("You may also like")[1]
    assert related.count('<li class="product-card') == 4
    assert "Hidden Shirt" not in related and "A Teapot" not in related
    assert "Batik Shirt</span>" not in related
    assert 'href="/categories/shirts/"' in html  # breadcrumb


def test_an_old_slug_answers_301_to_the_current_one(app, client_for, store_a):
    shirt = make_shirt(store_a)
    with app.app_context():
        db.session.add(
            ProductSlugRedirect(store_id=store_a.id, product_id=shirt.id, old_slug="old")
        )
        db.session.commit()
    response = client_for(store_a).get("/products/old?variant=5")
    assert response.status_code == 301
    assert response.headers["Location"] == "/products/batik-shirt?variant=5"


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_hidden_products_are_404(app, client_for, store_a, status):
    shirt = make_shirt(store_a, status=status)
    with app.app_context():
        db.session.add(
            ProductSlugRedirect(store_id=store_a.id, product_id=shirt.id, old_slug="was")
        )
        db.session.commit()
    client = client_for(store_a)
    for path in ("/products/batik-shirt", "/products/was", "/products/batik-shirt/variant"):
        assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/products/no-such-thing",
        "/products/no-such-thing/variant?option1=M",
        "/products/a%C0%80b",  # an overlong NUL (a NUL itself is a 400: tests/security)
        "/products/" + "x" * 400,
        "/products/batik-shirt/variant?variant=abc",
        "/products/batik-shirt/variant?variant=-1",
        "/products/batik-shirt/variant?variant=99999999999999",
    ],
)
def test_unknown_products_and_variants_are_404(client_for, store_a, path):
    make_shirt(store_a)
    assert client_for(store_a).get(path, headers=HTMX).status_code == 404


@pytest.mark.parametrize("query", ["?variant=abc", "?variant=-1", "?option1=%C0%80", "?option9=x"])
def test_junk_variant_choices_still_show_the_page(client_for, store_a, query):
    make_shirt(store_a)
    assert client_for(store_a).get(f"/products/batik-shirt{query}").status_code == 200


def _variant_id(sku: str) -> int:
    from app.catalog.models import Variant
    from tests import factories

    with factories.CURRENT_APP.app_context():
        return db.session.query(Variant.id).filter(Variant.sku == sku).scalar()


def _other_stores_product(app, store_b) -> tuple[Product, int]:
    shirt = make_shirt(store_b, title="Bravo Shirt")
    return shirt, _variant_id("BS-M-BLUE")


@pytest.mark.parametrize(
    "path",
    [
        "/products/{slug}",
        "/products/{slug}/variant",
        "/products/{slug}/variant?option1=M&option2=Blue",
        "/products/{own}/variant?variant={variant}",
        "/products/{own_old}",
    ],
)
def test_another_stores_product_is_404_on_this_host(app, client_for, store_a, store_b, path):
    make_product(
        store_a, "Alpha Own", option_names=["Size"], variants=[VariantData("AO", 1, ["M"])]
    )
    theirs, their_variant = _other_stores_product(app, store_b)
    with app.app_context():
        # An old slug recorded for store B must not redirect on store A's host.
        db.session.add(
            ProductSlugRedirect(store_id=store_b.id, product_id=theirs.id, old_slug="alpha-own-old")
        )
        db.session.commit()
    url = path.format(
        slug=theirs.slug, own="alpha-own", variant=their_variant, own_old="alpha-own-old"
    )
    for headers in ({}, HTMX):
        assert client_for(store_a).get(url, headers=headers).status_code == 404
    # On its own host the product is there.
    assert client_for(store_b).get(f"/products/{theirs.slug}").status_code == 200


def _statements(app, client, path):
    statements = []

    def on_execute(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            html_of(client.get(path))
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
    return statements


def test_the_product_page_runs_the_same_few_queries_whatever_the_product_has(
    app, client_for, store_a
):
    shirts, sale, tops = (make_category(store_a, name) for name in ("Shirts", "Sale", "Tops"))
    make_product(store_a, "Plain Mug", categories=[shirts])
    rich = make_shirt(store_a, categories=[shirts, sale, tops])
    for n in range(12):
        other = make_product(store_a, f"Other {n}", categories=[[shirts, sale, tops][n % 3]])
        make_image(other)
    make_image(rich)
    make_image(rich)
    app.config["PAGE_CACHE_TTL"] = 0  # the rendering itself (the page cache has its tests)
    client = client_for(store_a)
    html_of(client.get("/products/plain-mug"))  # warm the per-process caches
    plain = _statements(app, client, "/products/plain-mug")
    full = _statements(app, client, "/products/batik-shirt")
    # 13: one of them sums the variants' live stock holds (units nobody else can buy).
    assert len(plain) == len(full) <= 13, (len(plain), len(full))
    # Related products: newest first across the product's categories, itself excluded.
    related = html_of(client.get("/products/batik-shirt")).split("You may also like")[1]
    titles = re.findall(r'product-card__title">([^<]+)<', related)
    assert titles == ["Other 11", "Other 10", "Other 9", "Other 8"]
