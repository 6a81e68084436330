"""Issue 13, hole 10: the test gateway (where shoppers approve their own payments) in production.

A vendor on the test gateway can't publish or take payments in production unless a platform
admin allowed it for the store (audited); an allowed store's orders are test orders, badged as
such, and never count in GMV, sales, commissions or payouts. The app here is a production-mode
one (PostgreSQL, and Redis when TEST_REDIS_URL is set) with the platform's own default for
ALLOW_TEST_PAYMENTS, not the test suite's.
"""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.audit.models import AuditLog
from app.config import load_config
from app.console.overview import Range, kpis
from app.extensions import db
from app.notifications.models import EmailMessage
from app.orders.models import Order
from app.payments.models import Payment, WebhookEvent
from app.payouts.models import CommissionEntry
from app.payouts.reports import month_of, platform_report, store_report
from app.reports.sales import daily_sales, sales_summary
from tenants.models import Store
from tests.accounts_helpers import mark_recently_confirmed, sign_in_with_factor
from tests.conftest import make_app, sign_in_as, truncate_all
from tests.factories import make_store, make_user
from tests.web.order_helpers import make_order, make_variant, owner_of
from tests.web.test_checkout import add, settings, to_review, variant_of


@pytest.fixture
def app(database_urls, redis_url):
    """A production-mode app with the platform's default for test payments (off)."""
    from tests import factories

    application = make_app(database_urls("postgresql"), redis_url, ALLOW_TEST_PAYMENTS=None)
    assert application.config["PRODUCTION"] and not application.config["ALLOW_TEST_PAYMENTS"]
    factories.CURRENT_APP = application
    yield application
    factories.CURRENT_APP = None
    truncate_all(application)


@pytest.fixture
def admin(client_for):
    client = client_for(None)
    sign_in_with_factor(client, make_user("root@example.com", superuser=True))
    return client


def owner_client(app, client_for, store):
    client = client_for(store)
    owner = owner_of(app, store)
    sign_in_as(client, owner)
    mark_recently_confirmed(client, owner)  # provider settings ask for it (test_step_up.py)
    return client


def store_row(app, store) -> Store:
    with app.app_context():
        row = db.session.get(Store, store.id)
        db.session.expunge(row)
        return row


def place_and_approve(client) -> tuple[int, str]:
    """A shopper checks out and approves their own payment on the test gateway."""
    key = to_review(client)
    pay_url = client.post("/checkout/place", data={"idempotency_key": key}).location
    number, order_key = re.search(r"/pay/test/(\d+)\?key=([^&\"]+)", pay_url).groups()
    assert client.post(f"/pay/test/{number}/approve?key={order_key}").status_code == 303
    return int(number), order_key


def test_the_default_is_off_in_production_and_on_in_embedded_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("ALLOW_TEST_PAYMENTS", raising=False)
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    assert load_config(str(tmp_path))["ALLOW_TEST_PAYMENTS"] is True
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/pasar")
    monkeypatch.setenv("SECRET_KEY", "a-real-secret")
    assert load_config(str(tmp_path))["ALLOW_TEST_PAYMENTS"] is False
    monkeypatch.setenv("ALLOW_TEST_PAYMENTS", "1")  # a staging platform may say so, explicitly
    assert load_config(str(tmp_path))["ALLOW_TEST_PAYMENTS"] is True


def test_a_store_on_the_test_gateway_cant_publish_and_the_checklist_says_why(app, client_for):
    shop = make_store("fresh", "Fresh Goods", published=False)
    variant_of(shop)
    settings(app, shop, shipping_flat=500)  # shipping saved; the provider is the test gateway
    owner = owner_client(app, client_for, shop)
    home = owner.get("/admin/")
    assert "takes no real money" in home.text and "Connect Stripe or Midtrans" in home.text
    response = owner.post("/admin/publish", follow_redirects=True)
    assert "be published yet" in response.text
    assert not store_row(app, shop).is_published
    with app.app_context():
        assert not db.session.scalar(select(AuditLog).where(AuditLog.action == "store.published"))
    # A real provider's keys make it publishable.
    settings(
        app,
        shop,
        payment_provider="stripe",
        stripe_secret_key="sk_test_1234567890",
        stripe_webhook_secret="whsec_1234567890",
    )
    assert "takes no real money" not in owner.get("/admin/").text
    owner.post("/admin/publish")
    assert store_row(app, shop).is_published


