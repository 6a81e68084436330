"""Marking paid, shipping, delivering, cancelling and refunding orders (app.orders.fulfilment)."""

import threading

import pytest
from sqlalchemy import func, select

from app.catalog.models import Variant
from app.checkout.models import CheckoutSettings
from app.checkout.secrets import encrypt
from app.extensions import db
from app.inventory.service import ledger_total
from app.notifications.models import EmailMessage
from app.orders import fulfilment
from app.orders.fulfilment import FulfilmentError
from app.orders.models import Order
from app.payments.models import Payment, WebhookEvent
from app.payments.webhooks import record_event
from tenants.models import Store
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import add_member, make_store, make_user
from tests.web.order_helpers import FakeRefunds, make_order, make_variant, order_row, owner_of

# One backend: state machine, validation, emails, provider calls; locks and ledgers run on both.
pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture
def lamp(app, store_a):
    return make_variant(store_a, "LAMP", 4500, stock=10)


@pytest.fixture
def fake(app):
    server = FakeRefunds()
    server.thread.start()
    app.config.update(STRIPE_API_BASE=server.url, MIDTRANS_API_BASE=server.url)
    yield server
    server.server.shutdown()


def act(app, order: dict, action: str, *args, **kwargs):
    """Call a fulfilment function on a freshly loaded order, as the view does."""
    with app.app_context():
        row = db.session.get(Order, order["id"])
        try:
            return getattr(fulfilment, action)(row, *args, **kwargs)
        finally:
            db.session.remove()


def stock(app, variant_id: int) -> int:
    with app.app_context():
        value = db.session.get(Variant, variant_id).stock
        assert value == ledger_total(variant_id)
        return value


def emails(app, template: str) -> list[EmailMessage]:
    with app.app_context():
        rows = list(
            db.session.scalars(select(EmailMessage).where(EmailMessage.template == template))
        )
        for row in rows:
            db.session.expunge(row)
        return rows


@pytest.mark.backends(*BACKENDS)  # acts once, under the order's row lock
def test_mark_paid_records_an_offline_payment_once(app, store_a, lamp):
    order = make_order(app, store_a, lamp)
    act(app, order, "mark_paid", None)
    state = order_row(app, order)
    assert state["status"] == "paid"
    assert state["payments"] == [("charge", order["total"], "manual", f"manual-{order['id']}")]
    with pytest.raises(FulfilmentError) as info:
        act(app, order, "mark_paid", None)
    assert info.value.status == 409 and "paid can't become paid" in info.value.message
    assert order_row(app, order)["payments"] == state["payments"]


@pytest.mark.backends(*BACKENDS)  # a column limit (the tracking number)
def test_ship_needs_carrier_and_tracking_and_emails_the_shopper(app, store_a, lamp):
    order = make_order(app, store_a, lamp, status="paid")
    before = order_row(app, order)
    for carrier, tracking in [("DHL", ""), ("", "JD0001"), ("   ", "  "), ("DHL", "x" * 101)]:
        with pytest.raises(FulfilmentError) as info:
            act(app, order, "ship", None, carrier=carrier, tracking_number=tracking)
        assert info.value.status == 422
    assert order_row(app, order) == before and emails(app, "shipping_notice") == []
    act(app, order, "ship", None, carrier=" DHL  Express ", tracking_number="JD0001")
    state = order_row(app, order)
    assert state["status"] == "fulfilled"
    assert state["notes"][-1] == "Shipped with DHL Express, tracking JD0001"
    (mail,) = emails(app, "shipping_notice")
    assert mail.to_address == "sam@example.com" and f"#{order['number']}" in mail.subject
    assert "JD0001" in mail.text_body and "DHL Express" in mail.html_body
    assert "Alpha Goods" in mail.html_body


def test_ship_and_deliver_follow_the_state_machine(app, store_a, lamp):
    pending = make_order(app, store_a, lamp)
    with pytest.raises(FulfilmentError) as info:
        act(app, pending, "ship", None, carrier="DHL", tracking_number="1")
    assert info.value.status == 409
    with pytest.raises(FulfilmentError):
        act(app, pending, "mark_delivered", None)
    shipped = make_order(app, store_a, lamp, status="fulfilled")
    act(app, shipped, "mark_delivered", None)
    assert order_row(app, shipped)["status"] == "delivered"


