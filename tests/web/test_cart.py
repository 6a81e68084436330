"""The cart on a store's host: adding, changing and removing (htmx and not), cookie, merge, 404s."""

import re

import pytest
from sqlalchemy import event, select

from app.cart.models import Cart, CartItem
from app.catalog.models import Variant
from app.catalog.service import VariantData
from app.extensions import db
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import make_image, make_product, make_user

# One backend: fragments, flashes, cookies, validation; other stores' rows and sums on both.
pytestmark = pytest.mark.backends("sqlite")

HTMX = {"HX-Request": "true"}


def one_variant(store, title="Mug", *, price=1200, stock=5, **fields):
    sku = f"{title.upper().replace(' ', '-')}-{store.id}"
    product = make_product(store, title, variants=[VariantData(sku, price, stock=stock)], **fields)
    return product.variants[0]


def oob_count(html: str) -> str | None:
    found = re.search(r'<span id="cart-count" hx-swap-oob="true">(\d+)</span>', html)
    return found.group(1) if found else None


def header_count(html: str) -> str:
    found = re.search(r'Cart \(<span id="cart-count">(\d+)</span>\)', html)
    assert found, "no cart link in the header"
    return found.group(1)


def cart_items(app):
    with app.app_context():
        rows = db.session.execute(select(CartItem.id, CartItem.variant_id, CartItem.quantity))
        items = [tuple(row) for row in rows]
        db.session.remove()
    return items


