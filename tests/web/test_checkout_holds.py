"""Stock holds in the shop: checkout holds the cart and counts down, tells what changed when the
hold ran out, gives more time twice; other shoppers see held units as gone; the vendor sets the
hold time and sees what is held."""

import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from app.catalog.models import Variant
from app.checkout.models import CheckoutSettings
from app.database import utcnow
from app.extensions import db
from app.inventory.holds import release_expired
from app.inventory.models import StockHold
from app.orders.models import Order
from app.storefront import page_cache
from tests.accounts_helpers import mark_recently_confirmed
from tests.conftest import BACKENDS, host_for, sign_in_as
from tests.web.order_helpers import owner_of
from tests.web.test_checkout import add, to_review, variant_of
from tests.web.test_checkout_settings import FORM

pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    owner = owner_of(app, store_a)
    sign_in_as(client, owner)
    mark_recently_confirmed(client, owner)  # the checkout settings ask for it
    return client


def holds_of(app, variant_id):
    with app.app_context():
        return db.session.execute(
            select(StockHold.quantity, StockHold.status).where(StockHold.variant_id == variant_id)
        ).all()


def held(app, variant_id) -> int:
    with app.app_context():
        return db.session.get(Variant, variant_id).held


def run_out(app):
    """Every hold's time is up (as if the hold time had passed)."""
    with app.app_context():
        db.session.execute(update(StockHold).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def start_checkout(client):
    response = client.post("/checkout/hold")
    assert response.status_code == 303 and response.location.endswith("/checkout/")
    return response


def test_checkout_holds_the_cart_and_counts_down(app, client_for, store_a):
    mug = variant_of(store_a, stock=5)
    client = client_for(store_a)
    add(client, mug, 2)
    cart = client.get("/cart").text
    assert '<form method="post" action="/checkout/hold">' in cart
    start_checkout(client)
    assert holds_of(app, mug.id) == [(2, "active")] and held(app, mug.id) == 2
    page = client.get("/checkout/contact")
    assert page.status_code == 200
    html = page.text
    assert "We're holding these for" in html
    seconds = int(re.search(r'data-seconds-left="(\d+)"', html).group(1))
    assert 9 * 60 < seconds <= 10 * 60
    assert re.search(r'data-hold-countdown data-seconds-left="\d+">(9:5\d|10:00)</strong>', html)
    assert "/static/js/hold-countdown.js" in html
    assert "<script>" not in html  # the CSP allows no inline script
    # "I need more time" waits for the last two minutes.
    assert re.search(r'action="/checkout/hold/extend"[^>]*data-hold-extend hidden', html)


def test_the_order_takes_the_held_units(app, client_for, store_a):
    mug = variant_of(store_a, stock=2)
    client = client_for(store_a)
    add(client, mug, 2)
    start_checkout(client)
    key = to_review(client)
    response = client.post("/checkout/place", data={"idempotency_key": key})
    assert response.status_code == 303
    with app.app_context():
        variant = db.session.get(Variant, mug.id)
        assert (variant.stock, variant.held) == (0, 0)
        assert db.session.scalar(select(Order.status)) == "pending_payment"
    assert holds_of(app, mug.id) == [(2, "converted")]


def test_a_held_last_unit_is_sold_out_for_everyone_else_until_the_hold_runs_out(
    app, client_for, store_a
):
    lamp = variant_of(store_a, "Lamp", stock=1)
    holder, other = client_for(store_a), client_for(store_a)
    add(holder, lamp, 1)
    add(other, lamp, 1)
    start_checkout(holder)

    page = other.get("/products/lamp").text
    assert "Sold out" in page and 'name="variant_id"' not in page
    assert "No longer available." in other.get("/cart").text
    refused = other.post("/cart/items", data={"variant_id": lamp.id, "quantity": 1})
    assert refused.status_code == 422 and "Sorry, this is sold out." in refused.text
    assert "Sold out" in other.get("/products/lamp").text

    run_out(app)
    expired = holder.get("/checkout/contact").text
    assert "Your hold ran out" in expired
    assert "Everything in your cart is still available." in expired
    assert 'action="/checkout/hold"' in expired and "Try again" in expired

    # The other shopper takes it meanwhile: the first one is told what changed.
    start_checkout(other)
    key = to_review(other, email="olga@example.com")
    assert other.post("/checkout/place", data={"idempotency_key": key}).status_code == 303
    told = holder.get("/checkout/contact").text
    assert "Your hold ran out" in told and "No longer available:" in told
    assert re.search(r"<li>Lamp: No longer available\.</li>", told)
    with app.app_context():
        variant = db.session.get(Variant, lamp.id)
        assert (variant.stock, variant.held) == (0, 0)


def test_the_sweep_gives_expired_holds_back(app, client_for, store_a):
    lamp = variant_of(store_a, "Lamp", stock=1)
    holder, other = client_for(store_a), client_for(store_a)
    add(holder, lamp, 1)
    start_checkout(holder)
    assert "Sold out" in other.get("/products/lamp").text
    run_out(app)
    with app.app_context():
        assert release_expired() == 1
        db.session.commit()
    assert held(app, lamp.id) == 0
    page = other.get("/products/lamp").text
    assert "Sold out" not in page and 'name="variant_id"' in page


def test_more_time_only_near_the_end_and_at_most_twice(app, client_for, store_a):
    mug = variant_of(store_a, stock=5)
    client = client_for(store_a)
    add(client, mug)
    start_checkout(client)
    early = client.post("/checkout/hold/extend", follow_redirects=True)
    assert "You can ask for more time in the last two minutes." in early.text

    def near_the_end():
        with app.app_context():
            db.session.execute(
                update(StockHold).values(expires_at=utcnow() + timedelta(seconds=60))
            )
            db.session.commit()

    for _ in range(2):
        near_the_end()
        page = client.get("/checkout/contact").text
        assert re.search(r'action="/checkout/hold/extend"[^>]*data-hold-extend>', page)
        more = client.post("/checkout/hold/extend", follow_redirects=True)
        assert "We&#39;ll hold your items a little longer." in more.text
        assert int(re.search(r'data-seconds-left="(\d+)"', more.text).group(1)) > 9 * 60
    near_the_end()
    page = client.get("/checkout/contact").text
    assert "/checkout/hold/extend" not in page
    refused = client.post("/checkout/hold/extend", follow_redirects=True)
    assert "all the extra time we can give" in refused.text


def test_a_checkout_without_a_hold_offers_one(app, client_for, store_a):
    mug = variant_of(store_a, stock=5)
    client = client_for(store_a)
    add(client, mug)
    page = client.get("/checkout/contact").text
    assert "Your items aren't held for you yet." in page and "Hold my items" in page
    assert holds_of(app, mug.id) == []


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_removing_the_line_lets_the_hold_go(app, client_for, store_a):
    mug = variant_of(store_a, stock=5)
    client = client_for(store_a)
    add(client, mug, 3)
    start_checkout(client)
    with app.app_context():
        from app.cart.models import CartItem

        item_id = db.session.scalar(select(CartItem.id))
    assert client.post(f"/cart/items/{item_id}/delete").status_code in (200, 303)
    assert holds_of(app, mug.id) == [(3, "released")] and held(app, mug.id) == 0


def test_a_store_can_hold_as_soon_as_items_are_added(app, client_for, store_a):
    with app.app_context():
        db.session.add(CheckoutSettings(store_id=store_a.id, hold_on="cart", hold_minutes=5))
        db.session.commit()
    mug = variant_of(store_a, stock=5)
    client = client_for(store_a)
    add(client, mug, 2)
    assert holds_of(app, mug.id) == [(2, "active")]
    with app.app_context():
        expires = db.session.scalar(select(StockHold.expires_at))
        assert timedelta(minutes=4) < expires - utcnow() <= timedelta(minutes=5)


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_holds_are_per_store(app, client_for, store_a, store_b):
    mug = variant_of(store_a, stock=5)
    client = client_for(store_a)
    add(client, mug, 1)
    client.host = host_for(store_b)  # the same shopper's cookies on another store's host
    response = client.post("/checkout/hold")
    assert response.status_code == 303 and response.location.endswith("/cart")
    assert client.post("/checkout/hold/extend").status_code == 303
    assert holds_of(app, mug.id) == []


@pytest.mark.parametrize(
    ("minutes", "saved"),
    [("1", None), ("61", None), ("ten", None), ("7.5", None), ("2", 2), ("60", 60), ("", 10)],
)
def test_the_hold_time_is_two_to_sixty_minutes(app, owner_client, store_a, minutes, saved):
    response = owner_client.post(
        "/admin/settings/checkout", data={**FORM, "hold_minutes": minutes, "hold_on": "cart"}
    )
    with app.app_context():
        row = db.session.get(CheckoutSettings, store_a.id)
        stored = (row.hold_minutes, row.hold_on) if row else None
    if saved is None:
        assert response.status_code == 422
        assert "Hold items for 2 to 60 minutes (a whole number)." in response.text
        assert stored is None
    else:
        assert response.status_code == 303
        assert stored == (saved, "cart")


def test_a_made_up_hold_start_is_refused(app, owner_client, store_a):
    response = owner_client.post("/admin/settings/checkout", data={**FORM, "hold_on": "never"})
    assert response.status_code == 422
    assert "Choose when items are held" in response.text


def test_the_stock_page_shows_what_is_held_now_without_a_movement(
    app,
    client_for,
    owner_client,
    store_a,
):
    mug = variant_of(store_a, stock=5)
    shopper = client_for(store_a)
    add(shopper, mug, 2)
    start_checkout(shopper)
    page = owner_client.get(f"/admin/variants/{mug.id}/stock").text
    assert "Held now in shoppers' checkouts: 2" in page
    with app.app_context():
        from app.inventory.service import ledger_total

        assert db.session.get(Variant, mug.id).stock == 5 == ledger_total(mug.id)


def test_a_cached_page_stops_counting_a_hold_when_it_runs_out(
    app, client_for, store_a, monkeypatch
):
    lamp = variant_of(store_a, "Lamp", stock=1)
    holder, other = client_for(store_a), client_for(store_a)
    add(holder, lamp, 1)
    start_checkout(holder)
    for path in ("/products/lamp", "/products/"):
        first = other.get(path)
        assert "Sold out" in first.text
        again = other.get(path, headers={"If-None-Match": first.headers.get("ETag", "")})
        assert again.status_code in (200, 304)  # from the cache, the hold still running
    run_out(app)  # no sweep has run, so no catalog version was bumped
    later = time.time() + 11 * 60  # the page cache's clock: the hold time has passed
    monkeypatch.setattr(
        page_cache, "time", SimpleNamespace(time=lambda: later, monotonic=time.monotonic)
    )
    for path in ("/products/lamp", "/products/"):
        page = other.get(path, headers={"If-None-Match": first.headers.get("ETag", "x")})
        assert page.status_code == 200 and "Sold out" not in page.text, path


def test_after_an_order_the_next_checkout_starts_afresh(app, client_for, store_a):
    mug = variant_of(store_a, stock=5)
    client = client_for(store_a)
    add(client, mug)
    start_checkout(client)
    run_out(app)
    start_checkout(client)  # "Try again"
    key = to_review(client)
    assert client.post("/checkout/place", data={"idempotency_key": key}).status_code == 303
    add(client, mug)
    page = client.get("/checkout/contact").text
    assert "Your hold ran out" not in page and "Hold my items" in page


def test_signing_in_mid_checkout_keeps_the_hold_on_the_merged_cart(app, client_for, store_a):
    from app.cart.models import Cart
    from tests.factories import make_user

    user = make_user("holder@example.com")
    mug = variant_of(store_a, stock=5)
    mine = client_for(store_a)
    sign_in_as(mine, user)
    add(mine, mug, 1)
    guest = client_for(store_a)
    add(guest, mug, 2)
    start_checkout(guest)
    sign_in_as(guest, user)
    assert "We're holding these for" in guest.get("/checkout/contact").text
    with app.app_context():
        rows = db.session.execute(
            select(Cart.user_id, StockHold.quantity)
            .join(Cart, Cart.id == StockHold.cart_id)
            .where(StockHold.status == "active")
        ).all()
        assert [tuple(r) for r in rows] == [(user.id, 3)]
        assert db.session.get(Variant, mug.id).held == 3
