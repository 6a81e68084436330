"""Outbound webhooks end to end (SQLite and PostgreSQL): the outbox written with the change,
signed deliveries to a local receiver, retries until it answers, the SSRF guard at delivery,
the switch-off after a day with the owner's email, and the dashboard's pages (cross-store 404s,
test events, replays, the log)."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.database import utcnow
from app.extensions import db
from app.notifications.models import EmailMessage
from app.orders import fulfilment
from app.orders.models import Order
from app.webhooks.events import emit
from app.webhooks.models import OutboundEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from jobs.maintenance import sweep_outbound_webhooks
from jobs.webhooks_out import deliver
from tests.accounts_helpers import mark_recently_confirmed
from tests.conftest import BACKENDS, sign_in_as
from tests.web.order_helpers import make_order, make_variant, owner_of
from tests.webhook_helpers import add_endpoint, running_receiver


@pytest.fixture
def private_ok(app):
    """Deliveries may reach loopback: the receiver runs on 127.0.0.1."""
    app.config["WEBHOOKS_ALLOW_PRIVATE_NETWORKS"] = True
    return app


def deliveries(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.status,
                WebhookDelivery.attempts,
                WebhookDelivery.last_status_code,
            ).order_by(WebhookDelivery.id)
        ).all()


def attempts(app, delivery_id: int) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(WebhookAttempt.status_code, WebhookAttempt.response_body, WebhookAttempt.error)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        ).all()


def sweep(app) -> int:
    """Run the delivery sweep as cron would (deliveries run inline, in this process)."""
    with app.app_context():
        return sweep_outbound_webhooks()


def make_due(app) -> None:
    """Bring every pending delivery's next attempt to now (as if its wait had passed)."""
    with app.app_context():
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.status == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def test_an_endpoint_that_fails_then_recovers_gets_the_event_once_it_answers(
    app, store_a, private_ok
):
    with running_receiver() as receiver:
        receiver.codes = [500, 503]
        with app.app_context():
            endpoint = add_endpoint(store_a, receiver.url)
        receiver.secret = endpoint["secret"]
        variant = make_variant(store_a, "HOOK-1", price=1200)
        order = make_order(app, store_a, variant, quantity=1)
        # Placed: the first attempt ran after the commit, and failed.
        [(delivery_id, status, tries, code)] = deliveries(app)
        assert (status, tries, code) == ("pending", 1, 500)
        with app.app_context():
            due = db.session.get(WebhookDelivery, delivery_id).next_attempt_at
            assert timedelta(seconds=3) < due - utcnow() <= timedelta(seconds=5)
        # Not due yet: the sweep leaves it.
        assert sweep(app) == 0
        make_due(app)
        assert sweep(app) == 1
        assert deliveries(app)[0][1:] == ("pending", 2, 503)
        make_due(app)
        assert sweep(app) == 1
        assert deliveries(app)[0][1:] == ("delivered", 3, 200)
        make_due(app)
        assert sweep(app) == 0  # delivered is final
        with app.app_context():
            assert deliver(delivery_id) == "delivered"  # a second run sends nothing
        assert len(receiver.requests) == 3

    logged = attempts(app, delivery_id)
    assert [code for code, _, _ in logged] == [500, 503, 200]
    assert '"code": 200' in logged[2][1] and logged[0][2] == "The endpoint answered 500."
    assert len(receiver.requests) == 3
    assert all(receiver.verified())
    ids = {got["headers"]["webhook-id"] for got in receiver.requests}
    assert len(ids) == 1 and ids.pop().startswith("msg_")
    body = json.loads(receiver.requests[-1]["body"])
    assert body["type"] == "order.created"
    assert body["data"]["number"] == order["number"]
    assert body["data"]["total"] == order["total"] and body["data"]["currency"] == "USD"
    assert body["data"]["lines"][0]["sku"] == "HOOK-1"


