"""The built-in test gateway: its hosted page, what it refuses, and how its webhook travels."""

import json
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

import jobs.payments
from app.config import ConfigError, load_config
from app.database import utcnow
from app.extensions import db
from app.orders import states
from app.orders.links import order_key, order_path
from app.orders.models import Order
from app.payments.models import GatewayDelivery, Payment, WebhookEvent
from jobs.payments import deliver_test_webhook, delivery_mode
from tests.conftest import BACKENDS, HostClient, free_port, make_app
from tests.web.order_helpers import make_order, make_variant, order_row
from tests.web.test_checkout import settings

# One backend: the hosted page, refusals, redirects and jobs; a repeated approval on both.
pytestmark = pytest.mark.backends("sqlite")


def key_of(app, made) -> str:
    with app.app_context():
        return order_key(db.session.get(Order, made["id"]))


def path_of(app, made) -> str:
    with app.app_context():
        return order_path(db.session.get(Order, made["id"]))


def counts(app) -> tuple[int, int]:
    """(webhook events, payments) recorded so far."""
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(WebhookEvent)),
            db.session.scalar(select(func.count()).select_from(Payment)),
        )


def event_for(made, kind="payment.succeeded", currency="USD") -> str:
    return json.dumps(
        {
            "id": f"evt_test_{uuid.uuid4().hex}",
            "type": kind,
            "order_number": made["number"],
            "amount": made["total"],
            "currency": currency,
            "payment_id": "pay_test_1",
        }
    )


@pytest.fixture
def pending(app, store_a):
    return make_order(app, store_a, make_variant(store_a, price=4500), quantity=1)


def test_the_page_looks_like_a_payment_page(app, client_for, store_a, pending):
    page = client_for(store_a).get(f"/pay/test/{pending['number']}?key={key_of(app, pending)}")
    assert page.status_code == 200
    for text in ("$45.00", "Alpha Goods", "Approve payment", "Decline", "offline test gateway"):
        assert text in page.text
    assert f"Order #{pending['number']}" in page.text


@pytest.mark.parametrize("provider", ["stripe", "midtrans"])
def test_stores_paid_through_stripe_or_midtrans_dont_serve_it(
    app, client_for, store_a, pending, provider
):
    settings(app, store_a, payment_provider=provider)
    client, key = client_for(store_a), key_of(app, pending)
    assert client.get(f"/pay/test/{pending['number']}?key={key}").status_code == 404
    assert client.post(f"/pay/test/{pending['number']}/approve?key={key}").status_code == 404
    assert counts(app) == (0, 0)


@pytest.mark.parametrize(
    ("status", "placed_ago", "message"),
    [
        (states.PAID, timedelta(0), "already paid"),
        (states.CANCELLED, timedelta(0), "was cancelled"),
        (states.PENDING_PAYMENT, timedelta(hours=1), "waited too long for its payment"),
    ],
)
@pytest.mark.parametrize("decision", ["approve", "decline"])
def test_an_order_that_cant_be_paid_sends_nothing_and_says_why(
    app, client_for, store_a, status, placed_ago, message, decision
):
    made = make_order(app, store_a, make_variant(store_a), status=status, now=utcnow() - placed_ago)
    before = counts(app)
    client, key = client_for(store_a), key_of(app, made)
    assert message in client.get(f"/pay/test/{made['number']}?key={key}").text
    response = client.post(f"/pay/test/{made['number']}/{decision}?key={key}")
    assert response.status_code == 409 and message in response.text
    assert "Approve payment" not in response.text
    assert counts(app) == before
    assert order_row(app, made)["status"] == status


@pytest.mark.parametrize(
    ("status", "placed_ago"),
    [(states.PAID, timedelta(0)), (states.CANCELLED, timedelta(0)), (None, timedelta(hours=1))],
)
def test_paying_a_settled_or_expired_order_goes_to_its_page(
    app, client_for, store_a, status, placed_ago
):
    made = make_order(
        app,
        store_a,
        make_variant(store_a),
        status=status or states.PENDING_PAYMENT,
        now=utcnow() - placed_ago,
    )
    response = client_for(store_a).post(f"/checkout/pay/{made['number']}?key={key_of(app, made)}")
    assert response.status_code == 303 and response.location == path_of(app, made)


@pytest.mark.backends(*BACKENDS)  # the same form twice acts once
def test_approving_twice_in_a_row_records_one_payment(app, client_for, store_a, pending):
    client, key = client_for(store_a), key_of(app, pending)
    assert client.post(f"/pay/test/{pending['number']}/approve?key={key}").status_code == 303
    assert client.post(f"/pay/test/{pending['number']}/approve?key={key}").status_code == 409
    assert counts(app) == (1, 1)
    assert order_row(app, pending)["payments"][0][:2] == ("charge", 4500)


