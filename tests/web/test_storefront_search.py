"""Search on a store's host: the header box, live suggestions, results, hostile queries."""

from urllib.parse import quote_plus

import pytest

from tests.factories import make_category, make_image, make_product

HTMX = {"HX-Request": "true"}
HOSTILE = [
    '"quoted phrase"',
    "'single' quotes",
    "100% cotton",
    "back\\slash\\\\",
    "<script>alert(1)</script>",
    "x" * 2000,
    ("teapot " * 286)[:2000],
    "AND OR NOT * ^ : ( ) NEAR",
    "%_%",
    "\xc0\x80",  # a NUL itself is refused before search runs (tests/security)
    "",
    "   ",
]


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def body_of(html: str) -> str:
    """The page without its <head> (which holds the JSON-LD and the page's own scripts)."""
    return html.split("</head>", 1)[-1]


def test_the_header_has_a_live_search_box(client_for, store_a):
    html = html_of(client_for(store_a).get("/"))
    assert 'action="/search"' in html and 'name="q"' in html
    assert 'hx-get="/search/suggest"' in html
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    assert 'hx-target="#search-suggest"' in html and 'id="search-suggest"' in html


def test_results_page_ranks_by_relevance_by_default(client_for, store_a, store_b):
    make_product(store_a, "Ceramic Cup", tags="teapot")
    make_product(store_a, "Teapot Deluxe")
    make_product(store_a, "Draft Teapot", status="draft")
    make_product(store_b, "Bravo Teapot")
    html = html_of(client_for(store_a).get("/search?q=teapot"))
    assert html.index("Teapot Deluxe") < html.index("Ceramic Cup")
    assert "Draft Teapot" not in html and "Bravo Teapot" not in html
    assert '<option value="relevance" selected>' in html
    assert 'value="teapot"' in html  # the query stays in the boxes
    assert "2 products" in html


def test_search_results_swap_as_a_fragment_under_htmx(client_for, store_a):
    make_product(store_a, "Teapot Deluxe")
    response = client_for(store_a).get("/search?q=teapot&sort=newest", headers=HTMX)
    html = html_of(response)
    assert "<html" not in html and html.lstrip().startswith('<section id="results"')
    assert "Teapot Deluxe" in html


def test_suggestions_are_a_fragment_of_at_most_eight(client_for, store_a):
    for n in range(10):
        product = make_product(store_a, f"Mug Number {n}")
    make_image(product, alt="A mug")
    client = client_for(store_a)
    html = html_of(client.get("/search/suggest?q=mu", headers=HTMX))
    assert "<html" not in html and html.startswith('<div id="search-suggest"')
    assert html.count('class="search-suggest__item"') == 8
    assert "thumb.webp" in html
    assert 'href="/search?q=mu"' in html
    none = html_of(client.get("/search/suggest?q=zzzz", headers=HTMX))
    assert "No products match" in none
    empty = html_of(client.get("/search/suggest?q=", headers=HTMX))
    assert "search-suggest__panel" not in empty  # the dropdown closes
    # Asked for directly (no htmx), it sends the shopper to the results page.
    response = client.get("/search/suggest?q=mug")
    assert response.status_code == 303 and response.headers["Location"] == "/search?q=mug"


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_are_escaped_and_never_fail(client_for, store_a, query):
    make_product(store_a, "Teapot Deluxe", tags="100%, cotton")
    client = client_for(store_a)
    encoded = quote_plus(query)
    for path in (f"/search?q={encoded}", f"/search/suggest?q={encoded}"):
        for headers in ({}, HTMX):
            response = client.get(path, headers=headers)
            assert response.status_code in (200, 303), (path, response.status_code)
            assert "<script>" not in body_of(response.get_data(as_text=True))
    if "<script>" in query:
        html = html_of(client.get(f"/search?q={encoded}"))
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body_of(html)


def test_a_2000_character_query_with_words_still_searches(client_for, store_a):
    make_product(store_a, "Teapot Deluxe")
    query = ("teapot " * 286)[:2000]
    html = html_of(client_for(store_a).get(f"/search?q={quote_plus(query)}"))
    assert "Teapot Deluxe" in html


def test_no_results_suggest_close_tags_and_category_names(client_for, store_a):
    make_category(store_a, "Coffee Beans")
    make_product(store_a, "Kopi", tags="espresso")
    client = client_for(store_a)
    html = html_of(client.get("/search?q=expresso"))
    assert "No products match “expresso”" in html
    assert "Did you mean" in html and 'href="/search?q=espresso"' in html
    html = html_of(client.get("/search?q=beens"))
    assert 'href="/search?q=beans"' in html
    # Nothing close: the categories instead.
    html = html_of(client.get("/search?q=qqqqqq"))
    assert "Did you mean" not in html and 'href="/categories/coffee-beans/"' in html


def test_suggestions_and_markup_in_tags_are_inert(client_for, store_a):
    make_product(store_a, "Mug", tags="<script>x</script>")
    html = html_of(client_for(store_a).get("/search?q=%3Cscrpt%3E"))
    assert "<script>x" not in body_of(html)


@pytest.mark.parametrize("path", ["/search?q=bravo", "/search/suggest?q=bravo"])
def test_search_never_shows_another_stores_products(client_for, store_a, store_b, path):
    make_product(store_b, "Bravo Exclusive")
    make_product(store_a, "Alpha Bravo-less")
    html = client_for(store_a).get(path, headers=HTMX).get_data(as_text=True)
    assert "Bravo Exclusive" not in html