def test_a_partly_refunded_order_ships_once_and_is_delivered_only_after_shipping(
    app, store_a, lamp
):
    order = make_order(app, store_a, lamp, status="paid")
    act(app, order, "refund", None, amount=100)
    with pytest.raises(FulfilmentError, match="hasn't been shipped"):
        act(app, order, "mark_delivered", None)
    act(app, order, "ship", None, carrier="DHL", tracking_number="1Z")
    act(app, order, "refund", None, amount=100)
    with pytest.raises(FulfilmentError, match="already been shipped"):
        act(app, order, "ship", None, carrier="DHL", tracking_number="2Z")
    act(app, order, "mark_delivered", None)
    act(app, order, "refund", None, amount=100)
    with pytest.raises(FulfilmentError, match="already marked delivered"):
        act(app, order, "mark_delivered", None)
    with app.app_context():
        assert fulfilment.next_steps(db.session.get(Order, order["id"])) == {"refund"}
    assert order_row(app, order)["status"] == "partially_refunded"


@pytest.mark.backends(*BACKENDS)  # stock ledger
def test_cancelling_an_unpaid_order_returns_its_stock(app, store_a, lamp):
    order = make_order(app, store_a, lamp, quantity=3)
    assert stock(app, lamp) == 7
    act(app, order, "cancel", None, reason="Customer asked")
    state = order_row(app, order)
    assert state["status"] == "cancelled" and state["payments"] == []
    assert state["notes"][-1] == "Cancelled. Reason: Customer asked"
    assert stock(app, lamp) == 10
    assert emails(app, "refund_notice") == []


@pytest.mark.backends(*BACKENDS)  # stock ledger and refunds that add up
def test_cancelling_a_paid_order_refunds_it_in_full(app, store_a, lamp):
    order = make_order(app, store_a, lamp, status="paid")
    act(app, order, "cancel", None)
    state = order_row(app, order)
    assert state["status"] == "cancelled"
    assert [p[:2] for p in state["payments"]] == [
        ("charge", order["total"]),
        ("refund", -order["total"]),
    ]
    assert stock(app, lamp) == 10
    (mail,) = emails(app, "refund_notice")
    assert "cancelled" in mail.subject and "$" in mail.text_body


@pytest.mark.parametrize("status", ["fulfilled", "delivered", "cancelled"])
def test_shipped_or_cancelled_orders_cannot_be_cancelled(app, store_a, lamp, status):
    order = make_order(app, store_a, lamp, status=status)
    before, left = order_row(app, order), stock(app, lamp)
    with pytest.raises(FulfilmentError) as info:
        act(app, order, "cancel", None)
    assert info.value.status == 409 and "can't become cancelled" in info.value.message
    assert order_row(app, order) == before and stock(app, lamp) == left


@pytest.mark.backends(*BACKENDS)  # stock returned once, refunds add up
def test_partial_then_full_refund_with_stock_returned_once(app, store_a, lamp):
    order = make_order(app, store_a, lamp, status="delivered")  # total 2 x 45.00 = 90.00
    act(app, order, "refund", None, amount=2000, restock=True, reason="One was broken")
    state = order_row(app, order)
    assert state["status"] == "partially_refunded"
    assert state["payments"][-1][:3] == ("refund", -2000, "test")
    assert state["notes"][-1] == "Refunded $20.00; items returned to stock. Reason: One was broken"
    assert stock(app, lamp) == 10
    with pytest.raises(FulfilmentError) as info:
        act(app, order, "refund", None, amount=order["total"] - 2000 + 1)
    assert info.value.status == 422 and "at most $70.00" in info.value.message
    act(app, order, "refund", None, amount=order["total"] - 2000, restock=True)
    state = order_row(app, order)
    assert state["status"] == "refunded" and "already back in stock" in state["notes"][-1]
    assert sum(p[1] for p in state["payments"]) == 0
    assert stock(app, lamp) == 10  # not returned twice
    assert len(emails(app, "refund_notice")) == 2
    with pytest.raises(FulfilmentError) as info:
        act(app, order, "refund", None, amount=1)
    assert info.value.status == 409


