"""Checkout on a store's host: the steps, coupons, placing once, paying on the test gateway."""

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.addresses.models import Address
from app.cart.models import CartItem
from app.cart.service import CartView
from app.catalog.models import Variant
from app.catalog.service import VariantData
from app.checkout.models import CheckoutSettings
from app.database import utcnow
from app.extensions import db
from app.orders.models import Coupon, Order
from app.payments.models import Payment, WebhookEvent
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import make_product, make_user
from tests.web.test_payment_providers import FakeProviders

pytestmark = pytest.mark.backends("sqlite")  # steps, messages, redirects, payment hand-offs: HTTP

HTMX = {"HX-Request": "true"}
ADDRESS = {
    "country": "US",
    "full_name": "Gina Guest",
    "line1": "1 Market St",
    "city": "San Francisco",
    "region": "US-CA",
    "postal_code": "94105",
}


def variant_of(store, title="Mug", *, price=1200, stock=5):
    sku = f"{title.upper().replace(' ', '-')}-{store.id}"
    return make_product(store, title, variants=[VariantData(sku, price, stock=stock)]).variants[0]


def add(client, variant, quantity=1):
    response = client.post("/cart/items", data={"variant_id": variant.id, "quantity": quantity})
    assert response.status_code == 303, response.text


def to_review(client, email="gina@example.com", address=ADDRESS):
    assert client.post("/checkout/contact", data={"email": email}).status_code == 303
    assert client.post("/checkout/address", data=address).status_code == 303
    assert (
        client.post("/checkout/shipping", data={"shipping_method": "standard"}).status_code == 303
    )
    page = client.get("/checkout/review")
    assert page.status_code == 200
    return re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)


def orders(app):
    with app.app_context():
        found = db.session.scalars(select(Order).order_by(Order.id)).all()
        for order in found:
            _ = order.lines, order.events
            db.session.expunge(order)
        return found


def stock(app, variant_id):
    with app.app_context():
        return db.session.get(Variant, variant_id).stock


@pytest.fixture
def fake_providers(app):
    """Stand-ins for Stripe's and Midtrans' APIs, with the app pointed at them."""
    fake = FakeProviders()
    fake.thread.start()
    app.config.update(
        STRIPE_API_BASE=fake.url, MIDTRANS_API_BASE=fake.url, MIDTRANS_SNAP_BASE=fake.url
    )
    yield fake
    fake.server.shutdown()


def settings(app, store, **values):
    """Set the store's checkout settings (secret keys given in clear are encrypted)."""
    from app.checkout.secrets import encrypt
    from app.checkout.store_settings import SECRETS

    with app.app_context():
        values = {k: encrypt(v) if k in SECRETS else v for k, v in values.items()}
        row = db.session.get(CheckoutSettings, store.id) or CheckoutSettings(store_id=store.id)
        for name, value in values.items():
            setattr(row, name, value)
        db.session.add(row)
        db.session.commit()


def coupon(app, store, code="SAVE10", **values):
    with app.app_context():
        row = Coupon(store_id=store.id, code=code, kind="percent", value=10, **values)
        db.session.add(row)
        db.session.commit()
        return row.id


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_an_empty_cart_is_sent_back_to_the_cart(client_for, store_a):
    client = client_for(store_a)
    for path in ("/checkout/", "/checkout/contact", "/checkout/review"):
        response = client.get(path)
        assert response.status_code == 303 and response.location.endswith("/cart")


def test_steps_out_of_order_go_to_the_first_undone_one(client_for, store_a):
    client = client_for(store_a)
    add(client, variant_of(store_a))
    assert client.get("/checkout/review").location.endswith("/checkout/contact")
    assert client.get("/checkout/shipping").location.endswith("/checkout/contact")
    client.post("/checkout/contact", data={"email": "gina@example.com"})
    assert client.get("/checkout/review").location.endswith("/checkout/address")
    assert client.get("/checkout/").location.endswith("/checkout/address")


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "x" * 400 + "@example.com"])
def test_a_bad_email_is_refused_with_a_message(client_for, store_a, email):
    client = client_for(store_a)
    add(client, variant_of(store_a))
    response = client.post("/checkout/contact", data={"email": email})
    assert response.status_code == 422
    assert 'class="field__error"' in response.text


