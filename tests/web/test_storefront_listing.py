"""The store home and the listing pages: cards, filters, htmx swaps, pages and cross-store safety."""

import pytest

from app.catalog.service import VariantData
from tests.factories import make_category, make_image, make_product

HTMX = {"HX-Request": "true"}


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_store_home_shows_featured_categories_and_newest(client_for, store_a, store_b):
    clothes = make_category(store_a, "Clothes")
    make_category(store_a, "Shirts", parent=clothes)
    make_product(store_a, "Star Jacket", featured=True)
    make_product(store_a, "Plain Socks")
    make_product(store_a, "Secret Draft", featured=True, status="draft")
    make_product(store_b, "Bravo Thing", featured=True)
    html = html_of(client_for(store_a).get("/"))
    assert '<h1 class="hero__title">Alpha Goods</h1>' in html
    assert "Featured" in html and "New arrivals" in html and "Shop by category" in html
    assert html.count("Star Jacket") == 2  # featured, and among the newest
    assert "Plain Socks" in html and 'href="/categories/clothes/"' in html
    assert "/categories/shirts/" not in html  # top-level categories only
    assert "Secret Draft" not in html and "Bravo Thing" not in html


@pytest.mark.backends("sqlite")  # markup
def test_empty_store_home_says_it_is_being_stocked(client_for, store_a):
    html = html_of(client_for(store_a).get("/"))
    assert "being stocked" in html and "Featured" not in html


@pytest.mark.backends("sqlite")  # markup
def test_listing_cards_show_image_price_discount_and_stock(client_for, store_a):
    pictured = make_product(
        store_a,
        "Pictured Shirt",
        option_names=["Size"],
        variants=[
            VariantData("PS-S", 1500, ["S"], compare_at_price=2000, stock=2),
            VariantData("PS-M", 1800, ["M"], stock=2),
        ],
    )
    image = make_image(pictured, alt="Shirt on a hanger")
    make_product(store_a, "Gone Mug", variants=[VariantData("GM", 900, stock=0)])
    make_product(store_a, "Unlisted", status="archived")
    html = html_of(client_for(store_a).get("/products/"))
    assert f'src="/media/{image.key}/thumb.webp"' in html
    assert 'alt="Shirt on a hanger"' in html
    assert '<span class="product-card__from">from</span>' in html
    assert "$15.00" in html and "$20.00</s>" in html and "−25%" in html
    assert "Sold out" in html and "product-card--sold-out" in html
    assert "product-card__placeholder" in html  # the mug has no picture
    assert 'href="/products/pictured-shirt"' in html
    assert "Unlisted" not in html
    assert "2 products" in html


@pytest.mark.backends("sqlite")  # markup
def test_processing_image_shows_the_placeholder(app, client_for, store_a):
    from app.catalog.models import ProductImage
    from app.extensions import db

    product = make_product(store_a, "Fresh Upload")
    image = make_image(product)
    with app.app_context():
        db.session.get(ProductImage, image.id).status = "processing"
        db.session.commit()
    html = html_of(client_for(store_a).get("/products/"))
    assert "thumb.webp" not in html and "product-card__placeholder" in html


@pytest.mark.backends("sqlite")  # markup
def test_filters_are_a_get_form_that_htmx_swaps_and_pushes(client_for, store_a):
    make_category(store_a, "Clothes")
    make_product(store_a, "Linen Shirt", tags="summer")
    html = html_of(client_for(store_a).get("/products/"))
    assert '<form id="filters"' in html and 'method="get"' in html
    assert 'hx-get="/products/"' in html and 'hx-target="#results"' in html
    assert 'hx-push-url="true"' in html
    assert '<option value="clothes">' in html and '<option value="summer">' in html
    assert 'name="min"' in html and 'name="max"' in html and 'name="in_stock"' in html


@pytest.mark.backends("sqlite")  # htmx fragments and headers
def test_htmx_gets_only_the_results_block(client_for, store_a):
    make_product(store_a, "Linen Shirt", variants=[VariantData("LS", 4500, stock=1)])
    make_product(store_a, "Wool Hat", variants=[VariantData("WH", 1500, stock=1)])
    client = client_for(store_a)
    response = client.get("/products/?min=20&max=50&sort=price-asc", headers=HTMX)
    html = html_of(response)
    assert "<html" not in html and '<form id="filters"' not in html
    assert html.lstrip().startswith('<section id="results"')
    assert "Linen Shirt" in html and "Wool Hat" not in html
    assert "HX-Request" in response.headers["Vary"]
    empty_fields = client.get("/products/?category=&min=20&max=&tag=&sort=newest", headers=HTMX)
    assert empty_fields.headers["HX-Push-Url"] == "/products/?min=20&sort=newest"
    # The same URL without htmx (a shared link, back/forward) is the whole page, filled in.
    page = html_of(client.get("/products/?min=20&max=50&sort=price-asc"))
    assert "<html" in page and 'value="20"' in page and 'value="50"' in page
    assert '<option value="price-asc" selected>' in page
    assert "Linen Shirt" in page and "Wool Hat" not in page


