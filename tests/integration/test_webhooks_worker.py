"""Webhooks applied by a real rq worker: five deliveries of one event, one payment."""

import json
import threading
import time
import uuid

from sqlalchemy import func, select

from app.catalog.service import VariantData
from app.extensions import db
from app.orders.models import Order
from app.orders.service import Checkout, place_order
from app.payments.models import Payment, WebhookEvent
from app.payments.signatures import stripe_signature
from app.payments.webhooks import gateway_secret
from tenants.models import Store
from tests.conftest import HostClient
from tests.factories import make_product, make_store
from tests.integration.conftest import PRODUCTION_MODE, wait_for

pytestmark = PRODUCTION_MODE


def test_concurrent_duplicate_webhooks_apply_once_on_the_worker(production_app, worker):
    with production_app.app_context():
        store = make_store("hooks", "Hook Shop")
        product = make_product(store, "Kettle", variants=[VariantData("KET", 3000, stock=2)])
        order = place_order(
            db.session.get(Store, store.id),
            Checkout(
                email="b@example.com",
                lines=[(product.variants[0].id, 1)],
                idempotency_key=uuid.uuid4().hex,
                shipping_address={"country": "US"},
            ),
        )
        order_id, number, total = order.id, order.number, order.total
        secret = gateway_secret(store.id)
        db.session.remove()
    raw = json.dumps(
        {
            "id": "evt_dup",
            "type": "payment.succeeded",
            "order_number": number,
            "amount": total,
            "currency": "USD",
            "payment_id": "pay_1",
        }
    ).encode()
    t = int(time.time())
    headers = {"Pasar-Signature": f"t={t},v1={stripe_signature(raw, secret, t)}"}
    answers = []

    def deliver():
        client = HostClient(production_app, production_app.response_class)
        client.host = "hooks.pasar.test"
        answers.append(client.post("/webhooks/test", data=raw, headers=headers).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t_ in threads:
        t_.start()
    for t_ in threads:
        t_.join(timeout=30)
    assert answers == [200] * 5

    def paid():
        with production_app.app_context():
            status = db.session.get(Order, order_id).status
            db.session.remove()
            return status == "paid"

    wait_for(paid, what="the worker to apply the payment")
    time.sleep(1)  # give any duplicate a chance to (wrongly) apply
    with production_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 1