def test_a_declined_payment_shows_on_the_order_page_with_a_way_to_try_again(
    app, client_for, store_a, pending
):
    client, key = client_for(store_a), key_of(app, pending)
    page = client.post(f"/pay/test/{pending['number']}/decline?key={key}", follow_redirects=True)
    assert page.status_code == 200
    assert "Your payment was declined" in page.text
    assert f"/checkout/pay/{pending['number']}?key=" in page.text
    assert order_row(app, pending)["status"] == states.PENDING_PAYMENT
    with app.app_context():
        (event,) = db.session.scalars(select(WebhookEvent)).all()
        assert (event.event_type, event.status) == ("payment.failed", "ignored")


def test_a_webhook_the_store_refuses_fails_the_job_so_it_is_retried(
    app, store_a, pending, monkeypatch
):
    monkeypatch.setattr(jobs.payments, "gateway_secret", lambda store_id: "not-the-secret")
    with app.app_context(), pytest.raises(RuntimeError, match="answered 400"):
        deliver_test_webhook(store_a.id, event_for(pending))
    assert counts(app) == (0, 0)
    assert order_row(app, pending)["status"] == states.PENDING_PAYMENT


def test_with_workers_approving_records_the_delivery_then_queues_its_job(
    app, client_for, store_a, pending
):
    """In production mode the decision is an outbox row first; the job takes the row's id."""
    from app.background import get_queue

    app.config["JOBS_INLINE"] = False
    if app.config["EMBEDDED"]:  # RQ needs a Redis: a fake one stands in for this test
        import fakeredis

        app.extensions["pasar_redis"] = fakeredis.FakeRedis()
    client, key = client_for(store_a), key_of(app, pending)
    assert client.post(f"/pay/test/{pending['number']}/approve?key={key}").status_code == 303
    with app.app_context():
        (job,) = get_queue().get_jobs()
        (delivery,) = db.session.scalars(select(GatewayDelivery)).all()
        assert job.args == (delivery.id,) and job.id == f"gateway-delivery-{delivery.id}"
        assert (delivery.store_id, delivery.status) == (store_a.id, "pending")
        assert json.loads(delivery.body)["type"] == "payment.succeeded"
        delivery_id = delivery.id
    assert counts(app) == (0, 0)  # nothing happens until a worker runs it
    # What the worker does (without one here, the webhook's own job must run inline).
    app.config.update(JOBS_INLINE=True, TEST_GATEWAY_DELIVERY="inprocess")
    with app.app_context():
        assert job.perform() == "delivered"
        assert job.perform() == "delivered"  # twice is harmless: delivered is final
        assert db.session.get(GatewayDelivery, delivery_id).delivered_at is not None
    assert order_row(app, pending)["status"] == states.PAID
    assert counts(app) == (1, 1)


@pytest.mark.backends(*BACKENDS)  # the webhook is written while the approval runs
def test_http_delivery_is_a_real_request_to_the_store(
    app, backend, database_urls, redis_url, store_a, pending
):
    """Served over HTTP on a port of its own, the app receives its own webhook like a provider's."""
    port = free_port()
    domain = f"pasar.localhost:{port}"
    served = make_app(
        database_urls(backend),
        redis_url,
        PLATFORM_DOMAIN=domain,
        SESSION_COOKIE_DOMAIN="pasar.localhost",
        REMEMBER_COOKIE_DOMAIN="pasar.localhost",
        TEST_GATEWAY_DELIVERY="http",
    )
    server = make_server("127.0.0.1", port, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = HostClient(served, served.response_class)
        client.host = f"{store_a.slug}.{domain}"
        with served.app_context():
            assert delivery_mode() == "http"
            key = order_key(db.session.get(Order, pending["id"]))
        response = client.post(f"/pay/test/{pending['number']}/approve?key={key}")
        assert response.status_code == 303
    finally:
        server.shutdown()
        with served.app_context():
            db.engine.dispose()
    assert order_row(app, pending)["status"] == states.PAID
    assert counts(app) == (1, 1)


@pytest.mark.parametrize(
    ("inline", "configured", "expected"),
    [(True, None, "inprocess"), (False, None, "http"), (True, "http", "http")],
)
def test_the_delivery_mode_follows_the_setting_or_how_jobs_run(app, inline, configured, expected):
    app.config.update(JOBS_INLINE=inline, TEST_GATEWAY_DELIVERY=configured)
    with app.app_context():
        assert delivery_mode() == expected


def test_an_unknown_delivery_mode_is_refused_at_startup(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("TEST_GATEWAY_DELIVERY", "carrier-pigeon")
    with pytest.raises(ConfigError, match="TEST_GATEWAY_DELIVERY"):
        load_config(str(tmp_path))
    monkeypatch.setenv("TEST_GATEWAY_DELIVERY", " HTTP ")
    assert load_config(str(tmp_path))["TEST_GATEWAY_DELIVERY"] == "http"