def test_an_incomplete_address_names_each_missing_field(client_for, store_a):
    client = client_for(store_a)
    add(client, variant_of(store_a))
    client.post("/checkout/contact", data={"email": "gina@example.com"})
    response = client.post("/checkout/address", data={"country": "US", "full_name": ""})
    assert response.status_code == 422
    for message in ("Enter the full name", "Enter the street address", "Enter the city"):
        assert message in response.text
    bad_zip = client.post("/checkout/address", data={**ADDRESS, "postal_code": "ABC"})
    assert bad_zip.status_code == 422


def test_a_signed_in_shopper_checks_out_with_their_own_email(app, client_for, store_a):
    me = make_user("me@example.com")
    client = client_for(store_a)
    add(client, variant_of(store_a))
    client.post("/checkout/contact", data={"email": "typed-as-guest@example.com"})
    sign_in_as(client, me)
    page = client.get("/checkout/contact")
    assert 'value="me@example.com" readonly' in page.text
    assert client.post("/checkout/contact", data={"email": "else@example.com"}).status_code == 303
    key = to_review(client, email="else@example.com")
    assert "me@example.com" in client.get("/checkout/review").text
    client.post("/checkout/place", data={"idempotency_key": key})
    (order,) = orders(app)
    assert (order.email, order.user_id) == ("me@example.com", me.id)


@pytest.mark.backends(*BACKENDS)  # another shopper's row; an id past int4
def test_a_signed_in_shopper_picks_a_saved_address_and_never_anothers(app, client_for, store_a):
    me, them = make_user("me@example.com"), make_user("them@example.com")
    with app.app_context():
        mine = Address(user_id=me.id, **{**ADDRESS, "full_name": "Me Myself"})
        theirs = Address(user_id=them.id, **{**ADDRESS, "full_name": "Not Me"})
        db.session.add_all([mine, theirs])
        db.session.commit()
        mine_id, theirs_id = mine.id, theirs.id
    client = client_for(store_a)
    sign_in_as(client, me)
    add(client, variant_of(store_a))
    assert client.get("/checkout/").location.endswith("/checkout/address")  # email known
    page = client.get("/checkout/address")
    assert "Me Myself" in page.text and "Not Me" not in page.text
    for bad in (theirs_id, "junk", "99999999999999"):
        refused = client.post("/checkout/address", data={"address_id": bad})
        assert refused.status_code == 422 and "Choose one of your saved addresses" in refused.text
    assert client.post("/checkout/address", data={"address_id": mine_id}).status_code == 303
    client.post("/checkout/shipping", data={"shipping_method": "standard"})
    assert "Me Myself" in client.get("/checkout/review").text


def test_a_new_address_can_be_saved_to_the_address_book(app, client_for, store_a):
    me = make_user("me@example.com")
    client = client_for(store_a)
    sign_in_as(client, me)
    add(client, variant_of(store_a))
    response = client.post("/checkout/address", data={**ADDRESS, "save_address": "1"})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Address.user_id == me.id)) == 1


def test_an_unknown_shipping_method_is_refused(client_for, store_a):
    client = client_for(store_a)
    add(client, variant_of(store_a))
    client.post("/checkout/contact", data={"email": "gina@example.com"})
    client.post("/checkout/address", data=ADDRESS)
    response = client.post("/checkout/shipping", data={"shipping_method": "teleport"})
    assert response.status_code == 422 and "Choose a shipping method." in response.text


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_the_shipping_step_prices_flat_and_free_over(app, client_for, store_a):
    settings(app, store_a, shipping_flat=700, shipping_free_over=5000)
    client = client_for(store_a)
    add(client, variant_of(store_a, price=1200))
    client.post("/checkout/contact", data={"email": "gina@example.com"})
    client.post("/checkout/address", data=ADDRESS)
    page = client.get("/checkout/shipping").text
    assert "$7.00" in page and "Free on orders of $50.00 or more" in page


def test_the_review_shows_the_totals_line_by_line(app, client_for, store_a):
    settings(app, store_a, shipping_flat=700, tax_basis_points=1000, tax_inclusive=False)
    client = client_for(store_a)
    add(client, variant_of(store_a, price=1200), 2)
    to_review(client)
    page = client.get("/checkout/review").text
    # 2 x 12.00 = 24.00; shipping 7.00; tax 10% of 31.00 = 3.10; total 34.10
    for amount in ("$24.00", "$7.00", "$3.10", "$34.10"):
        assert amount in page


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_a_coupon_applies_and_is_removed_with_htmx(app, client_for, store_a):
    coupon(app, store_a)
    client = client_for(store_a)
    add(client, variant_of(store_a, price=2000))
    to_review(client)
    applied = client.post("/checkout/coupon", data={"coupon": "save10"}, headers=HTMX)
    assert applied.status_code == 200
    assert applied.text.lstrip().startswith('<div id="checkout-summary"')
    assert "<html" not in applied.text
    assert "Coupon SAVE10 applied." in applied.text and "−$2.00" in applied.text
    assert '<span id="place-total" hx-swap-oob="true">$18.00</span>' in applied.text
    removed = client.post("/checkout/coupon/remove", headers=HTMX)
    assert removed.text.lstrip().startswith('<div id="checkout-summary"')
    assert "Coupon removed." in removed.text and "−$2.00" not in removed.text
    assert '<span id="place-total" hx-swap-oob="true">$20.00</span>' in removed.text


