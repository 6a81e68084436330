"""Stripe and Midtrans against a local stand-in for their APIs (no network needed)."""

import base64
import json
import threading
import time
import uuid

import pytest
from flask import Flask, jsonify, request
from sqlalchemy import select
from werkzeug.serving import make_server

from app.catalog.service import VariantData
from app.checkout.models import CheckoutSettings
from app.checkout.secrets import decrypt, encrypt
from app.extensions import db
from app.orders.models import Order, OrderEvent
from app.orders.service import Checkout, place_order
from app.payments.models import Payment, WebhookEvent
from app.payments.providers import ProviderError, start_midtrans, start_stripe
from app.payments.signatures import midtrans_signature, stripe_signature
from tenants.models import Store
from tests.conftest import BACKENDS, free_port
from tests.factories import make_product, make_store

# One backend for the calls to the fake providers, signatures and keys: HTTP, not SQL.
pytestmark = pytest.mark.backends("sqlite")


class FakeProviders:
    """A tiny HTTP server answering like Stripe's and Midtrans' APIs, recording requests."""

    def __init__(self):
        self.requests: list[dict] = []
        self.midtrans_status: dict = {}
        app = Flask("fake-providers")

        @app.post("/v1/checkout/sessions")
        def stripe_session():
            self.requests.append(
                {
                    "path": request.path,
                    "form": request.form.to_dict(),
                    "headers": dict(request.headers),
                }
            )
            return jsonify(
                id="cs_test_123",
                object="checkout.session",
                url="https://checkout.stripe.test/c/cs_test_123",
            )

        @app.post("/snap/v1/transactions")
        def snap():
            self.requests.append(
                {"path": request.path, "json": request.get_json(), "headers": dict(request.headers)}
            )
            return jsonify(token="snap-token-1", redirect_url="https://app.midtrans.test/snap/1")

        @app.get("/v2/<order_id>/status")
        def status(order_id):
            self.requests.append({"path": request.path, "headers": dict(request.headers)})
            return jsonify(self.midtrans_status)

        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def providers(app):
    fake = FakeProviders()
    fake.thread.start()
    app.config.update(
        STRIPE_API_BASE=fake.url, MIDTRANS_API_BASE=fake.url, MIDTRANS_SNAP_BASE=fake.url
    )
    yield fake
    fake.server.shutdown()


def setup_store(app, slug, currency, **settings):
    store = make_store(slug, slug.title(), currency=currency)
    product = make_product(
        store,
        "Scarf",
        variants=[VariantData(f"{slug}-SC", 15_000_000 if currency == "IDR" else 2500, stock=5)],
    )
    with app.app_context():
        db.session.add(CheckoutSettings(store_id=store.id, **settings))
        db.session.commit()
        order = place_order(
            db.session.get(Store, store.id),
            Checkout(
                email="buyer@example.com",
                lines=[(product.variants[0].id, 1)],
                idempotency_key=uuid.uuid4().hex,
                shipping_address={"country": "ID"},
            ),
        )
        return store, {"id": order.id, "number": order.number, "total": order.total}


def order_status(app, order):
    with app.app_context():
        return db.session.get(Order, order["id"]).status


def test_provider_keys_are_stored_encrypted(app):
    with app.app_context():
        stored = encrypt("sk_test_secret")
        assert "sk_test_secret" not in stored and decrypt(stored) == "sk_test_secret"
        app.config["SECRET_KEY"] = "rotated"
        assert decrypt(stored) is None  # unreadable with another key, not an exception