@pytest.mark.parametrize("amount", [0, -100, True, "10"])
def test_refund_amounts_must_be_positive_whole_minor_units(app, store_a, lamp, amount):
    order = make_order(app, store_a, lamp, status="paid")
    with pytest.raises(FulfilmentError) as info:
        act(app, order, "refund", None, amount=amount)
    assert info.value.status == 422
    assert order_row(app, order)["status"] == "paid"


def test_unpaid_orders_cannot_be_refunded(app, store_a, lamp):
    order = make_order(app, store_a, lamp)
    with pytest.raises(FulfilmentError) as info:
        act(app, order, "refund", None, amount=100)
    assert info.value.status == 409
    assert order_row(app, order)["payments"] == []


@pytest.mark.backends(*BACKENDS)  # the same form twice acts once
def test_the_same_refund_form_submitted_twice_refunds_once(app, store_a, lamp):
    order = make_order(app, store_a, lamp, status="paid")
    key = "k" * 32
    act(app, order, "refund", None, amount=1000, key=key)
    with pytest.raises(FulfilmentError, match="already been made"):
        act(app, order, "refund", None, amount=1000, key=key)
    assert [p[1] for p in order_row(app, order)["payments"]] == [order["total"], -1000]


@pytest.mark.backends(*BACKENDS)  # a lock
def test_two_simultaneous_full_refunds_refund_once(app, store_a, lamp):
    order = make_order(app, store_a, lamp, status="paid")
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list = []

    def click():
        barrier.wait()
        try:
            act(app, order, "refund", None, amount=order["total"])
            outcomes.append("refunded")
        except FulfilmentError as exc:
            outcomes.append(exc.status)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes, key=str) == [409, "refunded"]
    assert [p[1] for p in order_row(app, order)["payments"]] == [order["total"], -order["total"]]


def stripe_store(app, store):
    with app.app_context():
        db.session.add(
            CheckoutSettings(
                store_id=store.id,
                payment_provider="stripe",
                stripe_secret_key=encrypt("sk_test_refunds"),
                stripe_webhook_secret=encrypt("whsec_1"),
            )
        )
        db.session.commit()


def test_stripe_refunds_go_through_stripe_with_an_idempotency_key(app, store_a, lamp, fake):
    stripe_store(app, store_a)
    order = make_order(app, store_a, lamp, status="paid", provider="stripe", charge_ref="pi_42")
    act(app, order, "refund", None, amount=1500, key="a" * 20)
    (sent,) = fake.refunds
    assert sent["form"] == {"payment_intent": "pi_42", "amount": "1500"}
    assert sent["headers"]["Idempotency-Key"] == f"pasar-refund-{order['id']}-{'a' * 20}"
    assert sent["headers"]["Authorization"] == "Bearer sk_test_refunds"
    state = order_row(app, order)
    assert state["status"] == "partially_refunded"
    assert state["payments"][-1] == ("refund", -1500, "stripe", "re_1")
    # Stripe's refund.created webhook for the same refund only confirms it.
    with app.app_context():
        payload = {
            "type": "refund.succeeded",
            "order_number": order["number"],
            "amount": 1500,
            "currency": "USD",
            "refund_id": "re_1",
        }
        record_event(
            "stripe", db.session.get(Store, store_a.id), "evt_r1", payload["type"], payload
        )
        event = db.session.scalar(select(WebhookEvent))
        assert (event.status, event.note) == ("ignored", "refund already recorded")
    assert len(order_row(app, order)["payments"]) == 2