def test_a_coupon_without_javascript_redirects_back_to_the_review(app, client_for, store_a):
    coupon(app, store_a)
    client = client_for(store_a)
    add(client, variant_of(store_a, price=2000))
    to_review(client)
    response = client.post("/checkout/coupon", data={"coupon": "SAVE10"})
    assert response.status_code == 303 and response.location.endswith("/checkout/review")
    assert "Coupon SAVE10 applied." in client.get("/checkout/review").text
    refused = client.post("/checkout/coupon", data={"coupon": "NOPE"})
    assert refused.status_code == 422 and "That coupon code isn" in refused.text


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ends_at": utcnow() - timedelta(days=1)}, "That coupon has expired."),
        ({"starts_at": utcnow() + timedelta(days=1)}, "That coupon isn"),
        ({"usage_limit": 1, "times_used": 1}, "That coupon has been used up."),
        ({"min_subtotal": 100000}, "needs a higher subtotal"),
        ({"active": False}, "That coupon code isn"),
    ],
)
def test_coupons_that_cannot_be_used_say_why(app, client_for, store_a, values, message):
    coupon(app, store_a, **values)
    client = client_for(store_a)
    add(client, variant_of(store_a, price=2000))
    to_review(client)
    response = client.post("/checkout/coupon", data={"coupon": "SAVE10"}, headers=HTMX)
    assert response.status_code == 422 and message in response.text


@pytest.mark.backends(*BACKENDS)  # redemptions counted in SQL
def test_a_coupon_once_per_customer_cannot_be_used_twice(app, client_for, store_a):
    coupon(app, store_a, per_customer_limit=1)
    variant = variant_of(store_a, price=2000)
    for attempt in range(2):
        client = client_for(store_a)
        add(client, variant)
        key = to_review(client)
        response = client.post("/checkout/coupon", data={"coupon": "SAVE10"}, headers=HTMX)
        if attempt == 0:
            assert response.status_code == 200
            client.post("/checkout/place", data={"idempotency_key": key})
    assert response.status_code == 422 and "already used that coupon" in response.text
    assert [order.discount for order in orders(app)] == [200]


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_another_stores_coupon_is_not_valid_here(app, client_for, store_a, store_b):
    coupon(app, store_b, code="BRAVO")
    client = client_for(store_a)
    add(client, variant_of(store_a))
    to_review(client)
    response = client.post("/checkout/coupon", data={"coupon": "BRAVO"}, headers=HTMX)
    assert response.status_code == 422


@pytest.mark.backends(*BACKENDS)  # stock write, order counter
def test_placing_takes_prices_from_the_catalog_and_lands_on_the_test_gateway(
    app, client_for, store_a
):
    variant = variant_of(store_a, price=1200, stock=5)
    client = client_for(store_a)
    add(client, variant, 2)
    key = to_review(client)
    response = client.post(
        "/checkout/place",
        data={
            "idempotency_key": key,
            # Tampered fields are ignored: nothing but the key is read from the form.
            "price": "1",
            "total": "1",
            "variant_id": "999",
            "store_id": "2",
        },
    )
    assert response.status_code == 303
    assert re.search(r"/pay/test/1001\?key=", response.location)
    (order,) = orders(app)
    assert (order.total, order.subtotal, order.number) == (2400, 2400, 1001)
    assert order.email == "gina@example.com" and order.shipping_address["city"] == "San Francisco"
    assert order.shipping_method == "Standard shipping"
    assert [(line.sku, line.quantity, line.unit_price) for line in order.lines] == [
        (variant.sku, 2, 1200)
    ]
    assert stock(app, variant.id) == 3
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CartItem)) == 0
    assert "Your cart is empty" in client.get("/cart").text


