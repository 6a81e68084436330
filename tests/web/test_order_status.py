"""The shopper's order pages and the order emails: the signed status page, order history under
/account, the confirmation to the shopper and the new-order notice to the store's owners."""

import json
import time

import pytest
from sqlalchemy import select

from app.extensions import db
from app.notifications.models import EmailMessage
from app.orders import fulfilment
from app.orders.links import order_key, order_path
from app.orders.models import Order
from app.payments.signatures import gateway_signature
from app.payments.webhooks import gateway_secret
from tests.conftest import BACKENDS, PLATFORM, sign_in_as
from tests.factories import add_member, make_store, make_user
from tests.services.test_browse import count_queries
from tests.web.order_helpers import make_order, make_variant

# One backend for pages, keys, fragments and emails: HTTP, not SQL; replays and history on both.
pytestmark = pytest.mark.backends("sqlite")

HTMX = {"HX-Request": "true"}


def order_row(app, store, number):
    with app.app_context():
        found = db.session.scalar(
            select(Order).where(Order.store_id == store.id, Order.number == number)
        )
        _ = found.lines, found.events
        db.session.expunge(found)
        return found


def key_for(app, store, number) -> str:
    with app.app_context():
        return order_key(order_row(app, store, number))


def link_for(app, store, number) -> str:
    with app.app_context():
        return order_path(order_row(app, store, number))


def emails(app, template=None):
    with app.app_context():
        query = select(EmailMessage).order_by(EmailMessage.id)
        if template:
            query = query.where(EmailMessage.template == template)
        found = db.session.scalars(query).all()
        for message in found:
            db.session.expunge(message)
        return found


def pay_by_webhook(client, app, store, number, event_id="evt_1", amount=None):
    """Deliver a signed test-gateway payment event, as the gateway's job does."""
    found = order_row(app, store, number)
    body = json.dumps(
        {
            "id": event_id,
            "type": "payment.succeeded",
            "order_number": number,
            "amount": found.total if amount is None else amount,
            "currency": found.currency,
            "payment_id": f"pay_{event_id}",
        }
    ).encode()
    now = int(time.time())
    with app.app_context():
        signature = gateway_signature(body, gateway_secret(store.id), now)
    return client.post(
        "/webhooks/test",
        data=body,
        headers={"Pasar-Signature": f"t={now},v1={signature}", "Content-Type": "application/json"},
    )


@pytest.fixture
def pending(app, store_a):
    """A pending test-gateway order in store A (its number)."""
    return make_order(app, store_a, make_variant(store_a, "LAMP", 4500), quantity=2)["number"]


def test_the_signed_link_opens_the_order_page(app, client_for, store_a, pending):
    page = client_for(store_a).get(link_for(app, store_a, pending))
    assert page.status_code == 200
    assert f"order #{pending}" in page.text and "Waiting for payment" in page.text
    assert "$90.00" in page.text and "LAMP" in page.text and "1 Market St" in page.text
    assert "Pay now" in page.text and f"/checkout/pay/{pending}?key=" in page.text
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("key", ["", "forged", "WzEsMSwxMDAxXQ.tampered", "x" * 500])
def test_a_wrong_or_missing_key_is_404(client_for, store_a, pending, key):
    assert client_for(store_a).get(f"/orders/{pending}?key={key}").status_code == 404


@pytest.mark.backends(*BACKENDS)  # another store's order; an id past any integer
def test_a_key_opens_only_its_own_order_and_only_on_its_store(app, client_for, store_a, store_b):
    first = make_order(app, store_a, make_variant(store_a, "A1"))["number"]
    second = make_order(app, store_a, make_variant(store_a, "A2"))["number"]
    theirs = make_order(app, store_b, make_variant(store_b, "B1"))["number"]
    assert first == theirs  # both stores count from #1001
    key = key_for(app, store_a, first)
    assert client_for(store_a).get(f"/orders/{second}?key={key}").status_code == 404
    assert client_for(store_b).get(f"/orders/{theirs}?key={key}").status_code == 404
    assert client_for(None).get(f"/orders/{first}?key={key}").status_code == 404
    assert client_for(store_a).get("/orders/99999999999999999999?key=x").status_code == 404


def test_the_shopper_who_placed_it_needs_no_key_and_others_get_404(app, client_for, store_a):
    from app.orders.service import Checkout, place_order
    from tenants.models import Store

    me, other = make_user("me@example.com"), make_user("other@example.com")
    variant = make_variant(store_a, "MINE")
    with app.app_context():
        placed = place_order(
            db.session.get(Store, store_a.id),
            Checkout(
                email="me@example.com",
                lines=[(variant, 1)],
                idempotency_key="k" * 20,
                shipping_address={"full_name": "Me", "country": "US"},
                user_id=me.id,
            ),
        )
        number = placed.number
    mine = client_for(store_a)
    sign_in_as(mine, me)
    assert mine.get(f"/orders/{number}").status_code == 200
    stranger = client_for(store_a)
    sign_in_as(stranger, other)
    assert stranger.get(f"/orders/{number}").status_code == 404