def test_stripe_checkout_session_is_created_idempotently(app, providers):
    with app.app_context():
        key = encrypt("sk_test_abc")
    store, order = setup_store(
        app, "stripey", "USD", payment_provider="stripe", stripe_secret_key=key
    )
    with app.app_context():
        row = db.session.get(Order, order["id"])
        start = start_stripe(
            db.session.get(Store, store.id),
            row,
            db.session.get(CheckoutSettings, store.id),
            success_url="http://x/ok",
            cancel_url="http://x/cancel",
        )
    assert start.redirect_url == "https://checkout.stripe.test/c/cs_test_123"
    sent = providers.requests[0]
    assert sent["form"]["line_items[0][price_data][unit_amount]"] == str(order["total"])
    assert sent["form"]["metadata[order_number]"] == str(order["number"])
    assert sent["headers"]["Idempotency-Key"] == f"pasar-order-{order['id']}"
    assert sent["headers"]["Authorization"] == "Bearer sk_test_abc"


def test_stripe_without_keys_is_a_clear_error(app, providers):
    store, order = setup_store(app, "nokeys", "USD", payment_provider="stripe")
    with app.app_context(), pytest.raises(ProviderError, match="not set up"):
        start_stripe(
            db.session.get(Store, store.id),
            db.session.get(Order, order["id"]),
            db.session.get(CheckoutSettings, store.id),
            success_url="",
            cancel_url="",
        )


def stripe_post(app, client, secret, event):
    raw = json.dumps(event).encode()
    t = int(time.time())
    return client.post(
        "/webhooks/stripe",
        data=raw,
        content_type="application/json",
        headers={"Stripe-Signature": f"t={t},v1={stripe_signature(raw, secret, t)}"},
    )


@pytest.mark.backends(*BACKENDS)  # the payments ledger
def test_stripe_webhooks_pay_and_refund(app, client_for, providers):
    with app.app_context():
        secret = encrypt("whsec_1")
    store, order = setup_store(
        app, "stripey", "USD", payment_provider="stripe", stripe_webhook_secret=secret
    )
    client = client_for(store)
    paid = {
        "id": "evt_1",
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": "cs_1",
                "payment_status": "paid",
                "amount_total": order["total"],
                "currency": "usd",
                "payment_intent": "pi_1",
                "metadata": {"order_number": str(order["number"])},
            }
        },
    }
    assert stripe_post(app, client, "whsec_1", paid).status_code == 200
    assert stripe_post(app, client, "whsec_wrong", {**paid, "id": "evt_x"}).status_code == 400
    assert order_status(app, order) == "paid"
    refund = {
        "id": "evt_2",
        "type": "refund.created",
        "data": {
            "object": {
                "id": "re_1",
                "status": "succeeded",
                "amount": 1000,
                "currency": "usd",
                "payment_intent": "pi_1",
            }
        },
    }
    assert stripe_post(app, client, "whsec_1", refund).status_code == 200
    assert order_status(app, order) == "partially_refunded"
    with app.app_context():
        assert sorted(db.session.scalars(select(Payment.amount))) == [-1000, order["total"]]


def test_midtrans_snap_uses_whole_rupiah_and_basic_auth(app, providers):
    with app.app_context():
        key = encrypt("SB-Mid-server-1")
    store, order = setup_store(
        app, "batiks", "IDR", payment_provider="midtrans", midtrans_server_key=key
    )
    with app.app_context():
        start = start_midtrans(
            db.session.get(Store, store.id),
            db.session.get(Order, order["id"]),
            db.session.get(CheckoutSettings, store.id),
            finish_url="http://x",
        )
    assert start.redirect_url == "https://app.midtrans.test/snap/1"
    sent = providers.requests[0]
    assert sent["json"]["transaction_details"] == {
        "order_id": f"batiks-{order['number']}",
        "gross_amount": order["total"] // 100,
    }
    expected = base64.b64encode(b"SB-Mid-server-1:").decode()
    assert sent["headers"]["Authorization"] == f"Basic {expected}"


def midtrans_notification(store, order, server_key, status="settlement", amount=None):
    gross = f"{(amount if amount is not None else order['total']) // 100}.00"
    order_id = f"{store.slug}-{order['number']}"
    return {
        "order_id": order_id,
        "status_code": "200",
        "gross_amount": gross,
        "transaction_status": status,
        "transaction_id": "tx-1",
        "signature_key": midtrans_signature(order_id, "200", gross, server_key),
    }