@pytest.mark.backends(*BACKENDS)  # idempotency: the key is unique
def test_a_double_submitted_review_form_places_one_order(app, client_for, store_a):
    variant = variant_of(store_a, stock=5)
    client = client_for(store_a)
    add(client, variant, 1)
    key = to_review(client)
    first = client.post("/checkout/place", data={"idempotency_key": key})
    second = client.post("/checkout/place", data={"idempotency_key": key})
    assert first.status_code == second.status_code == 303
    assert first.location == second.location
    assert len(orders(app)) == 1 and stock(app, variant.id) == 4


@pytest.mark.backends(*BACKENDS)  # a race: locks
def test_concurrent_submits_of_one_form_place_one_order(app, client_for, store_a):
    variant = variant_of(store_a, stock=5)
    client = client_for(store_a)
    add(client, variant, 1)
    key = to_review(client)
    with client.session_transaction() as sess:
        cookie_session = dict(sess)
    answers = []

    def submit():
        other = client_for(store_a)
        with other.session_transaction() as sess:
            sess.update(cookie_session)
        host = client.host.split(":")[0]
        other.set_cookie("cart", client.get_cookie("cart", domain=host).value, domain=host)
        answers.append(other.post("/checkout/place", data={"idempotency_key": key}).status_code)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(answers) <= {303}
    assert len(orders(app)) == 1 and stock(app, variant.id) == 4


def test_a_missing_or_forged_key_places_nothing(app, client_for, store_a):
    client = client_for(store_a)
    add(client, variant_of(store_a))
    to_review(client)
    for key in ("", "short", "x" * 65, "<script>"):
        response = client.post("/checkout/place", data={"idempotency_key": key})
        assert response.status_code == 422
        assert "This checkout form is invalid" in response.text
    assert orders(app) == []


def test_a_key_this_session_did_not_render_places_nothing(app, client_for, store_a):
    client = client_for(store_a)
    add(client, variant_of(store_a))
    to_review(client)
    response = client.post("/checkout/place", data={"idempotency_key": "a" * 32})
    assert response.status_code == 422 and "This checkout form is invalid" in response.text
    assert orders(app) == []
    # The review shown again carries this session's key, which places the order.
    key = re.search(r'name="idempotency_key" value="([^"]+)"', response.text).group(1)
    assert client.post("/checkout/place", data={"idempotency_key": key}).status_code == 303
    assert len(orders(app)) == 1


def test_placing_with_steps_undone_goes_back_to_them(app, client_for, store_a):
    client = client_for(store_a)
    add(client, variant_of(store_a))
    client.post("/checkout/contact", data={"email": "gina@example.com"})
    response = client.post("/checkout/place", data={"idempotency_key": "a" * 32})
    assert response.status_code == 303 and response.location.endswith("/checkout/address")
    assert orders(app) == []


@pytest.mark.backends(*BACKENDS)  # the conditional stock UPDATE
def test_sold_out_inside_place_order_says_so_and_writes_nothing(
    app, client_for, store_a, monkeypatch
):
    variant = variant_of(store_a, stock=2)
    client = client_for(store_a)
    add(client, variant, 2)
    key = to_review(client)
    with app.app_context():
        db.session.get(Variant, variant.id).stock = 1
        db.session.commit()
    # Another checkout takes the stock between the cart's check and the conditional update.
    monkeypatch.setattr(CartView, "can_check_out", property(lambda self: True))
    response = client.post("/checkout/place", data={"idempotency_key": key})
    assert response.status_code == 422
    assert "only 1 of an item in your cart are left" in response.text
    assert orders(app) == [] and stock(app, variant.id) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CartItem)) == 1


def test_sold_out_at_place_time_says_so_and_writes_nothing(app, client_for, store_a):
    variant = variant_of(store_a, stock=2)
    client = client_for(store_a)
    add(client, variant, 2)
    key = to_review(client)
    with app.app_context():
        db.session.get(Variant, variant.id).stock = 1  # someone else bought one meanwhile
        db.session.commit()
    response = client.post("/checkout/place", data={"idempotency_key": key})
    assert response.status_code == 422
    assert "Some items in your cart aren" in response.text
    assert "Only 1 left; lower the quantity to check out." in response.text
    assert orders(app) == [] and stock(app, variant.id) == 1


