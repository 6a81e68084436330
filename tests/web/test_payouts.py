"""Commissions and payouts: every payment's entry, the monthly report in the console and the
dashboard, CSV, marking paid, rates (SQLite and PostgreSQL)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.orders.models import Order
from app.payments.models import Payment
from app.payouts.models import CommissionEntry, Payout
from app.payouts.reports import month_of, store_report
from tenants.models import Store
from tests.accounts_helpers import sign_in_with_factor
from tests.conftest import sign_in_as
from tests.factories import make_user
from tests.web.order_helpers import make_order, make_variant, owner_of

LAST_MONTH = month_of(datetime.now(UTC).date()).previous


@pytest.fixture
def admin(client_for):
    client = client_for(None)
    sign_in_with_factor(client, make_user("root@example.com", superuser=True))
    return client


def _refund(app, store, order: dict, amount: int, ref: str):
    with app.app_context():
        db.session.add(
            Payment(
                store_id=store.id,
                order_id=order["id"],
                provider="test",
                provider_ref=ref,
                kind="refund",
                amount=-amount,
                currency="USD",
            )
        )
        db.session.commit()


def _move_to_last_month(app):
    """Date every payment and entry in the middle of last month."""
    when = datetime.combine(LAST_MONTH.start, datetime.min.time(), UTC) + timedelta(days=10)
    with app.app_context():
        db.session.execute(Payment.__table__.update().values(created_at=when))
        db.session.execute(CommissionEntry.__table__.update().values(created_at=when))
        db.session.commit()


def _sales(app, store):
    lamp = make_variant(store, "LAMP", 4599, stock=50)
    paid = make_order(app, store, lamp, quantity=1, status="paid")
    partly = make_order(app, store, lamp, quantity=2, status="paid")
    full = make_order(app, store, lamp, quantity=1, status="fulfilled")
    make_order(app, store, lamp, quantity=1)  # unpaid: no money, no entry
    _refund(app, store, partly, 1000, "r1")
    _refund(app, store, full, 2000, "r2")
    _refund(app, store, full, full["total"] - 2000, "r3")
    return paid, partly, full


def test_the_report_adds_up_against_the_orders_and_payments(app, store_a, admin):
    paid, partly, full = _sales(app, store_a)
    _move_to_last_month(app)
    with app.app_context():
        store = db.session.get(Store, store_a.id)
        report = store_report(store, LAST_MONTH)
        (totals,) = report.totals
        charged = db.session.scalar(
            select(func.sum(Payment.amount)).where(Payment.kind == "charge")
        )
        refunded = db.session.scalar(
            select(func.sum(Payment.amount)).where(Payment.kind == "refund")
        )
        paid_orders = db.session.scalar(select(func.count()).where(Order.paid_at.is_not(None))) or 3
        assert totals.gross == charged == paid["total"] + partly["total"] + full["total"]
        assert totals.refunds == refunded == -(1000 + full["total"])
        assert totals.orders == 3 == paid_orders
        # 5 % of what was kept: the fully refunded order gives back all of its commission.
        kept = [paid["total"], partly["total"]]
        expected = sum(round(t * 5 / 100 + 1e-9) for t in kept) - round(1000 * 5 / 100)
        assert totals.commission == expected
        assert totals.net == totals.gross + totals.refunds - totals.commission
        full_entries = db.session.scalars(
            select(CommissionEntry.commission).where(CommissionEntry.order_id == full["id"])
        ).all()
        assert sum(full_entries) == 0 and len(full_entries) == 3


def test_console_report_csv_and_marking_paid_once(app, store_a, store_b, admin):
    _sales(app, store_a)
    _move_to_last_month(app)
    page = admin.get(f"/console/payouts/?period={LAST_MONTH.key}")
    assert page.status_code == 200 and "Alpha Goods" in page.text and "not paid" in page.text
    report = admin.get(f"/console/payouts/{store_a.id}?period={LAST_MONTH.key}")
    assert "Net payout" in report.text and "Mark " in report.text
    csv = admin.get(f"/console/payouts/{store_a.id}.csv?period={LAST_MONTH.key}")
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("date (UTC),order,kind,currency,gross,commission,net")
    assert any(line.startswith("total,,net payout,USD,") for line in lines)
    done = admin.post(
        f"/console/payouts/{store_a.id}/mark-paid",
        data={"period": LAST_MONTH.key, "reference": "TRF-1"},
        follow_redirects=True,
    )
    assert "payout to Alpha Goods recorded" in done.text and "TRF-1" in done.text
    again = admin.post(
        f"/console/payouts/{store_a.id}/mark-paid",
        data={"period": LAST_MONTH.key},
        follow_redirects=True,
    )
    assert "was already marked paid" in again.text
    empty = admin.post(
        f"/console/payouts/{store_b.id}/mark-paid",
        data={"period": LAST_MONTH.key},
        follow_redirects=True,
    )
    assert "has nothing to pay out" in empty.text
    this_month = month_of(datetime.now(UTC).date()).key
    early = admin.post(
        f"/console/payouts/{store_a.id}/mark-paid",
        data={"period": this_month},
        follow_redirects=True,
    )
    assert "once it has ended" in early.text
    with app.app_context():
        payout = db.session.scalar(select(Payout))
        entry_net = db.session.scalar(select(func.sum(CommissionEntry.net)))
        assert payout.net == entry_net and payout.reference == "TRF-1"


def test_a_store_rate_applies_to_new_sales_only(app, store_a, admin):
    lamp = make_variant(store_a, "LAMP", 10_000, stock=5)
    make_order(app, store_a, lamp, quantity=1, status="paid")
    bad = admin.post(f"/console/stores/{store_a.id}/commission", data={"rate": "nan"})
    assert bad.status_code == 303
    for junk in ("nan", "-1", "51", "7.555", "abc"):
        admin.post(f"/console/stores/{store_a.id}/commission", data={"rate": junk})
    with app.app_context():
        assert db.session.get(Store, store_a.id).commission_rate_bps is None
    admin.post(f"/console/stores/{store_a.id}/commission", data={"rate": "7.5"})
    make_order(app, store_a, lamp, quantity=1, status="paid")
    with app.app_context():
        rates = db.session.scalars(
            select(CommissionEntry.commission).order_by(CommissionEntry.id)
        ).all()
    assert rates == [500, 750]


def test_the_dashboard_shows_its_own_report_only(app, store_a, store_b, client_for):
    _sales(app, store_a)
    bravo_lamp = make_variant(store_b, "BRAVO", 7777, stock=5)
    make_order(app, store_b, bravo_lamp, quantity=1, status="paid")
    _move_to_last_month(app)
    owner = client_for(store_a)
    sign_in_as(owner, owner_of(app, store_a))
    page = owner.get(f"/admin/payouts?period={LAST_MONTH.key}")
    assert page.status_code == 200 and "Not paid yet" in page.text and "77.77" not in page.text
    csv = owner.get(f"/admin/payouts.csv?period={LAST_MONTH.key}").get_data(as_text=True)
    assert "77.77" not in csv and "45.99" in csv
    for junk in ("2026-13", "abc", "1999-01", "2026-1"):
        refused = owner.get(f"/admin/payouts?period={junk}")
        assert refused.status_code == 422 and "Choose a month like 2026-10." in refused.text
    staff = make_user("staff@example.com")
    from tests.factories import add_member

    add_member(store_a, staff, "staff")
    client = client_for(store_a)
    sign_in_as(client, staff)
    assert client.get("/admin/payouts").status_code == 403


@pytest.mark.backends("sqlite")  # a role refusal and a 404
def test_console_payouts_are_superuser_only_and_unknown_stores_404(app, store_a, admin, client_for):
    owner = client_for(None)
    sign_in_as(owner, owner_of(app, store_a))
    assert owner.get("/console/payouts/").status_code == 404
    assert admin.get("/console/payouts/99999").status_code == 404
    assert admin.post("/console/payouts/99999/mark-paid").status_code == 404