def test_a_delivery_queued_while_redis_is_down_is_sent_by_the_sweep(
    app, store_a, private_ok, monkeypatch
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from app import background

    def unreachable(name="default"):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    with running_receiver() as receiver:
        with app.app_context():
            add_endpoint(store_a, receiver.url, events=("order.created",))
        app.config["JOBS_INLINE"] = False
        monkeypatch.setattr(background, "get_queue", unreachable)
        order = make_order(app, store_a, make_variant(store_a, "HOOK-R"), quantity=1)
        assert order["number"] and receiver.requests == []
        assert deliveries(app)[0][1:3] == ("pending", 0)
        # Redis is back (jobs inline again here); the first job was lost, so once the row is
        # older than the grace period the sweep sends it.
        monkeypatch.undo()
        app.config["JOBS_INLINE"] = True
        assert sweep(app) == 0  # too young: its first job may still come
        with app.app_context():
            db.session.execute(
                update(WebhookDelivery).values(created_at=utcnow() - timedelta(minutes=5))
            )
            db.session.commit()
        assert sweep(app) == 1
    assert deliveries(app)[0][1:3] == ("delivered", 1)
    assert len(receiver.requests) == 1


def test_events_are_written_in_the_changing_transaction_and_vanish_with_its_rollback(app, store_a):
    with app.app_context():
        add_endpoint(store_a, "https://192.0.2.10/hook", events=("order.paid", "stock.low"))
        emit(store_a.id, "order.paid", {"number": 1})
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(OutboundEvent)) == 0
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
        # Not subscribed: nothing is written at all.
        assert emit(store_a.id, "order.created", {"number": 1}) is None
        db.session.rollback()
    variant = make_variant(store_a, "HOOK-2", stock=10)
    order = make_order(app, store_a, variant, quantity=1)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboundEvent)) == 0
        fulfilment.mark_paid(db.session.get(Order, order["id"]), None)
        types = db.session.scalars(select(OutboundEvent.type)).all()
        assert types == ["order.paid"]
        # A payment refused by the state machine (already paid) rolls back: no second event.
        with pytest.raises(fulfilment.FulfilmentError):
            fulfilment.mark_paid(db.session.get(Order, order["id"]), None)
        assert db.session.scalar(select(func.count()).select_from(OutboundEvent)) == 1


def test_each_source_emits_its_event(app, store_a, private_ok):
    from app.catalog import editing
    from app.catalog.models import Product, Variant
    from app.inventory.service import apply_movement

    with running_receiver() as receiver:
        with app.app_context():
            add_endpoint(store_a, receiver.url, events=tuple(_all_types()))
        variant_id = make_variant(store_a, "HOOK-3", stock=8)
        order = make_order(app, store_a, variant_id, quantity=2, status="paid")
        with app.app_context():
            fulfilment.ship(
                db.session.get(Order, order["id"]), None, carrier="DHL", tracking_number="1Z"
            )
            fulfilment.refund(db.session.get(Order, order["id"]), None, amount=100)
            apply_movement(store_a.id, variant_id, -4, "adjust", reason="Counted")
            db.session.commit()
            variant = db.session.get(Variant, variant_id)
            product = db.session.get(Product, variant.product_id)
            editing.update_product(product, title="Renamed lamp", slug="", status="active")
            db.session.commit()
    got = [json.loads(r["body"]) for r in receiver.requests]
    types = [body["type"] for body in got]
    assert types == [
        "order.created",
        "order.paid",
        "order.shipped",
        "order.refunded",
        "stock.low",
        "product.updated",
    ]
    assert got[4]["data"] == {"variant_id": variant_id, "sku": "HOOK-3", "stock": 2, "threshold": 5}
    assert got[5]["data"]["title"] == "Renamed lamp"


def _all_types():
    from app.webhooks.models import EVENT_TYPES

    return EVENT_TYPES


@pytest.mark.backends("sqlite")  # the SSRF guard: Python
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hooks/pasar",
        "http://localhost:{port}/hooks/pasar",
        "http://[::1]:{port}/hooks/pasar",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
    ],
)
def test_deliveries_never_reach_private_addresses_unless_allowed(app, store_a, url):
    with running_receiver() as receiver:
        with app.app_context():
            add_endpoint(store_a, url.format(port=receiver.port), events=("order.created",))
        make_order(app, store_a, make_variant(store_a, "HOOK-4"), quantity=1)
    assert receiver.requests == []
    [(delivery_id, status, tries, code)] = deliveries(app)
    assert (status, tries, code) == ("pending", 1, None)
    [(code, _body, error)] = attempts(app, delivery_id)
    assert error.startswith("Refused:") and code is None


@pytest.mark.backends("sqlite")  # the SSRF guard: Python
def test_the_metadata_address_is_refused_even_with_private_networks_allowed(
    app, store_a, private_ok
):
    with app.app_context():
        add_endpoint(store_a, "http://169.254.169.254/latest/", events=("order.created",))
    make_order(app, store_a, make_variant(store_a, "HOOK-5"), quantity=1)
    [(delivery_id, *_)] = deliveries(app)
    assert "not a public address" in attempts(app, delivery_id)[0][2]


