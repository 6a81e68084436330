"""The dashboard's API keys page: make a key (shown once), revoke it, audit, tenancy."""

import re

import pytest
from sqlalchemy import select

from app.api.models import ApiKey
from app.audit.models import AuditLog
from app.extensions import db
from tests.api.helpers import bearer, make_key
from tests.conftest import sign_in_as
from tests.web.order_helpers import owner_of

SECRET = re.compile(r'id="new-api-key-value">(pk_[A-Za-z0-9_-]+)<')


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


def test_a_new_key_is_shown_once_and_works(app, owner_client):
    page = owner_client.post(
        "/admin/api-keys/", data={"name": "Warehouse", "scopes": ["stock:read", "stock:write"]}
    )
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    secret = SECRET.search(page.get_data(as_text=True)).group(1)
    with app.app_context():
        key = db.session.scalar(select(ApiKey))
        assert key.scope_list == ["stock:read", "stock:write"]
        assert key.key_hash != secret and secret not in key.key_hash
        assert secret.startswith(key.prefix)
    listing = owner_client.get("/admin/api-keys/").get_data(as_text=True)
    assert secret not in listing and f"{key.prefix}…" in listing
    assert owner_client.get("/api/v1/stock", headers=bearer(secret)).status_code == 200
    assert owner_client.get("/api/v1/orders", headers=bearer(secret)).status_code == 403


def test_a_key_needs_a_name_and_a_scope(app, owner_client):
    page = owner_client.post("/admin/api-keys/", data={"name": " ", "scopes": ["orders:read"]})
    assert page.status_code == 422
    assert "Give the key a name" in page.get_data(as_text=True)
    page = owner_client.post("/admin/api-keys/", data={"name": "ERP", "scopes": ["root"]})
    assert page.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(ApiKey)) is None


def test_revoking_stops_the_key_and_both_are_audited(app, owner_client, store_a):
    secret = make_key(app, store_a, name="Feed")
    with app.app_context():
        key_id = db.session.scalar(select(ApiKey.id))
    assert owner_client.get("/api/v1/products", headers=bearer(secret)).status_code == 200
    response = owner_client.post(f"/admin/api-keys/{key_id}/revoke")
    assert response.status_code == 303
    assert owner_client.get("/api/v1/products", headers=bearer(secret)).status_code == 401
    assert "Revoked" in owner_client.get("/admin/api-keys/").get_data(as_text=True)
    with app.app_context():
        actions = db.session.scalars(
            select(AuditLog.action).where(AuditLog.action.like("api_key.%"))
        ).all()
        assert sorted(actions) == ["api_key.created", "api_key.revoked"]


def test_another_stores_key_is_404(app, owner_client, store_b):
    make_key(app, store_b, name="Theirs")
    with app.app_context():
        theirs = db.session.scalar(select(ApiKey.id))
    assert owner_client.post(f"/admin/api-keys/{theirs}/revoke").status_code == 404
    assert "Theirs" not in owner_client.get("/admin/api-keys/").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ApiKey, theirs).revoked_at is None


def test_the_sidebar_links_the_page(owner_client):
    page = owner_client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/api-keys/"' in page