def test_the_status_polls_while_pending_and_stops_once_paid(app, client_for, store_a, pending):
    client = client_for(store_a)
    link = link_for(app, store_a, pending)
    waiting = client.get(link, headers=HTMX)
    assert waiting.status_code == 200 and "<html" not in waiting.text
    assert waiting.text.lstrip().startswith('<section id="order-status"')
    assert 'hx-trigger="sse:status, every 2s"' in waiting.text
    assert pay_by_webhook(client, app, store_a, pending).status_code == 200
    paid = client.get(link, headers=HTMX)
    # Paid: no more polling, only the order's live events (a refund, the shipment).
    assert "Paid: being prepared" in paid.text and 'hx-trigger="sse:status"' in paid.text
    assert "Payment received" in paid.text and "Pay now" not in paid.text
    # The heading comes along out of band: "Almost there" while waiting, then the thank-you.
    assert '<h1 id="order-heading" hx-swap-oob="true">Almost there</h1>' in waiting.text
    assert '<h1 id="order-heading" hx-swap-oob="true">Thank you for your order</h1>' in paid.text
    page = client.get(link)
    assert '<h1 id="order-heading">Thank you for your order</h1>' in page.text
    assert "hx-swap-oob" not in page.text  # a plain load has one heading, in its place


def test_a_declined_payment_is_pointed_out(app, client_for, store_a, pending):
    page = client_for(store_a).get(link_for(app, store_a, pending) + "&payment=declined")
    assert "Your payment was declined or cancelled" in page.text


def test_script_in_titles_and_names_is_inert(app, client_for, store_a):
    variant = make_variant(store_a, "XSS")
    with app.app_context():
        from app.catalog.models import Product, Variant

        product = db.session.get(Product, db.session.get(Variant, variant).product_id)
        product.title = "<script>alert(1)</script> Lamp"
        db.session.commit()
    number = make_order(app, store_a, variant, name="<img src=x onerror=alert(2)>")["number"]
    client = client_for(store_a)
    page = client.get(link_for(app, store_a, number))
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert "<img src=x" not in page.text
    pay_by_webhook(client, app, store_a, number)
    (confirmation,) = emails(app, "order_confirmation")
    assert "<script>alert(1)</script>" not in confirmation.html_body
    assert "&lt;script&gt;" in confirmation.html_body


@pytest.mark.backends(*BACKENDS)  # a replayed event acts once
def test_paying_sends_one_confirmation_and_one_owner_notice(app, client_for, store_a, pending):
    client = client_for(store_a)
    assert pay_by_webhook(client, app, store_a, pending, "evt_1").status_code == 200
    assert pay_by_webhook(client, app, store_a, pending, "evt_1").status_code == 200  # replay
    assert pay_by_webhook(client, app, store_a, pending, "evt_2").status_code == 200  # again
    (confirmation,) = emails(app, "order_confirmation")
    assert confirmation.to_address == "sam@example.com"
    assert f"Order #{pending} confirmed" in confirmation.subject
    assert "$90.00" in confirmation.text_body and "1 Market St" in confirmation.text_body
    (notice,) = emails(app, "new_order")
    assert notice.to_address == "owner@alpha.example.com"
    assert f"http://alpha.{PLATFORM}/admin/orders/{pending}" in notice.text_body
    # The link in the confirmation opens the order page for someone without an account.
    link = next(w for w in confirmation.text_body.split() if "/orders/" in w)
    assert link.startswith(f"http://alpha.{PLATFORM}/orders/{pending}?key=")
    page = client_for(store_a).get(link.split(PLATFORM, 1)[1])
    assert page.status_code == 200 and "Paid: being prepared" in page.text


@pytest.mark.backends(*BACKENDS)  # paid twice, acts once
def test_marking_paid_by_hand_sends_them_once_and_a_late_webhook_adds_nothing(
    app, client_for, store_a, pending
):
    with app.app_context():
        found = db.session.scalar(select(Order).where(Order.number == pending))
        fulfilment.mark_paid(found, actor_id=None)
    assert pay_by_webhook(client_for(store_a), app, store_a, pending).status_code == 200
    assert len(emails(app, "order_confirmation")) == 1
    assert len(emails(app, "new_order")) == 1


def test_every_owner_hears_of_a_new_order_but_not_staff(app, client_for, store_a, pending):
    add_member(store_a, make_user("co-owner@example.com"), "owner")
    add_member(store_a, make_user("staff@example.com"), "staff")
    pay_by_webhook(client_for(store_a), app, store_a, pending)
    assert sorted(m.to_address for m in emails(app, "new_order")) == [
        "co-owner@example.com",
        "owner@alpha.example.com",
    ]


def test_a_flagged_payment_sends_nothing(app, client_for, store_a, pending):
    pay_by_webhook(client_for(store_a), app, store_a, pending, amount=1)
    assert emails(app) == []
    assert order_row(app, store_a, pending).status == "pending_payment"


