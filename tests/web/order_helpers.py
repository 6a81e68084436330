"""Orders in the states the dashboard tests need, and a stand-in for the providers' refund APIs."""

import uuid

from flask import jsonify, request
from sqlalchemy import func, select

from app.accounts.models import User
from app.catalog.service import VariantData
from app.extensions import db
from app.orders import states
from app.orders.models import Order, OrderEvent
from app.orders.service import Checkout, place_order, transition
from app.payments.models import Payment
from tenants.models import Store
from tests.factories import make_product
from tests.web.test_payment_providers import FakeProviders

ADDRESS = {
    "full_name": "Sam Shopper",
    "line1": "1 Market St",
    "city": "San Francisco",
    "region": "US-CA",
    "postal_code": "94105",
    "country": "US",
}


def make_variant(store, sku: str = "LAMP", price: int = 4500, stock: int = 10) -> int:
    """A product with one variant in `store`; returns the variant id."""
    product = make_product(store, f"Lamp {sku}", variants=[VariantData(sku, price, stock=stock)])
    return product.variants[0].id


def make_order(
    app,
    store,
    variant_id: int,
    *,
    quantity: int = 2,
    email: str = "sam@example.com",
    name: str = "Sam Shopper",
    status: str = states.PENDING_PAYMENT,
    provider: str = "test",
    charge_ref: str | None = None,
    now=None,
) -> dict:
    """Place an order and move it to `status` (paid through `provider` on the way)."""
    with app.app_context():
        store_row = db.session.get(Store, store.id)
        order = place_order(
            store_row,
            Checkout(
                email=email,
                lines=[(variant_id, quantity)],
                idempotency_key=uuid.uuid4().hex,
                shipping_address={**ADDRESS, "full_name": name},
                payment_provider=provider,
            ),
            now=now,
        )
        path = {
            states.PENDING_PAYMENT: [],
            states.PAID: [states.PAID],
            states.FULFILLED: [states.PAID, states.FULFILLED],
            states.DELIVERED: [states.PAID, states.FULFILLED, states.DELIVERED],
            states.CANCELLED: [states.CANCELLED],
        }[status]
        for step in path:
            transition(order, step, note="test")
            if step == states.PAID:
                db.session.add(
                    Payment(
                        store_id=store.id,
                        order_id=order.id,
                        provider=provider,
                        provider_ref=charge_ref or f"pay-{order.id}",
                        kind="charge",
                        amount=order.total,
                        currency=order.currency,
                    )
                )
        db.session.commit()
        return {"id": order.id, "number": order.number, "total": order.total}


def order_row(app, order: dict) -> dict:
    """The order's status, events and payments as plain data (read in a fresh context)."""
    with app.app_context():
        row = db.session.get(Order, order["id"])
        payments = db.session.execute(
            select(Payment.kind, Payment.amount, Payment.provider, Payment.provider_ref)
            .where(Payment.order_id == row.id)
            .order_by(Payment.id)
        ).all()
        events = db.session.scalar(
            select(func.count()).select_from(OrderEvent).where(OrderEvent.order_id == row.id)
        )
        return {
            "status": row.status,
            "payments": [tuple(p) for p in payments],
            "events": events,
            "notes": [e.note for e in row.events],
        }


def owner_of(app, store) -> User:
    """The owner account of a store made by tests.factories.make_store."""
    with app.app_context():
        user = db.session.scalar(
            select(User).where(User.email == f"owner@{store.slug}.example.com")
        )
        db.session.expunge(user)
        return user


class FakeRefunds(FakeProviders):
    """FakeProviders plus Stripe's and Midtrans' refund endpoints.

    `fail` makes the next refunds fail the way each provider does; a repeated Stripe
    idempotency key answers with the refund it made the first time, as Stripe does.
    """

    def __init__(self):
        super().__init__()
        self.fail = False
        self.during = None  # called while a refund request is being answered
        self.refunds: list[dict] = []
        self._by_key: dict[str, dict] = {}
        app = self.server.app

        def stripe_refund():
            key = request.headers.get("Idempotency-Key")
            entry = {
                "path": request.path,
                "form": request.form.to_dict(),
                "headers": dict(request.headers),
            }
            self.refunds.append(entry)
            if self.during is not None:
                self.during()
            if self.fail:
                body = {"error": {"type": "invalid_request_error", "message": "Charge refunded"}}
                return jsonify(body), 400
            if key in self._by_key:
                return jsonify(self._by_key[key])
            refund = {
                "id": f"re_{len(self._by_key) + 1}",
                "object": "refund",
                "status": "succeeded",
                "amount": int(request.form["amount"]),
                "currency": "usd",
                "payment_intent": request.form["payment_intent"],
            }
            self._by_key[key] = refund
            return jsonify(refund)

        def midtrans_refund(order_id):
            body = request.get_json()
            self.refunds.append(
                {"path": request.path, "json": body, "headers": dict(request.headers)}
            )
            if self.during is not None:
                self.during()
            if self.fail:
                return jsonify(status_code="412", status_message="Transaction cannot be refunded")
            return jsonify(
                status_code="200",
                status_message="Success, refund request is approved",
                order_id=order_id,
                refund_key=body["refund_key"],
                refund_amount=body["amount"],
            )

        app.add_url_rule("/v1/refunds", "stripe_refund", stripe_refund, methods=["POST"])
        app.add_url_rule(
            "/v2/<order_id>/refund", "midtrans_refund", midtrans_refund, methods=["POST"]
        )
