"""Store settings beyond the basics: contact email, low-stock level, logo, custom domain; and the
store's audit log with before and after values (SQLite and PostgreSQL)."""

import html
import io

import pytest
from PIL import Image
from sqlalchemy import select

from app.audit.models import AuditLog
from app.extensions import db
from tenants.models import Store
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import add_member, make_store, make_user
from tests.services.test_browse import count_queries
from tests.web.order_helpers import make_variant, owner_of

SETTINGS = {
    "name": "Alpha Goods",
    "accent_color": "#c2410c",
    "currency": "USD",
    "locale": "en_US",
    "timezone": "UTC",
    "contact_email": "",
    "low_stock_default": "",
}


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


def store_row(app, store) -> Store:
    with app.app_context():
        row = db.session.get(Store, store.id)
        db.session.expunge(row)
        return row


def picture(fmt: str = "PNG", size=(800, 400), mode="RGBA") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 60, 20, 255) if mode == "RGBA" else (200, 60, 20)).save(buffer, fmt)
    return buffer.getvalue()


# Contact email and low-stock level -------------------------------------------------------------


def test_contact_email_and_low_stock_level_are_saved_shown_and_audited(
    app, store_a, owner_client, client_for
):
    form = {**SETTINGS, "contact_email": "Hello@Alpha.Example.com", "low_stock_default": "12"}
    assert owner_client.post("/admin/settings", data=form).status_code == 303
    row = store_row(app, store_a)
    assert (row.contact_email, row.low_stock_default) == ("hello@alpha.example.com", 12)
    shop = client_for(store_a).get("/")
    assert 'href="mailto:hello@alpha.example.com"' in shop.text
    page = owner_client.get("/admin/settings")
    assert 'value="12"' in page.text and 'value="hello@alpha.example.com"' in page.text
    with app.app_context():
        entry = db.session.scalar(
            select(AuditLog).where(AuditLog.action == "store.settings_changed")
        )
        assert entry.details["changes"] == {
            "contact_email": [None, "hello@alpha.example.com"],
            "low_stock_default": [None, 12],
        }
    # The store's level is what the dashboard and the alerts use for variants without one.
    lamp = make_variant(store_a, "LAMP", 1000, stock=11)
    assert "LAMP" in owner_client.get("/admin/").text.split("Low stock", 1)[1]
    assert (
        "Email managers when stock falls to"
        in owner_client.get(f"/admin/variants/{lamp}/stock").text
    )


@pytest.mark.backends("sqlite")  # validation messages
@pytest.mark.parametrize(
    "field, value, message",
    [
        ("contact_email", "not an email", "That email address is not valid"),
        ("contact_email", "a@b", "That email address is not valid"),
        ("low_stock_default", "-1", "Use a whole number from 0 to 100,000."),
        ("low_stock_default", "lots", "Use a whole number from 0 to 100,000."),
        ("low_stock_default", "100001", "Use a whole number from 0 to 100,000."),
    ],
)
def test_bad_settings_are_refused_with_a_message(app, store_a, owner_client, field, value, message):
    response = owner_client.post("/admin/settings", data={**SETTINGS, field: value})
    assert response.status_code == 422 and message in response.text
    row = store_row(app, store_a)
    assert row.contact_email is None and row.low_stock_default is None


# Logo ------------------------------------------------------------------------------------------


