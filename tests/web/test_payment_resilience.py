"""Nothing lost when Redis or a provider is away: recorded webhooks, test-gateway decisions and
Midtrans re-checks live in the database, sweeps queue them again, and the unpaid-order expiry
waits for them (SQLite and PostgreSQL)."""

import json
from datetime import timedelta

import pytest
import requests
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select, update

from app import background
from app.background import enqueue_after_commit, get_queue, next_attempt_at
from app.checkout.secrets import encrypt
from app.database import utcnow
from app.extensions import db
from app.orders.service import expire_unpaid_orders
from app.payments import webhooks
from app.payments.models import GatewayDelivery, WebhookEvent
from jobs.maintenance import sweep_gateway_deliveries, sweep_webhook_events
from tests.accounts_helpers import sign_in_with_factor
from tests.conftest import sign_in_as
from tests.web.order_helpers import make_order, make_variant, order_row, owner_of
from tests.web.test_payment_providers import midtrans_notification, setup_store
from tests.web.test_test_gateway import key_of
from tests.web.test_webhooks import event, post


@pytest.fixture
def pending(app, store_a):
    return make_order(app, store_a, make_variant(store_a, price=4500), quantity=1)


@pytest.fixture
def workers(app):
    """Production mode: jobs go to Redis (a fake one when TEST_REDIS_URL is unset)."""
    app.config["JOBS_INLINE"] = False
    return app


@pytest.fixture
def redis_down(monkeypatch):
    """Every enqueue fails as it does while Redis is unreachable."""

    def unreachable(name="default"):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    monkeypatch.setattr(background, "get_queue", unreachable)


def queued_ids(app) -> list[str]:
    with app.app_context():
        return [job.id for job in get_queue().get_jobs()]


def events(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(WebhookEvent.id, WebhookEvent.status, WebhookEvent.order_number)
        ).all()


def test_the_retry_schedule_backs_off_then_gives_up():
    now = utcnow()
    schedule = [10, 30, 60]
    assert next_attempt_at(1, schedule, now) == now + timedelta(seconds=10)
    assert next_attempt_at(2, schedule, now) == now + timedelta(seconds=30)
    assert next_attempt_at(3, schedule, now) == now + timedelta(seconds=60)
    assert next_attempt_at(4, schedule, now) is None


@pytest.mark.backends("sqlite")  # configuration
def test_the_default_schedule_keeps_trying_for_about_a_day(app):
    total = sum(app.config["MIDTRANS_RECHECK_SCHEDULE"])
    assert 20 * 3600 <= total <= 28 * 3600
    assert app.config["GATEWAY_RETRY_SCHEDULE"] == app.config["MIDTRANS_RECHECK_SCHEDULE"]


@pytest.mark.backends("sqlite")  # a log line
def test_a_failed_enqueue_after_commit_is_logged_not_raised(app, workers, redis_down, caplog):
    with app.app_context():
        assert enqueue_after_commit(webhooks.apply_webhook_event, 1) is None
    assert "its sweep will queue it later" in caplog.text


@pytest.mark.backends("sqlite")  # the answer over HTTP
def test_a_webhook_posted_while_redis_is_down_is_recorded_and_answered_200(
    app, workers, redis_down, client_for, store_a, pending
):
    response = post(app, client_for(store_a), store_a, event(pending))
    assert response.status_code == 200 and response.get_json() == {"result": "recorded"}
    ((_, status, number),) = events(app)
    assert (status, number) == ("received", pending["number"])


def test_a_provider_retry_of_an_unapplied_event_queues_it_again(
    app, workers, monkeypatch, client_for, store_a, pending
):
    body, client = event(pending), client_for(store_a)
    with monkeypatch.context() as patch:
        patch.setattr(
            background,
            "get_queue",
            lambda name="default": (_ for _ in ()).throw(RedisConnectionError("down")),
        )
        assert post(app, client, store_a, body).status_code == 200
    assert queued_ids(app) == []  # Redis was down: nothing queued
    again = post(app, client, store_a, body)  # the provider retries after Redis is back
    assert again.status_code == 200 and again.get_json() == {"result": "queued again"}
    ((event_id, _, _),) = events(app)
    assert queued_ids(app) == [f"webhook-{event_id}-retry"]
    with app.app_context():
        get_queue().get_jobs()[0].perform()
        get_queue().empty()
    assert order_row(app, pending)["status"] == "paid"
    # Once applied, a retry is the duplicate it is, and queues nothing.
    assert post(app, client, store_a, body).get_json() == {"result": "duplicate"}
    assert queued_ids(app) == []


