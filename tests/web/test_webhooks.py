"""Webhooks: verified on the raw body, recorded once, applied idempotently and order-aware."""

import json
import time
import uuid

import pytest
from sqlalchemy import func, select

from app.catalog.service import VariantData
from app.extensions import db
from app.orders.models import Order
from app.orders.service import Checkout, expire_unpaid_orders, place_order
from app.payments.models import Payment, WebhookEvent
from app.payments.signatures import stripe_signature
from app.payments.webhooks import gateway_secret
from tenants.models import Store
from tests.factories import make_product


@pytest.fixture
def order(app, store_a):
    product = make_product(store_a, "Lamp", variants=[VariantData("LAMP", 4500, stock=3)])
    with app.app_context():
        placed = place_order(
            db.session.get(Store, store_a.id),
            Checkout(
                email="buyer@example.com",
                lines=[(product.variants[0].id, 1)],
                idempotency_key=uuid.uuid4().hex,
                shipping_address={"country": "US"},
            ),
        )
        return {"id": placed.id, "number": placed.number, "total": placed.total}


def event(order, kind="payment.succeeded", **changes):
    body = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": kind,
        "order_number": order["number"],
        "amount": order["total"],
        "currency": "USD",
        "payment_id": "pay_1",
        "refund_id": "re_1",
    }
    body.update(changes)
    return body


def post(app, client, store, body, *, secret_store=None, timestamp=None, raw=None):
    raw = raw if raw is not None else json.dumps(body).encode()
    with app.app_context():
        secret = gateway_secret((secret_store or store).id)
    t = int(time.time()) if timestamp is None else timestamp
    header = f"t={t},v1={stripe_signature(raw, secret, t)}"
    return client.post(
        "/webhooks/test",
        data=raw,
        headers={"Pasar-Signature": header},
        content_type="application/json",
    )


def status_of(app, order):
    with app.app_context():
        return db.session.get(Order, order["id"]).status


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_paid_event_pays_the_order(app, client_for, store_a, order):
    response = post(app, client_for(store_a), store_a, event(order))
    assert response.status_code == 200 and response.get_json() == {"result": "recorded"}
    assert status_of(app, order) == "paid"
    with app.app_context():
        payment = db.session.scalar(select(Payment))
        assert (payment.amount, payment.kind, payment.currency) == (order["total"], "charge", "USD")
        assert db.session.scalar(select(WebhookEvent.status)) == "applied"


def test_the_same_event_five_times_pays_once(app, client_for, store_a, order):
    body = event(order)
    results = [post(app, client_for(store_a), store_a, body).get_json()["result"] for _ in range(5)]
    assert results == ["recorded"] + ["duplicate"] * 4
    # A provider retry with a new event id for the same payment changes nothing either.
    again = post(app, client_for(store_a), store_a, event(order))
    assert again.status_code == 200
    assert status_of(app, order) == "paid"
    assert count(app, Payment) == 1
    with app.app_context():
        statuses = db.session.scalars(select(WebhookEvent.status).order_by(WebhookEvent.id)).all()
    assert statuses == ["applied", "ignored"]


@pytest.mark.backends("sqlite")  # signatures
@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"raw": b""}, "empty"),
        ({"timestamp": int(time.time()) - 7 * 86400}, "a replay from a week ago"),
        ({"timestamp": int(time.time()) + 3600}, "from the future"),
    ],
)
def test_bad_signatures_are_400_and_store_nothing(app, client_for, store_a, order, kwargs, why):
    response = post(app, client_for(store_a), store_a, event(order), **kwargs)
    assert response.status_code == 400, why
    assert count(app, WebhookEvent) == 0 and status_of(app, order) == "pending_payment"


@pytest.mark.backends("sqlite")  # signatures
def test_missing_or_forged_signatures_are_400(app, client_for, store_a, store_b, order):
    client = client_for(store_a)
    raw = json.dumps(event(order)).encode()
    assert client.post("/webhooks/test", data=raw).status_code == 400
    assert (
        client.post(
            "/webhooks/test", data=raw, headers={"Pasar-Signature": "t=1,v1=deadbeef"}
        ).status_code
        == 400
    )
    # Signed with another store's secret.
    assert post(app, client, store_a, event(order), secret_store=store_b).status_code == 400
    assert count(app, WebhookEvent) == 0


@pytest.mark.backends("sqlite")  # parsing
def test_signed_but_malformed_events_are_400(app, client_for, store_a, order):
    client = client_for(store_a)
    for raw in (b"not json", b"[]", json.dumps({"type": "payment.succeeded"}).encode()):
        assert post(app, client, store_a, None, raw=raw).status_code == 400
    assert count(app, WebhookEvent) == 0


@pytest.mark.backends("sqlite")  # checks in Python
@pytest.mark.parametrize(
    ("changes", "note"),
    [
        ({"amount": 1}, "does not match"),
        ({"currency": "EUR"}, "does not match"),
        ({"order_number": 999999}, "unknown order"),
    ],
)
def test_mismatched_events_are_flagged_not_applied(app, client_for, store_a, order, changes, note):
    assert post(app, client_for(store_a), store_a, event(order, **changes)).status_code == 200
    assert status_of(app, order) == "pending_payment" and count(app, Payment) == 0
    with app.app_context():
        flagged = db.session.scalar(select(WebhookEvent))
        assert flagged.status == "flagged" and note in flagged.note


def test_paid_after_refunded_changes_nothing(app, client_for, store_a, order):
    client = client_for(store_a)
    post(app, client, store_a, event(order))
    post(app, client, store_a, event(order, "refund.succeeded", amount=1000))
    assert status_of(app, order) == "partially_refunded"
    post(
        app,
        client,
        store_a,
        event(order, "refund.succeeded", amount=order["total"] - 1000, refund_id="re_2"),
    )
    assert status_of(app, order) == "refunded"
    post(app, client, store_a, event(order, payment_id="pay_late"))
    assert status_of(app, order) == "refunded"
    with app.app_context():
        amounts = sorted(db.session.scalars(select(Payment.amount)))
    assert amounts == sorted([order["total"], -1000, -(order["total"] - 1000)])


def test_money_for_an_expired_order_is_flagged_for_a_person(app, client_for, store_a, order):
    from datetime import timedelta

    from app.database import utcnow

    with app.app_context():
        expire_unpaid_orders(utcnow() + timedelta(hours=1))
    post(app, client_for(store_a), store_a, event(order))
    assert status_of(app, order) == "cancelled"
    with app.app_context():
        assert db.session.scalar(select(WebhookEvent.status)) == "flagged"


def test_another_store_s_host_never_touches_this_order(app, client_for, store_a, store_b, order):
    response = post(app, client_for(store_b), store_b, event(order))
    assert response.status_code == 200  # genuine for store B, but B has no such order
    assert status_of(app, order) == "pending_payment"
    with app.app_context():
        assert db.session.scalar(select(WebhookEvent.status)) == "flagged"


@pytest.mark.backends("sqlite")  # routing
def test_webhooks_live_on_store_hosts_only(app, client, order):
    assert client.post("/webhooks/test", data=b"{}").status_code == 404
