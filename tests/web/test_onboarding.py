"""Self-serve onboarding: opening a store with a live subdomain check, the unpublished preview,
the launch checklist and publishing."""

import html

import pytest
from sqlalchemy import select

from app.accounts.models import Membership
from app.audit.models import AuditLog
from app.checkout.models import CheckoutSettings
from app.extensions import db
from tenants import provisioning
from tenants.models import Store
from tenants.provisioning import set_store_status
from tests.conftest import BACKENDS, PLATFORM, sign_in_as
from tests.factories import add_member, make_product, make_store, make_user

pytestmark = pytest.mark.backends("sqlite")  # subdomain answers, forms, markup: HTTP, not SQL

HTMX = {"HX-Request": "true"}


def open_store(client, slug="kopi-kita", name="Kopi Kita", currency="IDR"):
    token_page = client.get("/stores/new")
    assert token_page.status_code == 200
    return client.post(
        "/stores/new",
        data={"name": name, "slug": slug, "currency": currency, "csrf_token": _csrf(client)},
    )


def _csrf(client) -> str:
    with client.session_transaction() as sess:
        return sess.get("csrf_token", "")


def store_by_slug(app, slug):
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.slug == slug))
        if store is not None:
            db.session.expunge(store)
        return store


@pytest.fixture
def vendor(app):
    return make_user("vendor@example.com", name="Vera Vendor")


@pytest.fixture
def vendor_client(client_for, vendor):
    client = client_for(None)
    sign_in_as(client, vendor)
    return client


def test_the_open_store_page_asks_anonymous_visitors_to_sign_in(client):
    response = client.get("/stores/new")
    assert response.status_code == 302 and "/account/signin" in response.location


def test_an_unverified_user_is_told_to_verify_first(app, client_for):
    user = make_user("new@example.com", verified=False)
    client = client_for(None)
    sign_in_as(client, user)
    response = client.get("/stores/new")
    assert response.status_code == 403
    assert "Verify your email address before opening a store" in response.text
    assert client.get("/stores/new/subdomain?slug=kopi").status_code == 200  # a harmless check


def test_the_page_exists_only_on_the_platform_host(store_a, client_for, vendor):
    client = client_for(store_a)
    sign_in_as(client, vendor)
    assert client.get("/stores/new").status_code == 404


@pytest.mark.parametrize(
    ("slug", "answer"),
    [
        ("admin", "That subdomain is reserved."),
        ("-shop", "can't start or end with a hyphen"),
        ("shop-", "can't start or end with a hyphen"),
        ("Shop", "Use lower-case letters, digits and hyphens only."),
        ("ab", "at least 3 characters"),
        ("a" * 64, "at most 40 characters"),
        ("\u0430cme", "Use lower-case letters, digits and hyphens only."),  # Cyrillic a
        ("ac\u200bme", "Use lower-case letters, digits and hyphens only."),  # zero-width space
        ("alpha", "That subdomain is taken."),
        ("my shop", "Use lower-case letters, digits and hyphens only."),
        ("", "Choose a subdomain."),
        ("kopi-kita", "That subdomain is available."),
    ],
)
def test_the_live_subdomain_check_gives_a_reason(store_a, vendor_client, slug, answer):
    response = vendor_client.get("/stores/new/subdomain", query_string={"slug": slug}, headers=HTMX)
    assert response.status_code == 200
    assert answer in html.unescape(response.text)
    assert response.text.lstrip().startswith('<p id="subdomain-check"')  # a fragment
    assert "<html" not in response.text
    if slug == "kopi-kita":
        assert f"kopi-kita.{PLATFORM}" in response.text and "subdomain-check--ok" in response.text
    else:
        assert "subdomain-check--bad" in response.text


def test_a_suspended_stores_subdomain_is_still_taken(app, store_a, vendor_client):
    with app.app_context():
        set_store_status(db.session.get(Store, store_a.id), "suspended")
    response = vendor_client.get("/stores/new/subdomain?slug=alpha", headers=HTMX)
    assert "That subdomain is taken." in response.text


def test_the_check_without_htmx_renders_the_whole_form(vendor_client):
    response = vendor_client.get("/stores/new/subdomain?slug=admin")
    assert response.status_code == 200
    assert "<form" in response.text and "That subdomain is reserved." in response.text