def test_the_sweep_queues_events_left_received_after_the_grace_period(
    app, workers, redis_down, client_for, store_a, pending, monkeypatch
):
    assert post(app, client_for(store_a), store_a, event(pending)).status_code == 200
    monkeypatch.undo()
    with app.app_context():
        assert sweep_webhook_events() == 0  # too fresh: its own job may still be on its way
        db.session.execute(update(WebhookEvent).values(received_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
        assert sweep_webhook_events() == 1
        assert sweep_webhook_events() == 0  # leased: the next sweep leaves it to that job
        (event_id,) = db.session.scalars(select(WebhookEvent.id)).all()
    assert queued_ids(app) == [f"webhook-{event_id}-sweep"]
    with app.app_context():
        get_queue().get_jobs()[0].perform()
    assert order_row(app, pending)["status"] == "paid"


def test_expiry_spares_an_order_with_an_unapplied_payment_event(
    app, workers, redis_down, client_for, store_a, pending
):
    assert post(app, client_for(store_a), store_a, event(pending)).status_code == 200
    later = utcnow() + timedelta(hours=2)
    with app.app_context():
        assert expire_unpaid_orders(later) == 0
    assert order_row(app, pending)["status"] == "pending_payment"
    # Settled without a payment (here: ignored), the order may expire after all.
    with app.app_context():
        db.session.execute(update(WebhookEvent).values(status="ignored"))
        db.session.commit()
        assert expire_unpaid_orders(later) == 1
    assert order_row(app, pending)["status"] == "cancelled"


def test_approve_while_redis_is_down_answers_a_page_and_records_the_delivery(
    app, workers, redis_down, client_for, store_a, pending
):
    client, key = client_for(store_a), key_of(app, pending)
    response = client.post(f"/pay/test/{pending['number']}/approve?key={key}")
    assert response.status_code == 303
    with app.app_context():
        (delivery,) = db.session.scalars(select(GatewayDelivery)).all()
        assert (delivery.status, delivery.decision) == ("pending", "approve")
        # The approval not yet delivered keeps the order from expiring.
        assert expire_unpaid_orders(utcnow() + timedelta(hours=2)) == 0


def test_the_delivery_sweep_delivers_a_lost_approval(
    app, workers, redis_down, client_for, store_a, pending, monkeypatch
):
    client, key = client_for(store_a), key_of(app, pending)
    assert client.post(f"/pay/test/{pending['number']}/approve?key={key}").status_code == 303
    monkeypatch.undo()
    with app.app_context():
        db.session.execute(
            update(GatewayDelivery).values(created_at=utcnow() - timedelta(minutes=2))
        )
        db.session.commit()
        assert sweep_gateway_deliveries() == 1
        (job,) = get_queue().get_jobs()
    app.config.update(JOBS_INLINE=True, TEST_GATEWAY_DELIVERY="inprocess")
    with app.app_context():
        assert job.perform() == "delivered"
    assert order_row(app, pending)["status"] == "paid"


def test_a_failed_delivery_is_retried_on_the_schedule_then_given_up(
    app, store_a, pending, monkeypatch
):
    from jobs import payments

    app.config["GATEWAY_RETRY_SCHEDULE"] = [5]
    monkeypatch.setattr(payments, "gateway_secret", lambda store_id: "not-the-secret")
    with app.app_context():
        delivery = GatewayDelivery(
            store_id=store_a.id,
            event_id="evt_x",
            order_number=pending["number"],
            decision="approve",
            body=json.dumps(json.loads(json.dumps(event(pending)))),
        )
        db.session.add(delivery)
        db.session.commit()
        delivery_id = delivery.id
        assert payments.deliver_gateway_delivery(delivery_id) == "pending"
        row = db.session.get(GatewayDelivery, delivery_id)
        assert row.attempts == 1 and "answered 400" in row.last_error
        assert row.next_attempt_at > utcnow() + timedelta(seconds=3)
        assert payments.deliver_gateway_delivery(delivery_id) == "failed"


@pytest.fixture
def midtrans(app):
    with app.app_context():
        key = encrypt("SB-Mid-server-1")
    store, order = setup_store(
        app, "batiks", "IDR", payment_provider="midtrans", midtrans_server_key=key
    )
    return store, order


def test_an_unreachable_midtrans_is_rechecked_on_a_schedule_then_flagged(
    app, client_for, midtrans, monkeypatch
):
    store, order = midtrans
    app.config["MIDTRANS_RECHECK_SCHEDULE"] = [60, 600]

    def unreachable(settings, order_id):
        raise requests.ConnectionError("Max retries exceeded (Connection refused)")

    monkeypatch.setattr(webhooks, "midtrans_status", unreachable)
    note = midtrans_notification(store, order, "SB-Mid-server-1")
    assert client_for(store).post("/webhooks/midtrans", json=note).status_code == 200
    with app.app_context():
        row = db.session.scalar(select(WebhookEvent))
        assert (row.status, row.attempts, row.order_number) == ("received", 1, order["number"])
        assert "Connection refused" in row.last_error
        assert utcnow() + timedelta(seconds=50) < row.next_check_at
        assert sweep_webhook_events() == 0  # not due yet
        assert expire_unpaid_orders(utcnow() + timedelta(hours=2)) == 0
        row.next_check_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert sweep_webhook_events() == 1  # due: queued (inline here, so it ran and failed)
        row = db.session.scalar(select(WebhookEvent))
        assert row.attempts == 2 and row.next_check_at > utcnow() + timedelta(seconds=500)
        assert webhooks.apply_webhook_event(row.id) == "flagged"  # the schedule is spent
        assert "could not be reached" in db.session.scalar(select(WebhookEvent.note))


@pytest.mark.backends("sqlite")  # markup
def test_a_provider_outage_shows_in_the_job_centre_and_the_console(
    app, client_for, client, midtrans, monkeypatch
):
    from tests.factories import make_user

    store, order = midtrans

    def failing(settings, order_id):
        raise requests.HTTPError("503 Server Error: Service Unavailable")

    monkeypatch.setattr(webhooks, "midtrans_status", failing)
    note = midtrans_notification(store, order, "SB-Mid-server-1")
    owner = client_for(store)
    assert owner.post("/webhooks/midtrans", json=note).status_code == 200
    sign_in_as(owner, owner_of(app, store))
    page = owner.get("/admin/jobs").get_data(as_text=True)
    assert "Payments waiting on a provider" in page and "503 Server Error" in page
    sign_in_with_factor(client, make_user("root@example.com", superuser=True))
    console = client.get("/console/jobs").get_data(as_text=True)
    assert "Waiting on a payment provider" in console and "503 Server Error" in console