@pytest.mark.backends("sqlite")  # markup; the subtree is walked in Python
def test_category_page_lists_the_subtree_and_offers_subcategories(client_for, store_a):
    clothes = make_category(store_a, "Clothes")
    shirts = make_category(store_a, "Shirts", parent=clothes)
    make_product(store_a, "Oxford Shirt", categories=[shirts])
    make_product(store_a, "Rain Coat", categories=[clothes])
    make_product(store_a, "Teapot")
    client = client_for(store_a)
    html = html_of(client.get("/categories/clothes/"))
    assert "<h1" in html and "Clothes" in html
    assert "Oxford Shirt" in html and "Rain Coat" in html and "Teapot" not in html
    assert 'href="/categories/shirts/"' in html
    assert 'hx-get="/categories/clothes/"' in html
    html = html_of(client.get("/categories/shirts/?in_stock=1", headers=HTMX))
    assert "<html" not in html and "Oxford Shirt" in html and "Rain Coat" not in html


@pytest.mark.parametrize(
    "query",
    [
        "page=-1",
        "page=0",
        "page=abc",
        "page=99999",
        "page=1e9",
        "page=",
        "min=abc&max=%27",
        "min=-5&max=1e999999",
        "min=NaN",
        "sort=%3Cscript%3E",
        "category=no-such&tag=%C0%80",
        "in_stock=maybe",
    ],
)
def test_junk_query_arguments_never_fail(client_for, store_a, query):
    for n in range(3):
        make_product(store_a, f"Thing {n}")
    response = client_for(store_a).get(f"/products/?{query}")
    assert response.status_code == 200
    assert "<script>" not in response.get_data(as_text=True).split("</head>")[1]


def test_pages_past_the_end_show_the_last_page_with_links(client_for, store_a):
    for n in range(26):
        make_product(store_a, f"Candle {n:02d}")
    client = client_for(store_a)
    last = html_of(client.get("/products/?page=50"))
    assert "Page 2 of 2" in last and "25–26 of 26" in last
    assert 'rel="prev" href="/products/"' in last
    first = html_of(client.get("/products/?page=-2&sort=price-asc"))
    assert "Page 1 of 2" in first
    assert 'href="/products/?sort=price-asc&amp;page=2"' in first
    assert first.count('<li class="product-card') == 24


@pytest.mark.backends("sqlite")  # markup
def test_no_results_links_to_the_categories(client_for, store_a):
    make_category(store_a, "Ceramics")
    make_product(store_a, "Bowl", variants=[VariantData("B", 500, stock=1)])
    html = html_of(client_for(store_a).get("/products/?min=100"))
    assert "No products match these filters" in html
    assert 'href="/categories/ceramics/"' in html


@pytest.mark.backends("sqlite")  # markup
def test_titles_and_tags_with_markup_are_inert(client_for, store_a):
    make_category(store_a, "<script>alert('cat')</script>", slug="evil")
    make_product(store_a, "<script>alert('x')</script> Mug", tags="<script>tag</script>")
    client = client_for(store_a)
    for path in ("/", "/products/", "/categories/evil/"):
        html = html_of(client.get(path))
        body = html.split("</head>")[1]
        assert "<script>" not in body
        assert "&lt;script&gt;" in body


@pytest.mark.parametrize("path", ["/products/", "/categories/clothes/"])
def test_listings_never_show_another_stores_products(client_for, store_a, store_b, path):
    mine = make_category(store_a, "Clothes")
    theirs = make_category(store_b, "Clothes")
    make_product(store_a, "Alpha Coat", categories=[mine])
    make_product(store_b, "Bravo Coat", categories=[theirs])
    html = html_of(client_for(store_a).get(path))
    assert "Alpha Coat" in html and "Bravo Coat" not in html


def test_another_stores_category_is_404(client_for, store_a, store_b):
    make_category(store_b, "Bravo Only")
    assert client_for(store_a).get("/categories/bravo-only/").status_code == 404
    assert client_for(store_b).get("/categories/bravo-only/").status_code == 200


@pytest.mark.backends("sqlite")  # host routing
@pytest.mark.parametrize("path", ["/products/", "/categories/x/", "/products/x", "/search/suggest"])
def test_store_pages_do_not_exist_on_the_platform_host(client, path):
    assert client.get(path).status_code == 404