def test_a_published_store_on_the_test_gateway_takes_no_payments(app, client_for, store_a):
    """A store published before this rule shipped: browsable, but nobody can pay on it."""
    pending = make_order(app, store_a, make_variant(store_a), quantity=1)
    shopper = client_for(store_a)
    add(shopper, variant_of(store_a))
    key = to_review(shopper)
    assert "take payments yet" in shopper.get("/checkout/review").text  # said before trying
    refused = shopper.post("/checkout/place", data={"idempotency_key": key})
    assert refused.status_code == 422 and "take payments yet" in refused.text
    with app.app_context():
        order = db.session.get(Order, pending["id"])
        from app.orders.links import order_key

        pending_key = order_key(order)
        assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    # An order placed before: its payment page and the approve button refuse, nothing is sent.
    page = shopper.get(f"/pay/test/{pending['number']}?key={pending_key}")
    assert "take payments yet" in page.text and "Approve payment" not in page.text
    approve = shopper.post(f"/pay/test/{pending['number']}/approve?key={pending_key}")
    assert approve.status_code == 409
    pay = shopper.post(f"/checkout/pay/{pending['number']}?key={pending_key}")
    assert "/pay/test/" not in pay.location
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
        assert db.session.get(Order, pending["id"]).status == "pending_payment"
    # The owner's dashboard says why.
    assert "takes no real money" in owner_client(app, client_for, store_a).get("/admin/").text


def test_only_a_platform_admin_allows_test_payments_and_it_is_audited(
    app, admin, client_for, store_a
):
    owner = owner_client(app, client_for, store_a)
    path = f"/console/stores/{store_a.id}/test-payments"
    attempt = owner.post(path, data={"allowed": "1", "reason": "me"}, base_url="http://pasar.test")
    assert attempt.status_code in (302, 303, 403, 404)
    assert not store_row(app, store_a).test_payments_allowed
    admin.post(path, data={"allowed": "1"})  # a reason is required
    assert not store_row(app, store_a).test_payments_allowed
    admin.post(path, data={"allowed": "1", "reason": "Vendor rehearsing before Stripe"})
    assert store_row(app, store_a).test_payments_allowed
    admin.post(path, data={"allowed": "0"})
    assert not store_row(app, store_a).test_payments_allowed
    with app.app_context():
        entries = db.session.execute(
            select(AuditLog.action, AuditLog.actor_id, AuditLog.details)
            .where(AuditLog.store_id == store_a.id, AuditLog.action.like("store.test_payments%"))
            .order_by(AuditLog.id)
        ).all()
        root = db.session.scalar(select(User.id).where(User.email == "root@example.com"))
    assert [e.action for e in entries] == [
        "store.test_payments_allowed",
        "store.test_payments_disallowed",
    ]
    assert {e.actor_id for e in entries} == {root}
    assert entries[0].details["reason"] == "Vendor rehearsing before Stripe"


def test_an_allowed_stores_orders_are_test_orders_outside_gmv_commissions_and_payouts(
    app, admin, client_for, store_a
):
    admin.post(
        f"/console/stores/{store_a.id}/test-payments",
        data={"allowed": "1", "reason": "rehearsal"},
    )
    shopper = client_for(store_a)
    add(shopper, variant_of(store_a, price=9900))
    number, key = place_and_approve(shopper)
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.number == number))
        assert order.status == "paid" and order.is_test
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
        assert db.session.scalar(select(func.count()).select_from(CommissionEntry)) == 0
        store = db.session.get(Store, store_a.id)
        now = datetime.now(UTC)
        today = now.date()
        assert kpis(Range(today, today)).gmv == {}
        assert sum(day.total for day in daily_sales(store, now)) == 0
        assert sales_summary(store, now).today == 0
        assert store_report(store, month_of(today)).totals == []
        assert platform_report(month_of(today)) == []
        subjects = db.session.scalars(select(EmailMessage.subject)).all()
    assert subjects and all(s.startswith("[Test] ") for s in subjects)
    # Marked "Test" wherever the order shows.
    owner = owner_client(app, client_for, store_a)
    assert 'class="badge badge--test"' in owner.get("/admin/orders/").text
    assert 'class="badge badge--test"' in owner.get(f"/admin/orders/{number}").text
    assert 'class="badge badge--test"' in owner.get("/admin/").text
    assert 'class="badge badge--test"' in shopper.get(f"/orders/{number}?key={key}").text
    exported = owner.get("/admin/exports/orders.csv").text.splitlines()
    assert exported[0].endswith(",Test order") and exported[1].endswith(",yes")
    detail = admin.get(f"/console/stores/{store_a.id}")
    assert re.search(r"Test orders.*?stat__value\">1<", detail.text, re.S)
    listing = admin.get("/console/stores/")
    assert "$99.00" not in listing.text and "$99.00" not in detail.text
    # A real sale alongside still counts, so the exclusion is of the test order alone.
    real = make_order(app, store_a, make_variant(store_a, "REAL", 2500), quantity=1, status="paid")
    with app.app_context():
        assert kpis(Range(today, today)).gmv == {"USD": real["total"]}
        assert db.session.scalar(select(func.count()).select_from(CommissionEntry)) == 1