def test_an_endpoint_failing_for_a_day_is_switched_off_and_its_owner_emailed(
    app, store_a, private_ok
):
    with running_receiver() as receiver:
        receiver.codes = [500] * 5
        with app.app_context():
            endpoint = add_endpoint(store_a, receiver.url, events=("order.created",))
        make_order(app, store_a, make_variant(store_a, "HOOK-6"), quantity=1)
        with app.app_context():
            row = db.session.get(WebhookEndpoint, endpoint["id"])
            assert row.enabled and row.failing_since is not None
            # A day passes with every retry failing.
            row.failing_since = utcnow() - timedelta(days=1, minutes=1)
            db.session.commit()
        make_due(app)
        assert sweep(app) == 1
        with app.app_context():
            row = db.session.get(WebhookEndpoint, endpoint["id"])
            assert (row.enabled, row.disabled_reason) == (False, "failing")
            emails = db.session.scalars(
                select(EmailMessage).where(EmailMessage.template == "webhook_endpoint_disabled")
            ).all()
        assert [e.to_address for e in emails] == ["owner@alpha.example.com"]
        assert receiver.url in emails[0].text_body
        assert "http://alpha.pasar.test/admin/webhooks/" in emails[0].text_body
        # Switched off: the waiting retry ends without another request, and no second email.
        make_due(app)
        sweep(app)
        assert len(receiver.requests) == 2
        assert deliveries(app)[0][1] == "failed"
        with app.app_context():
            assert (
                db.session.scalar(
                    select(func.count())
                    .select_from(EmailMessage)
                    .where(EmailMessage.template == "webhook_endpoint_disabled")
                )
                == 1
            )
            # New events aren't written for a switched-off endpoint.
            assert emit(store_a.id, "order.created", {}) is None


# Dashboard ---------------------------------------------------------------------------------


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    owner = owner_of(app, store_a)
    sign_in_as(client, owner)
    mark_recently_confirmed(client, owner)
    return client


def test_an_owner_registers_an_endpoint_sends_a_test_event_and_replays_it(
    app, store_a, owner_client, private_ok
):
    with running_receiver() as receiver:
        page = owner_client.get("/admin/webhooks/")
        assert page.status_code == 200 and b"order.created" in page.data
        created = owner_client.post(
            "/admin/webhooks/",
            data={"url": receiver.url, "description": "ERP", "events": ["order.paid"]},
        )
        assert created.status_code == 303
        with app.app_context():
            endpoint = db.session.scalar(select(WebhookEndpoint))
            receiver.secret = endpoint.secret
            assert endpoint.events == ["order.paid"]
        shown = owner_client.get(created.headers["Location"])
        assert endpoint.secret.encode() in shown.data
        sent = owner_client.post(f"/admin/webhooks/{endpoint.id}/test")
        assert sent.status_code == 303
        detail = owner_client.get(sent.headers["Location"])
        assert b"webhook.test" in detail.data and b"Delivered" in detail.data
        [(delivery_id, *_)] = deliveries(app)
        replayed = owner_client.post(f"/admin/webhooks/deliveries/{delivery_id}/replay")
        assert replayed.status_code == 303
        log = owner_client.get("/admin/webhooks/deliveries?status=delivered")
        assert log.status_code == 200 and log.data.count(b'id="webhook-delivery-') == 2
    first, again = (r["headers"]["webhook-id"] for r in receiver.requests)
    assert first == again  # a replay carries the same message id
    assert receiver.verified() == [True, True]
    # Rotating the secret: the old one no longer verifies the next delivery.
    old = receiver.secret
    assert owner_client.post(f"/admin/webhooks/{endpoint.id}/rotate").status_code == 303
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint.id).secret != old


@pytest.mark.backends("sqlite")  # validation messages
def test_the_form_refuses_unsafe_addresses_with_a_message(app, store_a, owner_client):
    for url, message in [
        ("http://hooks.example.com/x", b"https://"),
        ("https://10.0.0.5/x", b"private or loopback"),
        ("https://169.254.169.254/x", b"not a public address"),
    ]:
        refused = owner_client.post("/admin/webhooks/", data={"url": url, "events": ["order.paid"]})
        assert refused.status_code == 422 and message in refused.data
    no_events = owner_client.post("/admin/webhooks/", data={"url": "https://hooks.example.com/"})
    assert no_events.status_code == 422 and b"at least one event" in no_events.data
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_switching_off_and_deleting_an_endpoint(app, store_a, owner_client):
    with app.app_context():
        endpoint = add_endpoint(store_a, "https://hooks.example.com/a")
    edited = owner_client.post(
        f"/admin/webhooks/{endpoint['id']}",
        data={"url": "https://hooks.example.com/b", "description": "ERP", "events": "order.paid"},
    )
    assert edited.status_code == 303
    with app.app_context():
        saved = db.session.get(WebhookEndpoint, endpoint["id"])
        assert (saved.url, saved.description) == ("https://hooks.example.com/b", "ERP")
    off = owner_client.post(f"/admin/webhooks/{endpoint['id']}/enabled", data={"enabled": "0"})
    assert off.status_code == 303
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint["id"]).enabled is False
        assert emit(store_a.id, "order.paid", {}) is None
    gone = owner_client.post(f"/admin/webhooks/{endpoint['id']}/delete")
    assert gone.status_code == 303
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint["id"]) is None