@pytest.mark.backends("sqlite")  # image handling and markup
def test_a_logo_is_made_small_shown_in_the_header_and_removed(
    app, store_a, owner_client, client_for
):
    response = owner_client.post(
        "/admin/settings/logo",
        data={"logo": (io.BytesIO(picture()), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    row = store_row(app, store_a)
    assert row.logo_key and row.logo_key.endswith(".webp")
    with app.app_context():
        from app.storage import get_storage

        made = Image.open(io.BytesIO(get_storage().read(row.logo_key)))
        assert made.format == "WEBP" and made.size == (320, 160)
    shop = client_for(store_a).get("/")
    assert f'<img class="brand__logo" src="/media/{row.logo_key}" alt="Alpha Goods">' in shop.text
    owner_client.post("/admin/settings/logo", data={"remove": "1"})
    assert store_row(app, store_a).logo_key is None
    assert "brand__logo" not in client_for(store_a).get("/").text


@pytest.mark.backends("sqlite")  # validation messages
@pytest.mark.parametrize(
    "data, message",
    [
        (b"just some text, renamed", "Upload a PNG, JPEG or WebP picture"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG isn't accepted"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "isn't a picture Pasar can read"),
        (b"", "Choose a picture to upload."),
    ],
)
def test_bad_logos_are_refused(app, store_a, owner_client, data, message):
    response = owner_client.post(
        "/admin/settings/logo",
        data={"logo": (io.BytesIO(data), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and message in html.unescape(response.text)
    assert store_row(app, store_a).logo_key is None


@pytest.mark.backends("sqlite")  # validation messages
def test_a_huge_or_bomb_logo_is_refused(app, store_a, owner_client, monkeypatch):
    from app import branding

    big = picture("PNG", (5000, 5000), "RGB")
    monkeypatch.setattr(branding, "MAX_PIXELS", 1_000_000)  # a bomb, relative to the limit
    bomb = owner_client.post(
        "/admin/settings/logo",
        data={"logo": (io.BytesIO(big), "bomb.png")},
        content_type="multipart/form-data",
    )
    assert bomb.status_code == 422
    assert "isn't a picture Pasar can read" in html.unescape(bomb.text)
    too_big = owner_client.post(
        "/admin/settings/logo",
        data={"logo": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * (3 * 1024 * 1024)), "l.png")},
        content_type="multipart/form-data",
    )
    assert too_big.status_code == 422 and "at most 2 MB" in too_big.text


# Custom domain ---------------------------------------------------------------------------------


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_a_custom_domain_shows_its_dns_records_until_verified(app, store_a, owner_client):
    response = owner_client.post("/admin/settings/domain", data={"custom_domain": "Shop.Alpha.COM"})
    assert response.status_code == 303
    row = store_row(app, store_a)
    assert row.custom_domain == "shop.alpha.com" and row.domain_token
    page = owner_client.get("/admin/settings")
    assert "Waiting for verification" in page.text
    assert (
        "<code>shop.alpha.com</code>" in page.text and "<code>alpha.pasar.test</code>" in page.text
    )
    assert f"<code>pasar-verify={row.domain_token}</code>" in page.text
    assert "<code>_pasar.shop.alpha.com</code>" in page.text
    with app.app_context():
        from app.database import utcnow

        db.session.get(Store, store_a.id).custom_domain_verified_at = utcnow()
        db.session.commit()
    assert "Verified" in owner_client.get("/admin/settings").text
    # A new domain starts over: unverified, with a new token.
    owner_client.post("/admin/settings/domain", data={"custom_domain": "alpha.example.org"})
    row2 = store_row(app, store_a)
    assert row2.custom_domain_verified_at is None and row2.domain_token != row.domain_token
    owner_client.post("/admin/settings/domain", data={"custom_domain": ""})
    row3 = store_row(app, store_a)
    assert row3.custom_domain is None and row3.domain_token is None


@pytest.mark.parametrize(
    "typed, message",
    [
        ("not a domain", "is not a domain name"),
        ("localhost", "is not a domain name"),
        ("10.0.0.1", "not an IP address"),
        ("beta.pasar.test", "are Pasar&#39;s"),
        ("taken.example.com", "Another store uses that domain."),
        ("x" * 300 + ".com", "is not a domain name"),
    ],
)
def test_bad_custom_domains_are_refused(app, store_a, owner_client, typed, message):
    with app.app_context():
        other = make_store("other", "Other")
        db.session.get(Store, other.id).custom_domain = "taken.example.com"
        db.session.commit()
    response = owner_client.post("/admin/settings/domain", data={"custom_domain": typed})
    assert response.status_code == 422 and message in response.text
    assert store_row(app, store_a).custom_domain is None


# The audit log ---------------------------------------------------------------------------------


def test_the_audit_log_shows_product_price_stock_and_settings_changes(app, store_a, owner_client):
    lamp = make_variant(store_a, "LAMP", 1000, stock=5)
    with app.app_context():
        from app.catalog.models import Variant

        product_id = db.session.get(Variant, lamp).product_id
    owner_client.post(
        f"/admin/products/{product_id}/variants/{lamp}",
        data={
            "sku": "LAMP",
            "price": "12.50",
            "compare_at_price": "",
            "weight_grams": "0",
            "stock": "5",
            "track_inventory": "y",
        },
    )
    owner_client.post(
        f"/admin/variants/{lamp}/stock",
        data={"mode": "change", "quantity": "+3", "kind": "receive", "reason": "Delivery"},
    )
    owner_client.post("/admin/settings", data={**SETTINGS, "name": "Alpha Goods Co"})
    page = owner_client.get("/admin/audit")
    assert page.status_code == 200
    text = page.text
    # Readable action names, from one mapping; the raw action stays in a data attribute.
    assert '<span class="audit-action" data-action="variant.updated">Variant updated</span>' in text
    assert "$10.00" in text and "$12.50" in text
    assert ">Stock adjusted</span>" in text and "Delivery" in text
    assert ">Store settings changed</span>" in text and "Alpha Goods Co" in text
    # The product made outside a request (by no person: the seed's kind of noise) is hidden
    # unless everything is asked for, and the pager keeps asking.
    assert 'data-action="product.created"' not in text
    everything = owner_client.get("/admin/audit?all=1").text
    assert '<span class="audit-action" data-action="product.created">Product created</span>' in (
        everything
    )
    assert 'name="all" value="1" checked' in everything
    prices = owner_client.get("/admin/audit?kind=prices").text
    assert (
        'data-action="variant.updated"' in prices and 'data-action="stock.adjusted"' not in prices
    )
    owner = owner_of(app, store_a)
    mine = owner_client.get(f"/admin/audit?user={owner.id}&all=1").text
    assert 'data-action="stock.adjusted"' in mine
    assert 'data-action="product.created"' not in mine  # made outside a request
    for junk in ("?kind=nope", "?user=abc", "?page=-4", "?page=999999999999", "?all=<b>"):
        assert owner_client.get("/admin/audit" + junk).status_code == 200


def test_the_audit_log_never_shows_another_stores_entries(app, store_a, store_b, owner_client):
    make_variant(store_b, "SECRET-SKU", 1000, stock=1)
    make_variant(store_a, "OWN-SKU", 1000, stock=1)
    everything = owner_client.get("/admin/audit?all=1").text
    assert "OWN-SKU" in everything and "SECRET-SKU" not in everything


def test_staff_cannot_read_the_audit_log_and_its_queries_are_fixed(
    app, store_a, owner_client, client_for
):
    staff = make_user("stocker@example.com")
    add_member(store_a, staff, "staff")
    client = client_for(store_a)
    sign_in_as(client, staff)
    assert client.get("/admin/audit").status_code == 403
    counts = []
    for n in (2, 40):
        for i in range(n):
            make_variant(store_a, f"A{n}-{i}", 1000, stock=1)
        with app.app_context(), count_queries() as counter:
            assert owner_client.get("/admin/audit?all=1").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 10, counts


def test_a_person_creating_a_product_is_never_hidden_as_noise(app, store_a, owner_client):
    made = owner_client.post(
        "/admin/products/new",
        data={"title": "Hand Made Lamp", "status": "draft", "sku": "HML-1", "price": "9.00"},
    )
    assert made.status_code in (302, 303), made.text[:300]
    text = owner_client.get("/admin/audit").text
    assert '<span class="audit-action" data-action="product.created">Product created</span>' in text


def test_every_audited_action_in_the_code_has_a_readable_name():
    """A new action literal without a label in app.audit.labels fails here."""
    import re
    from pathlib import Path

    from app.audit.labels import ACTIONS, action_label, field_label

    root = Path(__file__).resolve().parents[2]
    found = set()
    for folder in ("app", "tenants", "jobs"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text()
            found |= set(
                re.findall(
                    r'(?:record|_notify)\(\s*(?:user,\s*)?"([a-z0-9_]+(?:\.[a-z_]+)?)"', text
                )
            )
    found |= {
        f"{kind}.{state}"
        for kind in ("product", "variant")
        for state in ("created", "updated", "deleted")
    }
    assert found and not found - set(ACTIONS), sorted(found - set(ACTIONS))
    assert action_label("brand_new.thing_done") == "Brand new thing done"
    assert field_label("tags_text") == "Tags" and field_label("new_field") == "New field"
