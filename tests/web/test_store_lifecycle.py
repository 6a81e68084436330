"""What suspension and deletion mean everywhere: the storefront, checkout, cart, webhooks, the
dashboard (read-only while suspended), the platform's lists, and names that stay taken
(SQLite and PostgreSQL)."""

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.catalog.models import Variant
from app.extensions import db
from app.payments.models import WebhookEvent
from tenants.models import Store
from tests.accounts_helpers import sign_in_with_factor
from tests.conftest import sign_in_as
from tests.factories import make_user
from tests.web.order_helpers import make_variant, owner_of

HTMX = {"HX-Request": "true"}


@pytest.fixture
def admin(client_for):
    client = client_for(None)
    sign_in_with_factor(client, make_user("root@example.com", superuser=True))
    return client


@pytest.fixture
def owner(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


def store_row(app, store) -> Store:
    with app.app_context():
        row = db.session.get(Store, store.id)
        db.session.expunge(row)
        return row


def test_a_suspended_store_refuses_shoppers_checkout_and_webhooks(app, admin, client_for, store_a):
    lamp = make_variant(store_a, "LAMP", 1000, stock=5)
    admin.post(f"/console/stores/{store_a.id}/suspend", data={"reason": "Unpaid fees"})
    shopper = client_for(store_a)
    for method, path in [
        ("GET", "/"),
        ("GET", "/products/"),
        ("GET", "/checkout/"),
        ("POST", "/checkout/place"),
        ("POST", "/cart/add"),
        ("POST", "/webhooks/test"),
        ("POST", "/webhooks/stripe"),
    ]:
        response = shopper.open(path, method=method, data={"variant_id": lamp, "quantity": "1"})
        assert response.status_code == 503, path
    fragment = shopper.post("/cart/add", data={"variant_id": lamp}, headers=HTMX)
    assert fragment.status_code == 503 and "<html" not in fragment.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_a_suspended_stores_dashboard_is_read_only_for_its_members(app, admin, owner, store_a):
    lamp = make_variant(store_a, "LAMP", 1000, stock=5)
    admin.post(f"/console/stores/{store_a.id}/suspend", data={"reason": "Unpaid fees"})
    home = owner.get("/admin/")
    assert home.status_code == 200
    assert "Suspended by the platform: read-only." in home.text and "Unpaid fees" in home.text
    assert owner.get(f"/admin/variants/{lamp}/stock").status_code == 200
    for path, data in [
        (f"/admin/variants/{lamp}/stock", {"mode": "change", "quantity": "+5", "reason": "x"}),
        ("/admin/settings", {"name": "Renamed"}),
        ("/admin/products/new", {"title": "New"}),
    ]:
        refused = owner.post(path, data=data)
        assert refused.status_code == 403, path
        assert "dashboard is read-only" in refused.text
    htmx = owner.post(f"/admin/variants/{lamp}/stock", data={}, headers=HTMX)
    assert htmx.status_code == 403 and "<html" not in htmx.text
    with app.app_context():
        assert db.session.get(Variant, lamp).stock == 5
        assert db.session.get(Store, store_a.id).name == "Alpha Goods"
    admin.post(f"/console/stores/{store_a.id}/reactivate")
    assert "read-only" not in owner.get("/admin/").text
    ok = owner.post(
        f"/admin/variants/{lamp}/stock",
        data={"mode": "change", "quantity": "+5", "kind": "receive", "reason": "Delivery"},
    )
    assert ok.status_code == 303


def test_deleting_needs_the_subdomain_typed_and_keeps_the_data_and_the_names(
    app, admin, client_for, store_a, store_b
):
    lamp = make_variant(store_a, "LAMP", 1000, stock=5)
    wrong = admin.post(f"/console/stores/{store_a.id}/delete", data={"confirm": "bravo"})
    assert wrong.status_code == 422 and "Type the store&#39;s subdomain, alpha" in wrong.text
    assert store_row(app, store_a).deleted_at is None
    done = admin.post(
        f"/console/stores/{store_a.id}/delete", data={"confirm": " Alpha ", "reason": "Asked to"}
    )
    assert done.status_code == 303
    assert store_row(app, store_a).deleted_at is not None
    gone = client_for(store_a).get("/")
    assert gone.status_code == 404 and "No such store" in gone.text
    owner = client_for(store_a)
    sign_in_as(owner, owner_of(app, store_a))
    assert owner.get("/admin/").status_code == 404
    with app.app_context():
        assert db.session.get(Variant, lamp) is not None  # the data is kept
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "store.deleted"))
        assert entry.details["reason"] == "Asked to"
    # Gone from the platform's lists; shown in the console under "deleted".
    platform = client_for(None).get("/")
    assert "Alpha Goods" not in platform.text and "Bravo Supply" in platform.text
    assert "Alpha Goods" in admin.get("/console/stores/?status=deleted").text
    assert "Alpha Goods" not in admin.get("/console/stores/?status=active").text
    assert "deleted" in admin.get(f"/console/stores/{store_a.id}").text
    # The subdomain stays taken.
    vendor = client_for(None)
    sign_in_as(vendor, make_user("vendor@example.com"))
    check = vendor.get("/stores/new/subdomain?slug=alpha", headers=HTMX)
    assert "That subdomain is taken." in check.text


def test_console_actions_on_a_deleted_or_unknown_store_get_clear_answers(app, admin, store_a):
    admin.post(f"/console/stores/{store_a.id}/delete", data={"confirm": "alpha"})
    again = admin.post(f"/console/stores/{store_a.id}/delete", data={"confirm": "alpha"})
    assert again.status_code == 409 and "already deleted" in again.text
    for action in ("suspend", "reactivate"):
        response = admin.post(
            f"/console/stores/{store_a.id}/{action}", data={"reason": "x"}, follow_redirects=True
        )
        assert "This store was deleted: it can&#39;t be changed." in response.text
    assert store_row(app, store_a).status == "active"
    for path in ("/console/stores/999999/delete", "/console/stores/999999/suspend"):
        assert admin.post(path, data={"confirm": "x", "reason": "x"}).status_code == 404
    assert admin.post("/console/stores/99999999999999999999/delete").status_code == 404