@pytest.mark.parametrize("action", ["refund", "cancel"])
@pytest.mark.backends(*BACKENDS)  # a lock
def test_no_lock_is_held_while_the_provider_refunds(app, store_a, lamp, fake, action):
    """Another transaction can take the order's row while Stripe is being asked."""
    from sqlalchemy import text

    stripe_store(app, store_a)
    order = make_order(app, store_a, lamp, status="paid", provider="stripe", charge_ref="pi_42")
    seen = []

    def take_the_row():
        with app.app_context():
            if db.engine.dialect.name == "sqlite":
                db.session.execute(text("PRAGMA busy_timeout = 0"))
                lock = "UPDATE orders SET updated_at = updated_at WHERE id = :id"
            else:
                lock = "SELECT id FROM orders WHERE id = :id FOR UPDATE NOWAIT"
            try:
                db.session.execute(text(lock), {"id": order["id"]})
                seen.append("free")
            except Exception as exc:
                seen.append(f"locked: {exc.__class__.__name__}")
            finally:
                db.session.rollback()
                db.session.remove()

    fake.during = take_the_row
    if action == "refund":
        act(app, order, "refund", None, amount=1500, key="b" * 20)
        assert order_row(app, order)["status"] == "partially_refunded"
    else:
        act(app, order, "cancel", None)
        assert order_row(app, order)["status"] == "cancelled"
    assert seen == ["free"]


def test_a_stripe_refusal_shows_a_message_and_writes_nothing(app, store_a, lamp, fake):
    stripe_store(app, store_a)
    order = make_order(app, store_a, lamp, status="paid", provider="stripe", charge_ref="pi_42")
    before = order_row(app, order)
    fake.fail = True
    with pytest.raises(FulfilmentError) as info:
        act(app, order, "refund", None, amount=1500, restock=True)
    assert info.value.status == 502 and "Nothing was refunded" in info.value.message
    assert order_row(app, order) == before and stock(app, lamp) == 8
    assert emails(app, "refund_notice") == []
    with pytest.raises(FulfilmentError):
        act(app, order, "cancel", None)
    assert order_row(app, order) == before and stock(app, lamp) == 8


def test_midtrans_refunds_send_whole_rupiah_with_a_refund_key(app, lamp, fake):
    store = make_store("batiks", "Batik", currency="IDR")
    variant = make_variant(store, "BATIK", 15_000_000, stock=5)  # Rp 150.000
    with app.app_context():
        db.session.add(
            CheckoutSettings(
                store_id=store.id,
                payment_provider="midtrans",
                midtrans_server_key=encrypt("SB-Mid-server-1"),
            )
        )
        db.session.commit()
    order = make_order(app, store, variant, quantity=1, status="paid", provider="midtrans")
    act(app, order, "refund", None, amount=5_000_000, reason="Late", key="b" * 20)
    (sent,) = fake.refunds
    assert sent["path"] == f"/v2/batiks-{order['number']}/refund"
    assert sent["json"] == {
        "refund_key": f"pasar-refund-{order['id']}-{'b' * 20}",
        "amount": 50_000,
        "reason": "Late",
    }
    assert sent["headers"]["Authorization"].startswith("Basic ")
    assert order_row(app, order)["payments"][-1][:3] == ("refund", -5_000_000, "midtrans")
    fake.fail = True
    before = order_row(app, order)
    with pytest.raises(FulfilmentError, match="Midtrans refused"):
        act(app, order, "refund", None, amount=1_000_000)
    assert order_row(app, order) == before


def test_refund_without_provider_keys_is_a_clear_error(app, store_a, lamp):
    order = make_order(app, store_a, lamp, status="paid", provider="stripe", charge_ref="pi_1")
    with pytest.raises(FulfilmentError, match="not set up") as info:
        act(app, order, "refund", None, amount=100)
    assert info.value.status == 502


# The action routes ----------------------------------------------------------------------------


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


@pytest.mark.backends(*BACKENDS)  # the actions' writes end to end, history in order
def test_actions_through_the_dashboard(app, owner_client, store_a, lamp):
    order = make_order(app, store_a, lamp)
    base = f"/admin/orders/{order['number']}"
    response = owner_client.post(f"{base}/mark-paid")
    assert response.status_code == 303 and response.headers["Location"] == base
    page = owner_client.get(base).get_data(as_text=True)
    assert "is marked paid" in page and "Offline" in page
    ship = owner_client.post(f"{base}/ship", data={"carrier": "JNE", "tracking_number": "JN-77"})
    assert ship.status_code == 303
    assert owner_client.post(f"{base}/deliver").status_code == 303
    refund = owner_client.post(
        f"{base}/refund", data={"amount": "10.00", "reason": "Scratched", "key": "c" * 20}
    )
    assert refund.status_code == 303
    state = order_row(app, order)
    assert state["status"] == "partially_refunded"
    assert state["notes"][-4:] == [
        "Marked paid (offline payment)",
        "Shipped with JNE, tracking JN-77",
        "Marked delivered",
        "Refunded $10.00. Reason: Scratched",
    ]
    page = owner_client.get(base).get_data(as_text=True)
    assert "Shipped with JNE, tracking JN-77" in page and "−$10.00" in page


