"""The console's stores: list with search, status and GMV; detail; suspend, reactivate and
verify a custom domain, each audited; a store that doesn't exist is a 404."""

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.extensions import db
from tenants.models import Store
from tests.accounts_helpers import sign_in_with_factor
from tests.conftest import BACKENDS
from tests.factories import make_store, make_user
from tests.web.order_helpers import make_order, make_variant

pytestmark = pytest.mark.backends("sqlite")  # suspensions, domains, pages: HTTP, not SQL


@pytest.fixture
def admin(client_for):
    client = client_for(None)
    sign_in_with_factor(client, make_user("root@example.com", superuser=True))
    return client


@pytest.mark.backends(*BACKENDS)  # search, and GMV summed in SQL
def test_the_list_searches_filters_and_shows_gmv(app, admin, store_a, store_b):
    lamp = make_variant(store_a, "LAMP", 2500, stock=20)
    make_order(app, store_a, lamp, quantity=2, status="paid")
    make_order(app, store_a, lamp, quantity=1, status="pending_payment")  # not sold
    make_store("gamma", "Gamma Goods", owner_email="gina@example.com", published=False)
    page = admin.get("/console/stores/")
    assert page.status_code == 200
    assert "Alpha Goods" in page.text and "$50.00" in page.text
    assert "Bravo Supply" in page.text and "3 stores" in page.text
    by_owner = admin.get("/console/stores/?q=gina@")
    assert "Gamma Goods" in by_owner.text and "Alpha Goods" not in by_owner.text
    unpublished = admin.get("/console/stores/?status=unpublished")
    assert "Gamma Goods" in unpublished.text and "Bravo Supply" not in unpublished.text
    for junk in ("?status=junk", "?page=-1", "?page=abc", "?q=%25%5F" + "x" * 500):
        assert admin.get(f"/console/stores/{junk}").status_code == 200
    # Control characters are refused before any view runs (tests/security).
    assert admin.get("/console/stores/?q=%00").status_code == 400


def test_suspending_closes_the_storefront_and_reactivating_opens_it(
    app, admin, client_for, store_a
):
    shopper = client_for(store_a)
    assert shopper.get("/").status_code == 200
    refused = admin.post(f"/console/stores/{store_a.id}/suspend", data={"reason": ""})
    assert refused.status_code == 303
    with app.app_context():
        assert db.session.get(Store, store_a.id).status == "active"
    admin.post(f"/console/stores/{store_a.id}/suspend", data={"reason": "Unpaid fees"})
    closed = shopper.get("/")
    assert closed.status_code == 503 and "This store is unavailable" in closed.text
    assert shopper.post("/webhooks/test", data=b"{}").status_code == 503
    page = admin.get(f"/console/stores/{store_a.id}")
    assert "suspended" in page.text and "Reactivate store" in page.text
    admin.post(f"/console/stores/{store_a.id}/reactivate")
    assert shopper.get("/").status_code == 200
    with app.app_context():
        actions = db.session.scalars(
            select(AuditLog.action).where(AuditLog.store_id == store_a.id)
        ).all()
    assert "store.suspended" in actions and "store.reactivated" in actions


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_verifying_a_custom_domain_makes_it_serve_the_store(app, admin, client_for, store_a):
    from tenants.provisioning import set_custom_domain

    with app.app_context():
        set_custom_domain(db.session.get(Store, store_a.id), "shop.alpha.test")
    custom = client_for(None, host="shop.alpha.test")
    assert custom.get("/").status_code == 404
    assert "not verified" in admin.get(f"/console/stores/{store_a.id}").text
    assert admin.post(f"/console/stores/{store_a.id}/verify-domain").status_code == 303
    assert custom.get("/").status_code == 200
    again = admin.post(f"/console/stores/{store_a.id}/verify-domain", follow_redirects=True)
    assert "no unverified custom domain" in again.text


@pytest.mark.backends(*BACKENDS)  # ids past the integer column
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console/stores/999999"),
        ("GET", "/console/stores/99999999999999999999"),
        ("POST", "/console/stores/999999/suspend"),
        ("POST", "/console/stores/999999/verify-domain"),
        ("POST", "/console/stores/1/delete"),
    ],
)
def test_a_store_that_does_not_exist_is_404(admin, method, path):
    assert admin.open(path, method=method, data={"reason": "x"}).status_code in (404, 405)


def test_a_suspended_or_deleted_stores_page_says_why_and_who(app, admin, store_a, store_b):
    admin.post(f"/console/stores/{store_a.id}/suspend", data={"reason": "Unpaid fees"})
    page = admin.get(f"/console/stores/{store_a.id}").text
    assert "<strong>Reason:</strong> Unpaid fees" in page and "by root@example.com" in page
    admin.post(
        f"/console/stores/{store_b.id}/delete", data={"confirm": "bravo", "reason": "Asked to"}
    )
    page = admin.get(f"/console/stores/{store_b.id}").text
    assert "<strong>Reason:</strong> Asked to" in page and "by root@example.com" in page