@pytest.mark.backends(*BACKENDS)  # rows written under row-level security (all_stores)
def test_opening_a_store_creates_it_unpublished_with_the_owner_and_lands_on_its_dashboard(
    app, vendor_client, vendor
):
    response = open_store(vendor_client)
    assert response.status_code == 303
    assert response.location == f"http://kopi-kita.{PLATFORM}/admin/"
    store = store_by_slug(app, "kopi-kita")
    assert store.name == "Kopi Kita" and store.currency == "IDR"
    assert not store.is_published
    with app.app_context():
        membership = db.session.scalar(select(Membership).where(Membership.store_id == store.id))
        assert (membership.user_id, membership.role) == (vendor.id, "owner")
        assert db.session.scalar(
            select(AuditLog).where(
                AuditLog.action == "store.created", AuditLog.store_id == store.id
            )
        )


@pytest.mark.parametrize(
    ("slug", "name", "message"),
    [
        ("admin", "Admin Shop", "That subdomain is reserved."),
        ("alpha", "Copycat", "That subdomain is taken."),
        ("Shop", "Shop", "Use lower-case letters"),
        ("kopi", "", "Name your store."),
        ("kopi", "x" * 121, "Field cannot be longer than 120 characters."),
    ],
)
def test_bad_store_details_are_refused_with_the_reason(
    app, store_a, vendor_client, slug, name, message
):
    response = open_store(vendor_client, slug=slug, name=name)
    assert response.status_code == 422
    assert message in html.unescape(response.text)
    with app.app_context():
        assert db.session.scalar(select(Store).where(Store.name == name)) is None or name == ""


def test_an_unknown_currency_is_refused(app, vendor_client):
    response = open_store(vendor_client, currency="XXX")
    assert response.status_code == 422
    assert store_by_slug(app, "kopi-kita") is None


@pytest.mark.backends(*BACKENDS)  # a unique index
def test_losing_the_race_for_a_subdomain_gets_a_clear_message(app, vendor_client, monkeypatch):
    """Two vendors check the same free subdomain; the second insert hits the unique index."""
    make_store("racer", owner_email="winner@example.com")
    monkeypatch.setattr(provisioning, "slug_is_taken", lambda slug: False)  # both saw it free
    response = open_store(vendor_client, slug="racer", name="Loser")
    assert response.status_code == 422
    assert "That subdomain is taken." in response.text
    with app.app_context():
        assert db.session.scalar(select(Store).where(Store.name == "Loser")) is None


@pytest.mark.backends(*BACKENDS)  # search
def test_an_unpublished_store_is_hidden_from_shoppers_and_shown_to_its_staff(
    app, client_for, vendor_client, vendor
):
    open_store(vendor_client)
    store = store_by_slug(app, "kopi-kita")
    make_product(store, "Kopi Luwak")

    anonymous = client_for(store)
    page = anonymous.get("/")
    assert page.status_code == 404 and "This store is opening soon" in page.text
    assert "Preview:" not in page.text
    # Nothing on the page points at what the visitor can't open: no theme.css (a 404 as HTML),
    # no search box, no cart.
    assert "theme.css" not in page.text
    assert "store-search" not in page.text and "site-nav__cart" not in page.text
    assert anonymous.get("/products/").status_code == 404
    signin = anonymous.get("/account/signin")
    assert signin.status_code == 200 and "Preview:" not in signin.text  # staff can sign in

    stranger = client_for(store)
    sign_in_as(stranger, make_user("stranger@example.com"))
    assert stranger.get("/").status_code == 404

    staff_user = make_user("barista@example.com")
    add_member(store, staff_user, "staff")
    staff = client_for(store)
    sign_in_as(staff, staff_user)
    for client in (staff, _signed_in(client_for(store), vendor)):
        home = client.get("/")
        assert home.status_code == 200
        assert "Preview: this store isn't published yet" in home.text

    platform = client_for(None)
    assert "Kopi Kita" not in platform.get("/").text
    assert "Kopi Luwak" not in platform.get("/search?q=kopi").text


def _signed_in(client, user):
    sign_in_as(client, user)
    return client


