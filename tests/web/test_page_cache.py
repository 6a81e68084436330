"""The storefront page cache: shared renderings, per-shopper parts, freshness, ETags, outages."""

import re

import pytest
import redis
from sqlalchemy import event

from app.catalog.models import Product, Variant
from app.extensions import db
from app.inventory.service import apply_movement
from app.redis_client import connect
from tests.conftest import BACKENDS, free_port, sign_in_as
from tests.factories import make_category, make_product, make_user

# One backend for what is said over HTTP; the queries and freshness run on both.
pytestmark = pytest.mark.backends("sqlite")

HTMX = {"HX-Request": "true"}
PAGES = ["/", "/products/", "/products/?sort=price-asc&in_stock=1", "/search?q=mug"]


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def statements_of(app, client, path, **kwargs) -> list[str]:
    statements = []

    def on_execute(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", on_execute)
        try:
            html_of(client.get(path, **kwargs))
        finally:
            event.remove(db.engine, "before_cursor_execute", on_execute)
    return [s for s in statements if not s.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]


def header_token(html: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def form_tokens(html: str) -> set[str]:
    return set(re.findall(r'name="csrf_token" value="([^"]+)"', html))


def cart_count(html: str) -> str:
    return re.search(r'<span id="cart-count">(\d+)</span>', html).group(1)


@pytest.fixture
def mugs(store_a):
    category = make_category(store_a, "Mugs")
    return [make_product(store_a, f"Mug {n}", categories=[category]) for n in range(3)]


@pytest.mark.backends(*BACKENDS)
@pytest.mark.parametrize("path", [*PAGES, "/products/mug-0", "/categories/mugs/"])
def test_a_cached_page_runs_no_catalog_query(app, client_for, store_a, mugs, path):
    client = client_for(store_a)
    first = statements_of(app, client, path)
    second = statements_of(app, client, path)
    assert len(first) > 1
    # Only the store's row by its Host: the page itself comes from the cache.
    assert len(second) == 1 and "FROM stores" in second[0], second


@pytest.mark.backends(*BACKENDS)
@pytest.mark.parametrize("path", ["/products/", "/search?q=mug", "/categories/mugs/"])
def test_listing_query_count_is_fixed_whatever_the_catalog_holds(
    app, client_for, store_a, mugs, path
):
    app.config["PAGE_CACHE_TTL"] = 0  # the rendering itself
    client = client_for(store_a)
    html_of(client.get(path))  # warm the per-process caches (the tag menu)
    few = statements_of(app, client, path)
    category = make_category(store_a, "More")
    for n in range(30):
        make_product(store_a, f"Mug extra {n}", categories=[category], tags=["x", f"t{n}"])
    html_of(client.get(path))
    many = statements_of(app, client, path)
    assert len(few) == len(many), (len(few), len(many))


@pytest.mark.backends(*BACKENDS)
def test_a_product_change_shows_on_the_next_request(app, client_for, store_a, mugs):
    client = client_for(store_a)
    for path in ("/products/", "/products/mug-1", "/"):
        assert "Mug 1" in html_of(client.get(path))
    with app.app_context():
        product = db.session.get(Product, mugs[1].id)
        product.title = "Teapot Royale"
        db.session.commit()
    for path in ("/products/", "/products/mug-1", "/"):
        html = html_of(client.get(path))
        assert "Teapot Royale" in html and "Mug 1<" not in html, path


@pytest.mark.backends(*BACKENDS)
def test_a_stock_movement_shows_on_the_next_request(app, client_for, store_a, mugs):
    client = client_for(store_a)
    assert "In stock" in html_of(client.get("/products/mug-2"))
    with app.app_context():
        variant = db.session.scalar(db.select(Variant).where(Variant.product_id == mugs[2].id))
        # A plain UPDATE (no ORM flush of a catalog row): the version still moves on commit.
        apply_movement(store_a.id, variant.id, -variant.stock, "sale", record=False)
        db.session.commit()
    assert "Sold out" in html_of(client.get("/products/mug-2"))


def test_another_store_never_gets_this_stores_cached_page(client_for, store_a, store_b, mugs):
    make_product(store_b, "Bravo Kettle")
    assert "Mug 0" in html_of(client_for(store_a).get("/products/"))
    theirs = html_of(client_for(store_b).get("/products/"))
    assert "Bravo Kettle" in theirs and "Mug 0" not in theirs


def test_the_htmx_fragment_and_the_page_are_cached_apart(client_for, store_a, mugs):
    client = client_for(store_a)
    fragment = client.get("/products/?sort=price-asc", headers=HTMX)
    assert fragment.headers["HX-Push-Url"] == "/products/?sort=price-asc"
    assert "<html" not in html_of(fragment)
    page = html_of(client.get("/products/?sort=price-asc"))
    assert "<html" in page and 'id="results"' in page
    again = client.get("/products/?sort=price-asc", headers=HTMX)
    assert "<html" not in html_of(again)
    assert again.headers["HX-Push-Url"] == "/products/?sort=price-asc"
    assert "HX-Request" in again.headers["Vary"]


@pytest.mark.parametrize("path", ["/products/", "/products/mug-0"])
def test_two_shoppers_on_one_cached_page_each_get_their_own_token_and_cart(
    app, client_for, store_a, mugs, path
):
    app.config["WTF_CSRF_ENABLED"] = True
    ann, bob = client_for(store_a), client_for(store_a)
    ann_page = html_of(ann.get(path))  # renders and stores the page
    bob_page = html_of(bob.get(path))  # from the cache
    ann_token, bob_token = header_token(ann_page), header_token(bob_page)
    assert ann_token != bob_token
    assert form_tokens(bob_page) and ann_token not in bob_page
    # Ann fills her cart with her own token from the cached page.
    variant_id = re.search(r'name="variant_id" value="(\d+)"', bob_page).group(1)
    form = {"variant_id": variant_id, "quantity": "2", "csrf_token": header_token(ann_page)}
    assert ann.post("/cart/items", data=form, headers=HTMX).status_code == 200
    # Bob can't use Ann's token (bound to her session), only his own.
    assert bob.post("/cart/items", data=form, headers=HTMX).status_code == 400
    assert cart_count(html_of(ann.get(path))) == "2"
    bob_again = html_of(bob.get(path))
    assert cart_count(bob_again) == "0"
    assert header_token(bob_again) != ann_token
    form["csrf_token"] = header_token(bob_again)
    assert bob.post("/cart/items", data=form, headers=HTMX).status_code == 200


def test_signed_in_parts_are_the_shoppers_own(app, client_for, store_a, mugs):
    guest, member = client_for(store_a), client_for(store_a)
    sign_in_as(member, make_user("zed@example.com", name="Zed Quux"))
    assert "Zed" in html_of(member.get("/products/"))
    guest_page = html_of(guest.get("/products/"))
    assert "Zed" not in guest_page and "Sign in" in guest_page
    assert "Sign out" in html_of(member.get("/products/"))


def etag_of(response) -> str:
    etag = response.headers.get("ETag")
    assert etag and etag.startswith('W/"'), etag
    return etag


@pytest.mark.parametrize("path", [*PAGES, "/products/mug-0"])
def test_an_anonymous_shopper_revalidates_with_304(app, client_for, store_a, mugs, path):
    client = client_for(store_a)
    first = client.get(path)
    assert first.status_code == 200
    assert {"private", "no-cache"} <= set(
        v.strip() for v in first.headers["Cache-Control"].split(",")
    )
    etag = etag_of(first)
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    # Another page, or the same page after a catalog change, is a fresh 200.
    with app.app_context():
        db.session.get(Product, mugs[0].id).title = "Renamed Mug"
        db.session.commit()
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and etag_of(changed) != etag


def test_another_shoppers_etag_gets_no_304(client_for, store_a, mugs):
    ann, bob = client_for(store_a), client_for(store_a)
    etag = etag_of(ann.get("/products/"))
    html_of(bob.get("/products/"))
    # Ann's ETag names a page holding her token: Bob gets his own page.
    answer = bob.get("/products/", headers={"If-None-Match": etag})
    assert answer.status_code == 200 and etag_of(answer) != etag


def test_no_etag_or_304_for_a_signed_in_shopper(client_for, store_a, mugs):
    client = client_for(store_a)
    etag = etag_of(client.get("/products/"))
    sign_in_as(client, make_user("yan@example.com"))
    answer = client.get("/products/", headers={"If-None-Match": etag})
    assert answer.status_code == 200 and "ETag" not in answer.headers
    assert answer.headers["Cache-Control"] == "no-store"


def test_no_etag_or_304_with_something_in_the_cart(client_for, store_a, mugs):
    client = client_for(store_a)
    page = client.get("/products/")
    etag = etag_of(page)
    variant_id = re.search(r'name="variant_id" value="(\d+)"', html_of(page)).group(1)
    assert (
        client.post("/cart/items", data={"variant_id": variant_id}, headers=HTMX).status_code == 200
    )
    answer = client.get("/products/", headers={"If-None-Match": etag})
    assert answer.status_code == 200 and "ETag" not in answer.headers
    assert cart_count(html_of(answer)) == "1"


def test_no_304_while_a_flash_message_waits(client_for, store_a, mugs):
    client = client_for(store_a)
    etag = etag_of(client.get("/products/"))
    with client.session_transaction() as sess:
        sess["_flashes"] = [("info", "Welcome back")]
    answer = client.get("/products/", headers={"If-None-Match": etag})
    assert answer.status_code == 200 and "Welcome back" in html_of(answer)
    assert "Welcome back" not in html_of(client.get("/products/"))


def test_pages_render_while_redis_is_down(app, client_for, store_a, mugs, monkeypatch):
    # The app's own kind of client (app/redis_client.py), on a port nothing listens on.
    app.extensions["pasar_redis"] = connect(f"redis://127.0.0.1:{free_port()}/0")
    attempts = []
    dial = redis.connection.Connection._connect
    monkeypatch.setattr(
        redis.connection.Connection, "_connect", lambda conn: (attempts.append(1), dial(conn))[1]
    )
    client = client_for(store_a)
    pages = [*PAGES, "/products/mug-0"]
    for path in pages:
        html = html_of(client.get(path))
        assert "Mug 0" in html or "Mugs" in html
        assert "slot-" not in html
    # The first failure switches the cache off for a few seconds: no waiting on each request.
    assert app.extensions["page_cache_down_until"] > 0
    # A call gives up after one quick retry (two attempts), not redis-py's default of eleven
    # with up to a second between them, which held each of these pages for 4-7 s.
    assert 0 < len(attempts) <= 4 * len(pages), len(attempts)


def test_no_slot_is_left_unfilled(client_for, store_a, mugs):
    client = client_for(store_a)
    for _ in range(2):  # rendered, then from the cache
        for path in [*PAGES, "/products/mug-0"]:
            assert "slot-" not in html_of(client.get(path))
            assert "slot-" not in html_of(client.get(path, headers=HTMX))


def test_embedded_mode_caches_in_the_shared_kv_file(app, client_for, store_a, mugs, tmp_path):
    from app.kvstore import SqliteKV

    app.extensions["pasar_redis"] = SqliteKV(str(tmp_path / "state.kv"))
    client = client_for(store_a)
    statements_of(app, client, "/products/")
    assert len(statements_of(app, client, "/products/")) == 1  # the store's row only
    with app.app_context():
        db.session.get(Product, mugs[0].id).title = "Kv Mug"
        db.session.commit()
    assert "Kv Mug" in html_of(client.get("/products/"))


def test_a_page_cached_in_one_language_is_never_served_in_another(app, client_for, store_a, mugs):
    """The key carries the request's language: English first, then German, then English."""
    english = html_of(client_for(store_a).get("/products/", headers={"Accept-Language": "en"}))
    german = client_for(store_a).get("/products/", headers={"Accept-Language": "de"})
    assert "Accept-Language" in german.headers["Vary"]
    assert 'lang="de"' in html_of(german) and 'lang="en"' in english
    again = client_for(store_a).get("/products/", headers={"Accept-Language": "en"})
    assert 'lang="en"' in html_of(again)