def test_guest_adds_with_htmx_and_gets_the_notice_and_the_oob_count(app, client_for, store_a):
    variant = one_variant(store_a)
    client = client_for(store_a)
    assert header_count(client.get("/products/mug").get_data(as_text=True)) == "0"
    response = client.post(
        "/cart/items", data={"variant_id": variant.id, "quantity": "2"}, headers=HTMX
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert f'id="cart-notice-{variant.id}"' in html and "Added to your cart." in html
    assert oob_count(html) == "2"
    assert "HX-Request" in response.headers["Vary"]
    assert header_count(client.get("/").get_data(as_text=True)) == "2"


def test_the_product_page_and_cards_carry_add_to_cart_forms(client_for, store_a):
    variant = one_variant(store_a)
    make_product(
        store_a,
        "Shirt",
        option_names=["Size"],
        variants=[VariantData("SH-S", 1000, ["S"], stock=2), VariantData("SH-M", 1000, ["M"])],
    )
    client = client_for(store_a)
    page = client.get("/products/mug").get_data(as_text=True)
    assert 'hx-post="/cart/items"' in page and f'name="variant_id" value="{variant.id}"' in page
    assert f'hx-target="#cart-notice-{variant.id}"' in page and ">Add to cart</button>" in page
    listing = client.get("/products/").get_data(as_text=True)
    # Only the one-variant product gets the one-click button on its card.
    assert listing.count(">Add to cart</button>") == 1
    assert f'name="variant_id" value="{variant.id}"' in listing


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_full_page_add_update_remove_redirect_with_a_flash(app, client_for, store_a):
    variant = one_variant(store_a)
    client = client_for(store_a)
    response = client.post(
        "/cart/items",
        data={"variant_id": variant.id, "quantity": "1", "next": "/products/mug"},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/products/mug"
    page = client.get("/products/mug").get_data(as_text=True)
    assert "Added to your cart." in page and header_count(page) == "1"
    [(item_id, _, _)] = cart_items(app)

    response = client.post(f"/cart/items/{item_id}", data={"quantity": "3"})
    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    page = client.get("/cart").get_data(as_text=True)
    assert "Cart updated." in page and header_count(page) == "3" and "$36.00" in page

    response = client.post(f"/cart/items/{item_id}/delete")
    assert response.status_code == 303
    page = client.get("/cart").get_data(as_text=True)
    assert "Removed." in page and "Your cart is empty." in page and header_count(page) == "0"


def test_next_cannot_leave_the_platform(client_for, store_a):
    variant = one_variant(store_a)
    response = client_for(store_a).post(
        "/cart/items", data={"variant_id": variant.id, "next": "https://evil.example/"}
    )
    assert response.headers["Location"] == "/cart"


def test_htmx_update_and_remove_answer_the_lines_block_and_the_oob_count(app, client_for, store_a):
    variant = one_variant(store_a, stock=10)
    client = client_for(store_a)
    client.post("/cart/items", data={"variant_id": variant.id, "quantity": "1"}, headers=HTMX)
    [(item_id, _, _)] = cart_items(app)

    response = client.post(f"/cart/items/{item_id}", data={"quantity": "4"}, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="cart-lines"')
    assert 'value="4"' in html and "$48.00" in html and oob_count(html) == "4"

    response = client.post(f"/cart/items/{item_id}", data={"quantity": "0"}, headers=HTMX)
    html = response.get_data(as_text=True)
    assert "Your cart is empty." in html and oob_count(html) == "0"

    client.post("/cart/items", data={"variant_id": variant.id, "quantity": "2"}, headers=HTMX)
    [(item_id, _, _)] = cart_items(app)
    response = client.post(f"/cart/items/{item_id}/delete", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "Your cart is empty." in html and oob_count(html) == "0"
    assert cart_items(app) == []


@pytest.mark.parametrize("quantity", ["0", "-1", str(10**9), "lots"])
@pytest.mark.parametrize("htmx", [True, False])
def test_bad_quantities_answer_422_with_a_message(app, client_for, store_a, quantity, htmx):
    variant = one_variant(store_a)
    client = client_for(store_a)
    response = client.post(
        "/cart/items",
        data={"variant_id": variant.id, "quantity": quantity},
        headers=HTMX if htmx else {},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a quantity from 1 to 999." in html
    assert ("<html" in html) is not htmx
    assert cart_items(app) == []


@pytest.mark.parametrize("quantity", ["-1", str(10**9), "lots"])
def test_bad_quantities_on_update_answer_422(app, client_for, store_a, quantity):
    variant = one_variant(store_a)
    client = client_for(store_a)
    client.post("/cart/items", data={"variant_id": variant.id, "quantity": "2"})
    [(item_id, _, _)] = cart_items(app)
    response = client.post(f"/cart/items/{item_id}", data={"quantity": quantity}, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Enter a quantity from 1 to 999." in html
    assert oob_count(html) == "2" and cart_items(app)[0][2] == 2


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_another_stores_variant_and_a_draft_are_refused(app, client_for, store_a, store_b):
    theirs = one_variant(store_b, "Theirs")
    draft = one_variant(store_a, "Draft", status="draft")
    client = client_for(store_a)
    for variant_id in (theirs.id, draft.id, 999_999):
        response = client.post(
            "/cart/items", data={"variant_id": variant_id, "quantity": "1"}, headers=HTMX
        )
        assert response.status_code == 422
        assert "That product isn&#39;t available." in response.get_data(as_text=True)
    assert cart_items(app) == []
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Cart.id))) == 0
        db.session.remove()


@pytest.mark.backends(*BACKENDS)  # stock and holds summed in SQL
def test_the_stock_cap_adds_what_fits_and_says_so(app, client_for, store_a):
    variant = one_variant(store_a, stock=3)
    client = client_for(store_a)
    client.post("/cart/items", data={"variant_id": variant.id, "quantity": "2"}, headers=HTMX)
    response = client.post(
        "/cart/items", data={"variant_id": variant.id, "quantity": "5"}, headers=HTMX
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Only 3 left; your cart has 3." in html
    assert oob_count(html) == "3"
    response = client.post(
        "/cart/items", data={"variant_id": variant.id, "quantity": "1"}, headers=HTMX
    )
    assert response.status_code == 422
    assert "Only 3 left; your cart has 3." in response.get_data(as_text=True)


def test_the_cart_page_shows_current_prices_and_points_out_a_change(app, client_for, store_a):
    variant = one_variant(store_a, price=1200)
    client = client_for(store_a)
    client.post("/cart/items", data={"variant_id": variant.id, "quantity": "2"})
    with app.app_context():
        db.session.get(Variant, variant.id).price = 1500
        db.session.commit()
        db.session.remove()
    html = client.get("/cart").get_data(as_text=True)
    assert "The price changed from $12.00 to $15.00 since you added it." in html
    assert "$15.00 each" in html and "$30.00" in html
    assert '<form method="post" action="/checkout/hold">' in html
    assert '<button type="submit" class="button button--block">Checkout</button>' in html


@pytest.mark.backends(*BACKENDS)  # carts merged: lines summed, one per variant
def test_a_guest_cart_merges_into_the_users_cart_on_sign_in(app, client_for, store_a):
    user = make_user("shopper@example.com")
    mug = one_variant(store_a, "Mug", stock=10)
    cap = one_variant(store_a, "Cap", stock=10)
    signed_in = client_for(store_a)
    sign_in_as(signed_in, user)
    signed_in.post("/cart/items", data={"variant_id": mug.id, "quantity": "1"})
    assert "cart=" not in signed_in.get("/").headers.get("Set-Cookie", "")

    guest = client_for(store_a)
    guest.post("/cart/items", data={"variant_id": mug.id, "quantity": "2"})
    guest.post("/cart/items", data={"variant_id": cap.id, "quantity": "1"})
    sign_in_as(guest, user)
    response = guest.get("/")
    assert header_count(response.get_data(as_text=True)) == "4"
    assert re.search(r"cart=;.*Expires=Thu, 01 Jan 1970", response.headers["Set-Cookie"])
    with app.app_context():
        carts = db.session.execute(select(Cart.user_id, Cart.status).order_by(Cart.id)).all()
        db.session.remove()
    assert [tuple(c) for c in carts] == [(user.id, "open"), (None, "merged")]
    with app.app_context():
        rows = db.session.execute(
            select(CartItem.variant_id, CartItem.quantity)
            .join(Cart, Cart.id == CartItem.cart_id)
            .where(Cart.status == "open")
        ).all()
        db.session.remove()
    assert sorted(tuple(r) for r in rows) == sorted([(mug.id, 3), (cap.id, 1)])
    page = guest.get("/cart").get_data(as_text=True)
    assert header_count(page) == "4"
    assert 'value="3"' in page and 'value="1"' in page


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_another_shoppers_or_stores_item_is_404(app, client_for, store_a, store_b):
    mine = one_variant(store_a, "Mine")
    theirs = one_variant(store_b, "Theirs")
    me = client_for(store_a)
    me.post("/cart/items", data={"variant_id": mine.id, "quantity": "1"})
    other = client_for(store_a)
    other.post("/cart/items", data={"variant_id": mine.id, "quantity": "1"})
    elsewhere = client_for(store_b)
    elsewhere.post("/cart/items", data={"variant_id": theirs.id, "quantity": "1"})
    items = cart_items(app)
    other_item = items[1][0]
    elsewhere_item = items[2][0]
    for item_id in (other_item, elsewhere_item, 2**40):
        assert me.post(f"/cart/items/{item_id}", data={"quantity": "2"}).status_code == 404
        assert me.post(f"/cart/items/{item_id}/delete", headers=HTMX).status_code == 404
    assert [q for _, _, q in cart_items(app)] == [1, 1, 1]


def test_the_cart_cookie_is_host_only_http_only_and_lax(client_for, store_a):
    variant = one_variant(store_a)
    response = client_for(store_a).post("/cart/items", data={"variant_id": variant.id})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("cart=")
    assert "Domain=" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie and "Max-Age=5184000" in cookie


def test_the_cart_cookie_is_secure_when_sessions_are(app, client_for, store_a):
    variant = one_variant(store_a)
    app.config["SESSION_COOKIE_SECURE"] = True
    response = client_for(store_a).post("/cart/items", data={"variant_id": variant.id})
    assert "Secure" in response.headers["Set-Cookie"]


def test_the_cart_is_not_on_the_platform_host(client):
    assert client.get("/cart").status_code == 404


@pytest.mark.backends(*BACKENDS)  # a query count
def test_the_cart_page_runs_a_fixed_number_of_queries(app, client_for, store_a):
    variants = [one_variant(store_a, f"Thing {i}") for i in range(10)]
    make_image_for = variants[0]
    client = client_for(store_a)

    def count_queries() -> int:
        statements = []

        def on_execute(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            assert client.get("/cart").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
        return len(statements)

    client.post("/cart/items", data={"variant_id": make_image_for.id})
    one = count_queries()
    for variant in variants[1:]:
        client.post("/cart/items", data={"variant_id": variant.id})
    assert count_queries() == one


def test_the_cart_page_shows_thumbnails(app, client_for, store_a):
    product = make_product(store_a, "Pictured")
    image = make_image(product, alt="Front")
    client = client_for(store_a)
    client.post("/cart/items", data={"variant_id": product.variants[0].id})
    html = client.get("/cart").get_data(as_text=True)
    assert f"/media/{image.key}/thumb.webp" in html and "Pictured" in html