@pytest.mark.backends(*BACKENDS)  # search
def test_the_checklist_guides_the_owner_until_the_store_is_published(
    app, client_for, vendor_client, vendor
):
    open_store(vendor_client)
    store = store_by_slug(app, "kopi-kita")
    owner = _signed_in(client_for(store), vendor)

    page = owner.get("/admin/")
    assert page.status_code == 200
    assert "Get your store ready" in page.text and "0 of 4 done" in page.text
    assert "Your store isn&#39;t published yet." in page.text or "published yet" in page.text

    make_product(store, "Kopi Luwak")
    with app.app_context():
        db.session.add(CheckoutSettings(store_id=store.id, shipping_flat=10000))
        db.session.commit()
    assert "3 of 4 done" in owner.get("/admin/").text

    response = owner.post("/admin/publish", data={"csrf_token": _csrf(owner)})
    assert response.status_code == 303
    published = store_by_slug(app, "kopi-kita")
    assert published.is_published
    page = owner.get("/admin/")
    assert "Get your store ready" not in page.text and "published yet" not in page.text
    with app.app_context():
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "store.published"))

    # Now shoppers see it, and the platform lists it.
    assert client_for(published).get("/").status_code == 200
    assert "Kopi Kita" in client_for(None).get("/").text
    assert "Kopi Luwak" in client_for(None).get("/search?q=kopi").text

    again = owner.post("/admin/publish", data={"csrf_token": _csrf(owner)}, follow_redirects=True)
    assert "was already published" in again.text


def test_only_the_owner_publishes(app, client_for, vendor_client):
    open_store(vendor_client)
    store = store_by_slug(app, "kopi-kita")
    manager_user = make_user("manager@example.com")
    add_member(store, manager_user, "manager")
    manager = _signed_in(client_for(store), manager_user)
    assert "The owner publishes it." in manager.get("/admin/").text
    assert manager.post("/admin/publish", data={"csrf_token": _csrf(manager)}).status_code == 403
    assert not store_by_slug(app, "kopi-kita").is_published


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_another_stores_owner_cannot_publish_it(app, client_for, vendor_client, store_b):
    open_store(vendor_client)
    store = store_by_slug(app, "kopi-kita")
    with app.app_context():
        other_owner = db.session.scalar(
            select(Membership).where(Membership.store_id == store_b.id)
        ).user
        db.session.expunge(other_owner)
    other = _signed_in(client_for(store), other_owner)
    assert other.post("/admin/publish", data={"csrf_token": _csrf(other)}).status_code == 404
    assert not store_by_slug(app, "kopi-kita").is_published


def test_publishing_needs_an_active_product_with_stock_and_a_way_to_pay(
    app, client_for, vendor_client, vendor
):
    from app.catalog.service import VariantData

    open_store(vendor_client)
    store = store_by_slug(app, "kopi-kita")
    owner = _signed_in(client_for(store), vendor)

    refused = owner.post("/admin/publish", data={"csrf_token": _csrf(owner)})
    assert refused.status_code == 303
    page = owner.get("/admin/").text
    assert "can&#39;t be published yet" in page or "can't be published yet" in page
    assert "Add a product that is active and has stock." in page
    assert "Choose how shoppers pay in your checkout settings." in page
    assert not store_by_slug(app, "kopi-kita").is_published

    # A draft, or an active product with nothing in stock, is nothing to sell.
    make_product(store, "Kopi Draft", status="draft")
    make_product(store, "Kopi Habis", variants=[VariantData(sku="HABIS-1", price=5000, stock=0)])
    with app.app_context():
        db.session.add(CheckoutSettings(store_id=store.id, shipping_flat=10000))
        db.session.commit()
    owner.post("/admin/publish", data={"csrf_token": _csrf(owner)})
    page = owner.get("/admin/").text
    assert "Add a product that is active and has stock." in page
    assert "Choose how shoppers pay" in page and "2 of 4 done" in page
    assert not store_by_slug(app, "kopi-kita").is_published

    make_product(store, "Kopi Luwak")
    owner.post("/admin/publish", data={"csrf_token": _csrf(owner)})
    assert store_by_slug(app, "kopi-kita").is_published