def test_an_order_placed_for_stripe_but_paid_on_the_test_gateway_is_a_test_order(
    app, admin, client_for, store_a
):
    """Switching to the test gateway after placing can't pass a test payment off as real."""
    settings(
        app,
        store_a,
        payment_provider="stripe",
        stripe_secret_key="sk_test_1234567890",
        stripe_webhook_secret="whsec_1234567890",
    )
    made = make_order(app, store_a, make_variant(store_a), quantity=1, provider="stripe")
    settings(app, store_a, payment_provider="test")
    admin.post(
        f"/console/stores/{store_a.id}/test-payments",
        data={"allowed": "1", "reason": "rehearsal"},
    )
    with app.app_context():
        from app.orders.links import order_key

        key = order_key(db.session.get(Order, made["id"]))
    shopper = client_for(store_a)
    assert shopper.post(f"/pay/test/{made['number']}/approve?key={key}").status_code == 303
    with app.app_context():
        order = db.session.get(Order, made["id"])
        assert order.status == "paid" and order.is_test
        assert db.session.scalar(select(func.count()).select_from(CommissionEntry)) == 0


def test_the_migration_marks_orders_paid_on_the_test_gateway_and_keeps_every_row(tmp_path):
    """0018 and every later revision on a live SQLite database: nothing is rebuilt (a rebuilt
    `stores` would cascade away every order), and orders already paid on the test gateway
    become test orders."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    migrating = make_app(f"sqlite:///{tmp_path / 'live.db'}")
    with migrating.app_context():
        upgrade(revision="0015")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO stores (id, slug, name, status, currency, locale, timezone, "
                    "accent_color, created_at, updated_at) VALUES (1, 'old', 'Old', 'active', "
                    "'USD', 'en_US', 'UTC', '#000000', '2026-01-01', '2026-01-01')"
                )
            )
            for number, provider in ((1, "test"), (2, "stripe")):
                conn.execute(
                    text(
                        "INSERT INTO orders (id, store_id, number, idempotency_key, email, "
                        "status, currency, subtotal, discount, shipping, tax, tax_inclusive, "
                        "total, shipping_address, billing_address, shipping_method, "
                        "payment_provider, placed_at, updated_at) VALUES (:n, 1, :n, :k, "
                        "'e@example.com', 'paid', 'USD', 100, 0, 0, 0, 0, 100, '{}', '{}', '', "
                        ":p, '2026-01-01', '2026-01-01')"
                    ),
                    {"n": number, "k": f"key-{number}", "p": provider},
                )
                conn.execute(
                    text(
                        "INSERT INTO payments (store_id, order_id, provider, provider_ref, "
                        "kind, amount, currency, created_at) VALUES (1, :n, :p, :r, 'charge', "
                        "100, 'USD', '2026-01-01')"
                    ),
                    {"n": number, "p": provider, "r": f"ref-{number}"},
                )
        upgrade(revision="head")
        with db.engine.connect() as conn:
            marked = conn.execute(text("SELECT id, is_test FROM orders ORDER BY id")).all()
            payments = conn.execute(text("SELECT count(*) FROM payments")).scalar()
        assert [(i, bool(t)) for i, t in marked] == [(1, True), (2, False)]
        assert payments == 2
        downgrade(revision="0015")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM orders")).scalar() == 2
        db.engine.dispose()