@pytest.mark.parametrize(
    "data, message",
    [
        ({"amount": "abc"}, "must be a number"),
        ({"amount": "-5"}, "can&#39;t be negative"),
        ({"amount": "0"}, "more than zero"),
        ({"amount": "1.234"}, "at most 2 decimal places"),
        ({"amount": "90.01"}, "at most $90.00"),
        ({"amount": ""}, "is required"),
    ],
)
def test_bad_refund_amounts_are_refused_with_a_message(
    app, owner_client, store_a, lamp, data, message
):
    order = make_order(app, store_a, lamp, status="paid")
    before = order_row(app, order)
    response = owner_client.post(f"/admin/orders/{order['number']}/refund", data=data)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body and 'value="' + data["amount"] + '"' in body
    assert order_row(app, order) == before


def test_refused_actions_answer_409_or_422_and_write_nothing(app, owner_client, store_a, lamp):
    paid = make_order(app, store_a, lamp, status="paid")
    before = order_row(app, paid)
    no_tracking = owner_client.post(
        f"/admin/orders/{paid['number']}/ship", data={"carrier": "DHL", "tracking_number": " "}
    )
    assert no_tracking.status_code == 422
    assert "Enter the tracking number." in no_tracking.get_data(as_text=True)
    assert owner_client.post(f"/admin/orders/{paid['number']}/mark-paid").status_code == 409
    assert owner_client.post(f"/admin/orders/{paid['number']}/deliver").status_code == 409
    assert order_row(app, paid) == before
    shipped = make_order(app, store_a, lamp, status="fulfilled")
    before = order_row(app, shipped)
    cancel = owner_client.post(f"/admin/orders/{shipped['number']}/cancel")
    assert cancel.status_code == 409
    assert "fulfilled can&#39;t become cancelled" in cancel.get_data(as_text=True)
    assert order_row(app, shipped) == before


def test_staff_may_ship_but_not_refund(app, client_for, store_a, lamp):
    staff = make_user("staff@example.com")
    add_member(store_a, staff, "staff")
    client = client_for(store_a)
    sign_in_as(client, staff)
    order = make_order(app, store_a, lamp, status="paid")
    page = client.get(f"/admin/orders/{order['number']}").get_data(as_text=True)
    assert "Mark shipped" in page and ">Refund</button>" not in page and "Cancel order" not in page
    assert (
        client.post(f"/admin/orders/{order['number']}/refund", data={"amount": "1"}).status_code
        == 403
    )
    assert order_row(app, order)["status"] == "paid"
    ship = client.post(
        f"/admin/orders/{order['number']}/ship", data={"carrier": "DHL", "tracking_number": "1Z"}
    )
    assert ship.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


# Refunds choose what goes back to stock -------------------------------------------------------


def two_line_order(app, store, lamp, mug) -> dict:
    """A paid order of 2 lamps and 3 mugs; its id, number and line ids by variant."""
    import uuid

    from app.orders import states
    from app.orders.service import Checkout, place_order, transition
    from tests.web.order_helpers import ADDRESS

    with app.app_context():
        order = place_order(
            db.session.get(Store, store.id),
            Checkout(
                email="sam@example.com",
                lines=[(lamp, 2), (mug, 3)],
                idempotency_key=uuid.uuid4().hex,
                shipping_address=ADDRESS,
                payment_provider="test",
            ),
        )
        transition(order, states.PAID, note="test")
        db.session.add(
            Payment(
                store_id=store.id,
                order_id=order.id,
                provider="test",
                provider_ref=f"pay-{order.id}",
                kind="charge",
                amount=order.total,
                currency=order.currency,
            )
        )
        db.session.commit()
        lines = {line.variant_id: line.id for line in order.lines}
        return {"id": order.id, "number": order.number, "total": order.total, "lines": lines}