def test_store_a_cannot_see_or_touch_store_b_endpoints_or_deliveries(
    app, store_a, store_b, owner_client
):
    with app.app_context():
        theirs = add_endpoint(store_b, "https://192.0.2.10/b", events=("order.created",))
    make_order(app, store_b, make_variant(store_b, "B-HOOK"), quantity=1)
    [(delivery_id, *_)] = deliveries(app)
    endpoint_id = theirs["id"]
    for method, path in [
        ("GET", f"/admin/webhooks/{endpoint_id}"),
        ("POST", f"/admin/webhooks/{endpoint_id}"),
        ("POST", f"/admin/webhooks/{endpoint_id}/rotate"),
        ("POST", f"/admin/webhooks/{endpoint_id}/enabled"),
        ("POST", f"/admin/webhooks/{endpoint_id}/delete"),
        ("POST", f"/admin/webhooks/{endpoint_id}/test"),
        ("GET", f"/admin/webhooks/deliveries/{delivery_id}"),
        ("POST", f"/admin/webhooks/deliveries/{delivery_id}/replay"),
    ]:
        data = {"url": "https://hooks.example.com/", "events": ["order.paid"], "enabled": "0"}
        response = owner_client.open(path, method=method, data=data)
        assert response.status_code == 404, f"{method} {path}"
    listed = owner_client.get(f"/admin/webhooks/deliveries?endpoint_id={endpoint_id}")
    assert b"B-HOOK" not in listed.data and b'id="webhook-delivery-' not in listed.data
    assert b"192.0.2.10" not in owner_client.get("/admin/webhooks/").data
    with app.app_context():
        row = db.session.get(WebhookEndpoint, endpoint_id)
        assert row.enabled and row.secret == theirs["secret"]
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1


def test_the_delivery_log_pages_in_a_bounded_number_of_queries(app, store_a, owner_client):
    from tests.services.test_browse import count_queries

    with app.app_context():
        endpoint = add_endpoint(store_a, "https://192.0.2.10/x", events=("order.paid",))
        for number in range(30):
            emit(store_a.id, "order.paid", {"number": number})
        db.session.commit()
    counts = []
    for page in (1, 2):
        with app.app_context(), count_queries() as counter:
            response = owner_client.get(
                f"/admin/webhooks/deliveries?endpoint_id={endpoint['id']}&page={page}"
            )
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 12


@pytest.mark.backends("sqlite")  # the HTTP client, not SQL
def test_a_redirect_is_an_attempt_that_failed_not_followed(app, store_a, private_ok):
    with running_receiver() as receiver:
        receiver.codes = [302]
        with app.app_context():
            add_endpoint(store_a, receiver.url, events=("order.created",))
        make_order(app, store_a, make_variant(store_a, "HOOK-302"), quantity=1)
    [(delivery_id, status, tries, code)] = deliveries(app)
    assert (status, tries, code) == ("pending", 1, 302)
    assert "Redirects are not followed" in attempts(app, delivery_id)[0][2]
    assert len(receiver.requests) == 1


def test_retries_last_about_a_day_then_the_delivery_is_failed(app, store_a, private_ok):
    schedule = app.config["WEBHOOKS_RETRY_SCHEDULE"]
    assert schedule == [5, 300, 1800, 7200, 18000, 36000, 36000]  # Standard Webhooks' advice
    assert timedelta(hours=24) < timedelta(seconds=sum(schedule)) < timedelta(hours=30)
    app.config["WEBHOOKS_RETRY_SCHEDULE"] = [5]
    with running_receiver() as receiver:
        receiver.codes = [500, 500, 500]
        with app.app_context():
            add_endpoint(store_a, receiver.url, events=("order.created",))
        make_order(app, store_a, make_variant(store_a, "HOOK-END"), quantity=1)
        make_due(app)
        assert sweep(app) == 1
        make_due(app)
        assert sweep(app) == 0
    [(delivery_id, status, tries, code)] = deliveries(app)
    assert (status, tries, code) == ("failed", 2, 500)
    with app.app_context():
        assert db.session.get(WebhookDelivery, delivery_id).next_attempt_at is None
    assert len(receiver.requests) == 2