def _order_for(app, store, user, n):
    from app.orders.service import Checkout, place_order
    from tenants.models import Store

    variant = make_variant(store, f"H{store.id}-{n}")
    with app.app_context():
        return place_order(
            db.session.get(Store, store.id),
            Checkout(
                email=user.email,
                lines=[(variant, 1)],
                idempotency_key=f"history-{store.id}-{n}-{user.id}".ljust(16, "x"),
                shipping_address={"full_name": "Me", "country": "US"},
                user_id=user.id,
            ),
        ).number


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_history_lists_only_my_orders_in_this_store(app, client_for, store_a, store_b):
    me, other = make_user("me@example.com"), make_user("other@example.com")
    mine_a = _order_for(app, store_a, me, 1)
    _order_for(app, store_b, me, 2)
    _order_for(app, store_a, other, 3)
    client = client_for(store_a)
    sign_in_as(client, me)
    page = client.get("/account/orders/")
    assert page.status_code == 200
    assert page.text.count('<a href="/orders/') == 1 and f"#{mine_a}" in page.text
    assert "Bravo Supply" not in page.text


@pytest.mark.backends(*BACKENDS)  # rows across stores (row-level security)
def test_history_on_the_platform_lists_every_store_with_links_to_their_hosts(
    app, client_for, store_a, store_b
):
    me = make_user("me@example.com")
    _order_for(app, store_a, me, 1)
    _order_for(app, store_b, me, 2)
    client = client_for(None)
    sign_in_as(client, me)
    page = client.get("/account/orders/")
    assert "Alpha Goods" in page.text and "Bravo Supply" in page.text
    assert f'href="http://alpha.{PLATFORM}/orders/' in page.text
    assert f'href="http://bravo.{PLATFORM}/orders/' in page.text


@pytest.mark.backends(*BACKENDS)  # pagination, huge page numbers
def test_history_needs_an_account_and_pages_safely(app, client_for, store_a):
    assert client_for(store_a).get("/account/orders/").status_code == 302
    me = make_user("me@example.com")
    client = client_for(store_a)
    sign_in_as(client, me)
    empty = client.get("/account/orders/")
    assert empty.status_code == 200 and "No orders yet." in empty.text
    for page in ("0", "-3", "999999", "junk", "1" * 40):
        assert client.get(f"/account/orders/?page={page}").status_code == 200


@pytest.mark.backends(*BACKENDS)  # a query count
def test_history_runs_the_same_queries_for_few_and_many_orders(app, client_for):
    store = make_store("gamma", "Gamma")
    me = make_user("me@example.com")
    client = client_for(store)
    sign_in_as(client, me)
    counts = []
    for n in range(1, 26):
        _order_for(app, store, me, n)
        if n in (2, 25):
            with app.app_context(), count_queries() as counter:
                assert client.get("/account/orders/").status_code == 200
            counts.append(counter.count)
    assert counts[0] == counts[1], counts
    assert "Older" in client.get("/account/orders/").text


def test_money_reads_the_same_in_the_history_and_the_store(app, client_for):
    """Rupiah read the same way on every page in one language, without ",00" (issue 16, bug 8):
    in the store's own locale while its language is spoken, else in the language's."""
    from app.orders.service import Checkout, place_order
    from tenants.models import Store

    store = make_store("batik", "Batik", currency="IDR", locale="id_ID")
    me = make_user("me@example.com")
    variant = make_variant(store, "KAIN", 11_250_000)  # Rp112.500
    with app.app_context():
        placed = place_order(
            db.session.get(Store, store.id),
            Checkout(
                email=me.email,
                lines=[(variant, 2)],
                idempotency_key="money-history-key-1",
                shipping_address={"full_name": "Me", "country": "ID"},
                user_id=me.id,
            ),
        )
        assert placed.total == 22_500_000  # stored minor units keep ISO 4217's two digits
        path = order_path(placed)
    on_platform = client_for(None)
    sign_in_as(on_platform, me)
    indonesian = {"Accept-Language": "id-ID,id;q=0.9"}
    everywhere = on_platform.get("/account/orders/", headers=indonesian).text
    assert "Rp225.000" in everywhere
    assert "IDR225" not in everywhere and "Rp225.000,00" not in everywhere
    in_store = client_for(store)
    sign_in_as(in_store, me)
    for page in (in_store.get("/account/orders/").text, in_store.get(path).text):
        assert "Rp225.000" in page and "Rp225.000,00" not in page
    product = in_store.get("/products/lamp-kain").text
    assert "Rp112.500" in product and "Rp112.500,00" not in product
    # In English the same amounts read the English way, on the platform and in the store alike.
    english = {"Accept-Language": "en"}
    for page in (
        on_platform.get("/account/orders/", headers=english).text,
        in_store.get(path, headers=english).text,
    ):
        assert "IDR225,000" in page and "Rp225" not in page and "IDR225,000.00" not in page
