"""The dashboard's checkout settings: shipping, tax, provider, and write-only secrets."""

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.checkout.models import CheckoutSettings
from app.checkout.secrets import decrypt
from app.extensions import db
from tests.accounts_helpers import mark_recently_confirmed
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import add_member, make_store, make_user
from tests.web.order_helpers import owner_of

pytestmark = pytest.mark.backends("sqlite")  # form validation and secrets: HTTP, not SQL

FORM = {
    "shipping_flat": "5.00",
    "shipping_free_over": "100",
    "tax_rate": "8.25",
    "tax_inclusive": "added",
    "payment_provider": "test",
    "stripe_secret_key": "",
    "stripe_webhook_secret": "",
    "midtrans_server_key": "",
    "midtrans_client_key": "",
}


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    owner = owner_of(app, store_a)
    sign_in_as(client, owner)
    mark_recently_confirmed(client, owner)  # provider keys ask for it (tests/security/test_step_up)
    return client


def settings_row(app, store):
    with app.app_context():
        row = db.session.get(CheckoutSettings, store.id)
        if row is not None:
            db.session.expunge(row)
        return row


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_first_save_creates_the_row(app, owner_client, store_a):
    page = owner_client.get("/admin/settings/checkout")
    assert page.status_code == 200 and settings_row(app, store_a) is None
    assert 'href="/admin/settings/checkout"' in page.get_data(as_text=True)  # in the nav
    response = owner_client.post("/admin/settings/checkout", data=FORM)
    assert response.status_code == 303
    row = settings_row(app, store_a)
    assert (row.shipping_flat, row.shipping_free_over, row.tax_basis_points) == (500, 10000, 825)
    assert (row.tax_inclusive, row.payment_provider) == (False, "test")
    page = owner_client.get("/admin/settings/checkout").get_data(as_text=True)
    assert 'value="5.00"' in page and 'value="100.00"' in page and 'value="8.25"' in page
    with app.app_context():
        entry = db.session.scalar(
            select(AuditLog).where(AuditLog.action == "checkout.settings_changed")
        )
        assert entry.store_id == store_a.id


