"""The console's overview, email log and audit log (SQLite and PostgreSQL); the jobs page in
embedded mode (with Redis: tests/integration/test_console_jobs.py)."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditLog
from app.database import utcnow
from app.extensions import db
from app.notifications.models import EmailMessage
from app.orders.models import Order
from tests.accounts_helpers import sign_in_with_factor
from tests.conftest import sign_in_as
from tests.factories import make_user
from tests.services.test_browse import count_queries
from tests.web.order_helpers import make_order, make_variant, owner_of


@pytest.fixture
def admin(client_for):
    client = client_for(None)
    sign_in_with_factor(client, make_user("root@example.com", superuser=True))
    return client


def test_the_overview_counts_the_period_against_the_one_before(app, admin, store_a, store_b):
    lamp = make_variant(store_a, "LAMP", 2500, stock=20)
    euro = make_variant(store_b, "EURO", 1000, stock=20)
    recent = [make_order(app, store_a, lamp, quantity=1, status="paid") for _ in range(3)]
    older = make_order(app, store_a, lamp, quantity=1, status="paid")
    make_order(app, store_b, euro, quantity=2, status="paid")
    make_order(app, store_a, lamp, quantity=1)  # unpaid: not GMV
    with app.app_context():
        db.session.execute(
            update(Order)
            .where(Order.id == older["id"])
            .values(paid_at=utcnow() - timedelta(days=10))
        )
        db.session.commit()
    week = admin.get("/console/?days=7")
    assert week.status_code == 200
    text = week.text
    assert "GMV (USD)" in text and f"${3 * recent[0]['total'] / 100:,.2f}" in text
    assert "GMV (EUR)" in text
    assert "+200 %" in text  # 3 paid USD orders this week against 1 the week before
    month = admin.get("/console/?days=30&currency=EUR")
    assert "GMV by day (EUR)" in month.text
    assert month.text.count('class="sales-chart__bar"') == 30
    custom = admin.get("/console/?from=2026-01-01&to=2026-01-31")
    assert custom.status_code == 200 and "31 Jan 2026" in custom.text
    for junk in ("?from=2026-02-30", "?from=2026-03-01&to=2026-01-01", "?from=2020-01-01"):
        refused = admin.get("/console/" + junk)
        assert refused.status_code == 422, junk
        assert "Showing the last 30 days." in refused.text
    assert admin.get("/console/?days=abc").status_code == 200


def test_the_overview_runs_a_fixed_number_of_queries(app, admin, store_a):
    lamp = make_variant(store_a, "LAMP", 2500, stock=100)
    counts = []
    for n in (1, 12):
        for _ in range(n):
            make_order(app, store_a, lamp, quantity=1, status="paid")
        with app.app_context(), count_queries() as counter:
            assert admin.get("/console/?days=30").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 16, counts


@pytest.mark.backends("sqlite")  # markup
def test_the_jobs_page_says_jobs_run_inline_in_embedded_mode(admin):
    page = admin.get("/console/jobs")
    assert page.status_code == 200 and "jobs run inline" in page.text
    assert admin.post("/console/jobs/retry/default/abc").status_code == 404


def _email(app, to, subject, status="sent"):
    with app.app_context():
        message = EmailMessage(
            to_address=to,
            subject=subject,
            template="t",
            text_body=f"Body of {subject}",
            status=status,
        )
        db.session.add(message)
        db.session.commit()
        return message.id


def test_the_email_log_searches_shows_and_resends(app, admin):
    first = _email(app, "kim@example.com", "Your order #1001", "failed")
    _email(app, "lee@example.com", "Welcome to Pasar")
    found = admin.get("/console/emails/?q=KIM@")
    assert "Your order #1001" in found.text and "Welcome" not in found.text
    assert "Welcome" in admin.get("/console/emails/?q=welcome&status=sent").text
    assert "Welcome" not in admin.get("/console/emails/?status=failed").text
    for junk in ("?status=junk", "?page=-2", "?page=zz", "?q=%25" + "x" * 400):
        assert admin.get("/console/emails/" + junk).status_code == 200
    assert admin.get("/console/emails/?q=%25%00").status_code == 400  # control characters
    detail = admin.get(f"/console/emails/{first}")
    assert "Body of Your order #1001" in detail.text
    resent = admin.post(f"/console/emails/{first}/resend")
    assert resent.status_code == 303
    with app.app_context():
        copies = db.session.scalars(
            select(EmailMessage)
            .where(EmailMessage.to_address == "kim@example.com")
            .order_by(EmailMessage.id)  # without it PostgreSQL may return the updated row last
        ).all()
        assert len(copies) == 2 and copies[1].status in ("sent", "logged")
        assert db.session.get(EmailMessage, first).status == "failed"  # the original as it was
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "email.resent"))
    assert admin.get("/console/emails/999999").status_code == 404
    secret = _email(app, "kim@example.com", "Your Pasar sign-in code")
    with app.app_context():
        db.session.get(EmailMessage, secret).template = "signin_code"
        db.session.commit()
    hidden = admin.get(f"/console/emails/{secret}")
    assert "The text is hidden" in hidden.text and "Body of Your Pasar" not in hidden.text
    assert admin.post("/console/emails/99999999999999999/resend").status_code == 404


def test_the_audit_log_filters_by_store_user_action_and_dates(app, admin, store_a, store_b):
    admin.post(f"/console/stores/{store_a.id}/suspend", data={"reason": "Checking"})
    admin.post(f"/console/stores/{store_b.id}/suspend", data={"reason": "Checking"})
    admin.post(f"/console/stores/{store_b.id}/reactivate")
    page = admin.get("/console/audit")
    assert page.status_code == 200 and "store.suspended" in page.text
    # A readable name, with the raw action (what the filter takes) beneath it.
    assert '<span class="audit-action" data-action="store.suspended">Store suspended</span>' in (
        page.text
    )
    alpha = admin.get("/console/audit?store=alpha").text
    assert "alpha" in alpha and "store.reactivated" not in alpha
    by_action = admin.get("/console/audit?action=store.reactivated").text
    assert by_action.count("<code>store.reactivated</code>") == 1
    assert "store.suspended</code>" not in by_action
    mine = admin.get("/console/audit?user=ROOT@example.com").text
    assert "store.suspended" in mine
    owner = owner_of(app, store_a)
    theirs = admin.get(f"/console/audit?user={owner.email}").text
    assert "store.suspended</code>" not in theirs
    assert "No store has the subdomain nope." in admin.get("/console/audit?store=nope").text
    today = utcnow().date()
    future = (today + timedelta(days=3)).isoformat()
    assert "Nothing matches." in admin.get(f"/console/audit?from={future}").text
    for junk in ("?from=zz", "?to=2026-13-01", "?page=-1", "?action=%25_", "?user=" + "x" * 400):
        assert admin.get("/console/audit" + junk).status_code == 200


@pytest.mark.backends("sqlite")  # a role refusal
def test_console_pages_are_404_for_everyone_else(app, client_for, store_a):
    owner = client_for(None)
    sign_in_as(owner, owner_of(app, store_a))
    for path in ("/console/", "/console/jobs", "/console/emails/", "/console/audit"):
        assert owner.get(path).status_code == 404, path