def test_a_coupon_used_up_before_placing_is_refused(app, client_for, store_a):
    coupon_id = coupon(app, store_a, usage_limit=1)
    client = client_for(store_a)
    add(client, variant_of(store_a, price=2000))
    key = to_review(client)
    client.post("/checkout/coupon", data={"coupon": "SAVE10"})
    with app.app_context():
        db.session.get(Coupon, coupon_id).times_used = 1
        db.session.commit()
    response = client.post("/checkout/place", data={"idempotency_key": key})
    assert response.status_code == 422 and "used up" in response.text
    assert orders(app) == []


@pytest.mark.backends(*BACKENDS)  # webhook event once: unique row and lock
def test_the_test_gateway_approves_through_a_signed_webhook(app, client_for, store_a):
    variant = variant_of(store_a, price=1500)
    client = client_for(store_a)
    add(client, variant)
    key = to_review(client)
    pay_url = client.post("/checkout/place", data={"idempotency_key": key}).location
    path = pay_url.split("://", 1)[-1].split("/", 1)[-1]
    page = client.get(f"/{path}")
    assert page.status_code == 200 and "$15.00" in page.text and "Approve payment" in page.text
    number_and_key = re.search(r"/pay/test/(\d+)\?key=([^&\"]+)", pay_url)
    number, order_key = number_and_key.group(1), number_and_key.group(2)
    approved = client.post(f"/pay/test/{number}/approve?key={order_key}")
    assert approved.status_code == 303
    assert approved.location.startswith(f"/orders/{number}?key=")
    (order,) = orders(app)
    assert order.status == "paid"
    with app.app_context():
        (event,) = db.session.scalars(select(WebhookEvent)).all()
        assert (event.provider, event.status) == ("test", "applied")
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    # Approving again sends nothing more: the order is paid.
    again = client.post(f"/pay/test/{number}/approve?key={order_key}")
    assert again.status_code == 409 and "there is nothing to pay" in again.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 1


def test_declining_leaves_the_order_waiting_and_the_shopper_can_try_again(app, client_for, store_a):
    client = client_for(store_a)
    add(client, variant_of(store_a))
    key = to_review(client)
    pay_url = client.post("/checkout/place", data={"idempotency_key": key}).location
    number, order_key = re.search(r"/pay/test/(\d+)\?key=([^&\"]+)", pay_url).groups()
    declined = client.post(f"/pay/test/{number}/decline?key={order_key}")
    assert declined.status_code == 303 and declined.location.endswith("&payment=declined")
    (order,) = orders(app)
    assert order.status == "pending_payment"
    with app.app_context():
        (event,) = db.session.scalars(select(WebhookEvent)).all()
        assert event.event_type == "payment.failed" and event.status == "ignored"
    retry = client.get(f"/checkout/pay/{number}?key={order_key}")
    assert retry.status_code == 303 and f"/pay/test/{number}?key=" in retry.location


@pytest.mark.backends(*BACKENDS)  # another store's rows
@pytest.mark.parametrize("path", ["/pay/test/{n}?key={k}", "/checkout/pay/{n}?key={k}"])
def test_payment_pages_need_the_orders_key_and_its_store(app, client_for, store_a, store_b, path):
    client = client_for(store_a)
    add(client, variant_of(store_a))
    key = to_review(client)
    pay_url = client.post("/checkout/place", data={"idempotency_key": key}).location
    number, order_key = re.search(r"/pay/test/(\d+)\?key=([^&\"]+)", pay_url).groups()
    assert client.get(path.format(n=number, k=order_key)).status_code in (200, 303)
    assert client.get(path.format(n=number, k="forged")).status_code == 404
    assert client.get(path.format(n=number, k="")).status_code == 404
    assert client.get(path.format(n=int(number) + 1, k=order_key)).status_code == 404
    # Store B has an order with the same number; store A's key doesn't open it.
    other = client_for(store_b)
    add(other, variant_of(store_b, "Cup"))
    other_key = to_review(other)
    other.post("/checkout/place", data={"idempotency_key": other_key})
    assert other.get(path.format(n=number, k=order_key)).status_code == 404
    assert (
        client_for(store_b).post(f"/pay/test/{number}/approve?key={order_key}").status_code == 404
    )


def test_a_store_that_moved_to_stripe_takes_pending_orders_there(
    app, client_for, store_a, fake_providers
):
    client = client_for(store_a)
    add(client, variant_of(store_a, price=2500))
    key = to_review(client)
    pay_url = client.post("/checkout/place", data={"idempotency_key": key}).location
    number, order_key = re.search(r"/pay/test/(\d+)\?key=([^&\"]+)", pay_url).groups()
    settings(app, store_a, payment_provider="stripe", stripe_secret_key="sk_test_123")
    assert client.get(f"/pay/test/{number}?key={order_key}").status_code == 404
    retry = client.get(f"/checkout/pay/{number}?key={order_key}")
    assert retry.status_code == 303
    assert retry.location == "https://checkout.stripe.test/c/cs_test_123"