@pytest.mark.backends(*BACKENDS)  # a replay acts once
def test_midtrans_notifications_are_rechecked_before_applying(app, client_for, providers):
    with app.app_context():
        key = encrypt("SB-Mid-server-1")
    store, order = setup_store(
        app, "batiks", "IDR", payment_provider="midtrans", midtrans_server_key=key
    )
    client = client_for(store)
    # A genuine-looking "settlement" while Midtrans itself still says pending: not applied.
    providers.midtrans_status = {
        "transaction_status": "pending",
        "transaction_id": "tx-1",
        "gross_amount": f"{order['total'] // 100}.00",
        "currency": "IDR",
    }
    note = midtrans_notification(store, order, "SB-Mid-server-1")
    assert client.post("/webhooks/midtrans", json=note).status_code == 200
    assert order_status(app, order) == "pending_payment"
    # Midtrans now reports settlement: the next notification applies it; a replay is a no-op.
    providers.midtrans_status["transaction_status"] = "settlement"
    note2 = {**note, "transaction_id": "tx-1b"}
    note2["signature_key"] = note["signature_key"]
    assert client.post("/webhooks/midtrans", json=note2).status_code == 200
    assert client.post("/webhooks/midtrans", json=note2).get_json() == {"result": "duplicate"}
    assert order_status(app, order) == "paid"
    with app.app_context():
        assert db.session.scalar(select(Payment.amount)) == order["total"]
        assert [p for p in providers.requests if "/status" in p["path"]]


def test_forged_midtrans_notifications_are_400(app, client_for, providers):
    with app.app_context():
        key = encrypt("SB-Mid-server-1")
    store, order = setup_store(
        app, "batiks", "IDR", payment_provider="midtrans", midtrans_server_key=key
    )
    client = client_for(store)
    forged = midtrans_notification(store, order, "attacker-guess")
    assert client.post("/webhooks/midtrans", json=forged).status_code == 400
    assert client.post("/webhooks/midtrans", data=b"not json").status_code == 400
    tampered = midtrans_notification(store, order, "SB-Mid-server-1")
    tampered["gross_amount"] = "1.00"
    assert client.post("/webhooks/midtrans", json=tampered).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(WebhookEvent.id)) is None


@pytest.mark.backends(*BACKENDS)  # the payments ledger
def test_a_midtrans_refund_without_a_refund_amount_is_the_whole_gross(app, client_for, providers):
    with app.app_context():
        key = encrypt("SB-Mid-server-1")
    store, order = setup_store(
        app, "batiks", "IDR", payment_provider="midtrans", midtrans_server_key=key
    )
    client = client_for(store)
    gross = f"{order['total'] // 100}.00"  # Midtrans speaks whole rupiah
    providers.midtrans_status = {
        "transaction_status": "settlement",
        "transaction_id": "tx-1",
        "gross_amount": gross,
        "currency": "IDR",
    }
    paid = midtrans_notification(store, order, "SB-Mid-server-1")
    assert client.post("/webhooks/midtrans", json=paid).status_code == 200
    assert order_status(app, order) == "paid"
    # Refunded in full, and the status names no refund_amount: the gross is what went back,
    # read in major units like every Midtrans amount (not the minor units scaled again).
    providers.midtrans_status["transaction_status"] = "refund"
    refund = midtrans_notification(store, order, "SB-Mid-server-1", status="refund")
    assert client.post("/webhooks/midtrans", json=refund).status_code == 200
    assert order_status(app, order) == "refunded"
    with app.app_context():
        amounts = sorted(db.session.scalars(select(Payment.amount)))
        assert amounts == [-order["total"], order["total"]]
        # The order's history says it in money, in the store's format, not in minor units.
        note = db.session.scalar(select(OrderEvent.note).where(OrderEvent.to_status == "refunded"))
        assert note == "Refund of IDR150,000 (midtrans)"