def test_secrets_are_write_only_encrypted_kept_and_removable(app, owner_client, store_a):
    data = {
        **FORM,
        "payment_provider": "stripe",
        "tax_inclusive": "included",
        "stripe_secret_key": "sk_test_supersecret",
        "stripe_webhook_secret": "whsec_alsosecret",
    }
    assert owner_client.post("/admin/settings/checkout", data=data).status_code == 303
    row = settings_row(app, store_a)
    assert "supersecret" not in row.stripe_secret_key
    with app.app_context():
        assert decrypt(row.stripe_secret_key) == "sk_test_supersecret"
    assert row.tax_inclusive is True
    page = owner_client.get("/admin/settings/checkout").get_data(as_text=True)
    assert "supersecret" not in page and "alsosecret" not in page and "set ✓" in page
    # Blank fields keep the stored keys.
    keep = {**FORM, "payment_provider": "stripe", "shipping_flat": "7"}
    assert owner_client.post("/admin/settings/checkout", data=keep).status_code == 303
    kept = settings_row(app, store_a)
    assert kept.stripe_secret_key == row.stripe_secret_key and kept.shipping_flat == 700
    # Removing a key the chosen provider needs is refused; with the test gateway it works.
    refused = owner_client.post(
        "/admin/settings/checkout", data={**keep, "remove": "stripe_secret_key"}
    )
    assert refused.status_code == 422
    assert "Add your Stripe secret key" in refused.get_data(as_text=True)
    assert settings_row(app, store_a).stripe_secret_key == row.stripe_secret_key
    removed = owner_client.post(
        "/admin/settings/checkout",
        data={**FORM, "remove": ["stripe_secret_key", "stripe_webhook_secret"]},
    )
    assert removed.status_code == 303
    cleared = settings_row(app, store_a)
    assert cleared.stripe_secret_key is None and cleared.stripe_webhook_secret is None
    with app.app_context():
        entries = db.session.scalars(
            select(AuditLog.details).where(AuditLog.action == "checkout.settings_changed")
        ).all()
    assert all("secret" not in str(value) or "sk_" not in str(value) for value in entries)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"tax_rate": "150"}, "at most 100%"),
        ({"tax_rate": "11.255"}, "at most 2 decimals"),
        ({"tax_rate": "-5"}, "at most 2 decimals"),
        ({"tax_rate": "ten"}, "at most 2 decimals"),
        ({"shipping_flat": "-1"}, "can&#39;t be negative"),
        ({"shipping_flat": "abc"}, "must be a number"),
        ({"shipping_free_over": "1.001"}, "at most 2 decimal places"),
        ({"payment_provider": "paypal"}, "test gateway, Stripe or Midtrans"),
        ({"payment_provider": "stripe"}, "Add your Stripe secret key"),
        ({"payment_provider": "midtrans"}, "Add your Midtrans server key"),
        ({"stripe_secret_key": "pk_live_wrongkind"}, "starts with sk_ or rk_"),
        ({"stripe_secret_key": "sk test with spaces"}, "without spaces"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(
    app, owner_client, store_a, changes, message
):
    response = owner_client.post("/admin/settings/checkout", data={**FORM, **changes})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body
    assert "wrongkind" not in body and "with spaces" not in body  # typed secrets not echoed
    assert settings_row(app, store_a) is None


def test_tax_rates_with_decimals_become_basis_points(app, owner_client, store_a):
    for typed, expected in [("11", 1100), ("0.5", 50), ("100", 10000), ("", 0), ("7,5", 750)]:
        response = owner_client.post("/admin/settings/checkout", data={**FORM, "tax_rate": typed})
        assert response.status_code == 303, typed
        assert settings_row(app, store_a).tax_basis_points == expected


def test_midtrans_keys_in_an_idr_store(app, client_for):
    store = make_store("batiks", "Batik", currency="IDR")
    client = client_for(store)
    owner = owner_of(app, store)
    sign_in_as(client, owner)
    mark_recently_confirmed(client, owner)
    data = {
        **FORM,
        "shipping_flat": "15000",
        "shipping_free_over": "",
        "tax_rate": "11",
        "tax_inclusive": "included",
        "payment_provider": "midtrans",
        "midtrans_server_key": "SB-Mid-server-abc123",
        "midtrans_client_key": "SB-Mid-client-xyz",
        "midtrans_production": "y",
    }
    assert client.post("/admin/settings/checkout", data=data).status_code == 303
    row = settings_row(app, store)
    assert (row.shipping_flat, row.shipping_free_over) == (1_500_000, None)
    assert row.midtrans_client_key == "SB-Mid-client-xyz" and row.midtrans_production is True
    with app.app_context():
        assert decrypt(row.midtrans_server_key) == "SB-Mid-server-abc123"
    bad = client.post("/admin/settings/checkout", data={**data, "shipping_flat": "15000.505"})
    assert bad.status_code == 422 and "2 decimal places in IDR" in bad.get_data(as_text=True)


@pytest.mark.backends(*BACKENDS)  # another store's owner
def test_staff_and_other_stores_cannot_change_checkout_settings(app, client_for, store_a):
    staff = make_user("staff@example.com")
    add_member(store_a, staff, "staff")
    client = client_for(store_a)
    sign_in_as(client, staff)
    assert client.get("/admin/settings/checkout").status_code == 403
    assert client.post("/admin/settings/checkout", data=FORM).status_code == 403
    store_b = make_store("bravo", "Bravo Supply")
    stranger = client_for(store_a)
    sign_in_as(stranger, owner_of(app, store_b))
    assert stranger.post("/admin/settings/checkout", data=FORM).status_code == 404
    assert settings_row(app, store_a) is None