def test_a_stripe_store_sends_the_shopper_to_stripe_checkout(
    app, client_for, store_a, fake_providers
):
    settings(app, store_a, payment_provider="stripe", stripe_secret_key="sk_test_123")
    client = client_for(store_a)
    add(client, variant_of(store_a, price=2500))
    key = to_review(client)
    response = client.post("/checkout/place", data={"idempotency_key": key})
    assert response.status_code == 303
    assert response.location == "https://checkout.stripe.test/c/cs_test_123"
    (sent,) = fake_providers.requests
    assert sent["form"]["line_items[0][price_data][unit_amount]"] == "2500"
    assert sent["form"]["success_url"].startswith(f"http://{client.host}/orders/1001?key=")
    (order,) = orders(app)
    assert order.payment_provider == "stripe" and order.status == "pending_payment"


def test_a_midtrans_store_sends_the_shopper_to_snap(app, client_for, fake_providers):
    from tests.factories import make_store

    store = make_store("batik", "Batik", currency="IDR", locale="id_ID")
    settings(app, store, payment_provider="midtrans", midtrans_server_key="SB-Mid-server-1")
    client = client_for(store)
    add(client, variant_of(store, "Kain", price=15_000_000))
    key = to_review(
        client, address={**ADDRESS, "country": "ID", "region": "ID-JK", "postal_code": "10110"}
    )
    response = client.post("/checkout/place", data={"idempotency_key": key})
    assert response.location == "https://app.midtrans.test/snap/1"
    (sent,) = fake_providers.requests
    assert sent["json"]["transaction_details"] == {"order_id": "batik-1001", "gross_amount": 150000}


def test_a_provider_outage_keeps_the_order_and_says_so(app, client_for, store_a, fake_providers):
    settings(app, store_a, payment_provider="stripe", stripe_secret_key="sk_test_123")
    fake_providers.server.shutdown()  # Stripe can't be reached
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"
    client = client_for(store_a)
    add(client, variant_of(store_a))
    key = to_review(client)
    response = client.post("/checkout/place", data={"idempotency_key": key})
    assert response.status_code == 303 and response.location.startswith("/orders/1001?key=")
    (order,) = orders(app)
    assert order.status == "pending_payment"
    with client.session_transaction() as sess:
        assert any("couldn't start the payment with Stripe" in m for _, m in sess["_flashes"])
    # "Pay now" on the order page tries again (still down: back to the order, with the reason).
    number, order_key = re.search(r"/orders/(\d+)\?key=([^&]+)", response.location).groups()
    retry = client.post(f"/checkout/pay/{number}?key={order_key}")
    assert retry.status_code == 303 and retry.location == response.location
    assert "couldn" in client.get(retry.location).text


@pytest.mark.backends(*BACKENDS)  # overflow
@pytest.mark.parametrize("path", ["/pay/test/{n}?key=x", "/checkout/pay/{n}?key=x"])
def test_absurd_order_numbers_are_404_not_errors(client_for, store_a, path):
    for number in ("99999999999999999999", "2147483648", "0"):
        assert client_for(store_a).get(path.format(n=number)).status_code == 404
    assert (
        client_for(store_a).post("/pay/test/99999999999999999999/approve?key=x").status_code == 404
    )


@pytest.mark.parametrize("path", ["/checkout/contact", "/checkout/address"])
def test_the_summary_before_the_shipping_step_shows_the_shipping_its_total_includes(
    app, client_for, store_a, path
):
    settings(app, store_a, shipping_flat=700)
    client = client_for(store_a)
    add(client, variant_of(store_a, price=1200))
    client.post("/checkout/contact", data={"email": "gina@example.com"})
    page = client.get(path).text
    totals = page[page.index('class="checkout-totals"') :]
    shipping = re.search(r"<dt>Shipping.*?</dt><dd>([^<]+)</dd>", totals, re.S).group(1)
    total = re.search(r'checkout-totals__total"><dt>Total</dt><dd>([^<]+)</dd>', totals).group(1)
    # $12.00 + $7.00 shipping = $19.00, and the summary says where the $7.00 comes from.
    assert shipping == "$7.00" and total == "$19.00"
    assert "Next step" not in totals