def return_movements(app, order) -> list[tuple[int, int]]:
    from app.inventory.models import StockMovement

    with app.app_context():
        return list(
            db.session.execute(
                select(StockMovement.variant_id, StockMovement.quantity)
                .where(
                    StockMovement.reference == f"order:{order['id']}",
                    StockMovement.kind == "return",
                )
                .order_by(StockMovement.id)
            ).all()
        )


@pytest.mark.backends(*BACKENDS)  # stock movement ledger
def test_a_partial_refund_returns_only_the_chosen_lines_and_quantities(app, store_a, lamp):
    from tests.web.order_helpers import make_variant

    mug = make_variant(store_a, "MUG", 1000, stock=10)
    order = two_line_order(app, store_a, lamp, mug)
    assert (stock(app, lamp), stock(app, mug)) == (8, 7)
    act(app, order, "refund", None, amount=1000, returns={order["lines"][mug]: 1})
    assert (stock(app, lamp), stock(app, mug)) == (8, 8)  # the lamps stay sold
    assert return_movements(app, order) == [(mug, 1)]
    assert order_row(app, order)["notes"][-1] == "Refunded $10.00; returned to stock: 1 × Lamp MUG"

    # Never more than was sold less what already went back: 2 mugs are left to return.
    before = order_row(app, order)
    with pytest.raises(FulfilmentError) as info:
        act(app, order, "refund", None, amount=1000, returns={order["lines"][mug]: 3})
    assert info.value.status == 422 and info.value.field == "returns"
    assert "at most 2 of Lamp MUG" in info.value.message
    assert order_row(app, order) == before and stock(app, mug) == 8

    act(
        app,
        order,
        "refund",
        None,
        amount=5500,
        returns={order["lines"][mug]: 2, order["lines"][lamp]: 1},
    )
    assert (stock(app, lamp), stock(app, mug)) == (9, 10)
    assert return_movements(app, order) == [(mug, 1), (lamp, 1), (mug, 2)]  # one per line


def test_a_line_of_another_order_cannot_be_returned(app, store_a, lamp):
    other = make_order(app, store_a, lamp, status="paid")
    order = make_order(app, store_a, lamp, status="paid")
    with app.app_context():
        foreign_line = db.session.get(Order, other["id"]).lines[0].id
    with pytest.raises(FulfilmentError) as info:
        act(app, order, "refund", None, amount=100, returns={foreign_line: 1})
    assert info.value.field == "returns" and stock(app, lamp) == 6


@pytest.mark.backends(*BACKENDS)  # stock movement ledger
def test_the_refund_form_returns_the_quantities_typed_per_line(app, owner_client, store_a, lamp):
    from tests.web.order_helpers import make_variant

    mug = make_variant(store_a, "MUG", 1000, stock=10)
    order = two_line_order(app, store_a, lamp, mug)
    base = f"/admin/orders/{order['number']}"
    page = owner_client.get(base).get_data(as_text=True)
    mug_field = f'name="return-{order["lines"][mug]}"'
    assert mug_field in page and 'max="3"' in page and 'name="restock"' not in page

    too_many = owner_client.post(
        f"{base}/refund",
        data={"amount": "10.00", f"return-{order['lines'][mug]}": "4", "key": "d" * 20},
    )
    assert too_many.status_code == 422 and "at most 3 of Lamp MUG" in too_many.text
    assert stock(app, mug) == 7 and stock(app, lamp) == 8

    done = owner_client.post(
        f"{base}/refund",
        data={"amount": "10.00", f"return-{order['lines'][mug]}": "1", "key": "e" * 20},
    )
    assert done.status_code == 303
    assert (stock(app, lamp), stock(app, mug)) == (8, 8)
    page = owner_client.get(base).get_data(as_text=True)
    assert 'max="2"' in page  # what is left of the mugs to return
