"""Tenancy by Host: the platform, stores by subdomain and custom domain, and what isn't a store."""

import pytest

from app.extensions import db
from tenants.models import Store
from tenants.provisioning import set_store_status
from tests.conftest import PLATFORM
from tests.factories import make_store


def test_platform_home_lists_active_stores_with_links(app, client, store_a, store_b):
    with app.app_context():
        suspended = make_store("closed-shop", "Closed Shop")
        set_store_status(db.session.get(Store, suspended.id), "suspended")
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Alpha Goods" in html and "Bravo Supply" in html
    assert f'href="http://alpha.{PLATFORM}/"' in html
    assert f'href="http://bravo.{PLATFORM}/"' in html
    assert "Closed Shop" not in html


def test_store_home_shows_the_store(client_for, store_a, store_b):
    response = client_for(store_a).get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<h1 class="hero__title">Alpha Goods</h1>' in html
    assert "Bravo Supply" not in html
    assert "/theme.css" in html


@pytest.mark.parametrize(
    "host", [f"ALPHA.{PLATFORM.upper()}", f"alpha.{PLATFORM}.", f"alpha.{PLATFORM}:5000"]
)
def test_host_case_port_and_trailing_dot_are_normalised(client_for, store_a, host):
    response = client_for(host=host).get("/")
    assert response.status_code == 200
    assert "Alpha Goods" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "slug", ["nosuchstore", "admin", "api", "static", "mail", "console", "a.b"]
)
def test_unknown_or_reserved_subdomain_is_the_store_404_page(client_for, store_a, slug):
    response = client_for(host=f"{slug}.{PLATFORM}").get("/")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "No such store" in html
    assert "Browse all stores" in html


def test_www_redirects_to_the_platform(client_for):
    response = client_for(host=f"www.{PLATFORM}").get("/?q=x")
    assert response.status_code == 301
    assert response.headers["Location"] == f"http://{PLATFORM}/?q=x"


def test_suspended_store_is_unavailable(app, client_for, store_a):
    with app.app_context():
        set_store_status(db.session.get(Store, store_a.id), "suspended", reason="test")
    response = client_for(store_a).get("/")
    assert response.status_code == 503
    assert "This store is unavailable" in response.get_data(as_text=True)
    assert client_for(store_a).get("/theme.css").status_code == 503
    # Nothing on the page looks usable: no search box, no cart, no theme.css link.
    html = response.get_data(as_text=True)
    assert "store-search" not in html and "site-nav__cart" not in html
    assert "theme.css" not in html


def test_verified_custom_domain_resolves_and_unverified_does_not(app, client_for, store_a):
    from app.database import utcnow
    from tenants.provisioning import set_custom_domain

    with app.app_context():
        store = db.session.get(Store, store_a.id)
        set_custom_domain(store, "Shop.Alpha-Goods.com")
        assert store.custom_domain == "shop.alpha-goods.com"
    assert client_for(host="shop.alpha-goods.com").get("/").status_code == 404
    with app.app_context():
        db.session.get(Store, store_a.id).custom_domain_verified_at = utcnow()
        db.session.commit()
    response = client_for(host="shop.alpha-goods.com").get("/")
    assert response.status_code == 200
    assert "Alpha Goods" in response.get_data(as_text=True)
    # A custom domain keeps its own session: the cookie has no platform Domain attribute.
    cookie = response.headers.get("Set-Cookie", "")
    assert "session=" in cookie and "Domain=" not in cookie


def test_session_cookie_is_shared_across_the_platform_domain(client_for, store_a):
    response = client_for(store_a).get("/")
    assert f"Domain={PLATFORM}" in response.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("bad host", 400),
        ("evil.com/../etc", 400),
        ("<script>alert(1)</script>", 400),
        ("alpha.pasar.test:notaport", 400),
        ("x" * 300, 400),
        ("[::1]", 400),
        ("", 400),
        ("127.0.0.1", 404),
        ("unknown.example.org", 404),
    ],
)
def test_junk_host_headers_never_500(client_for, store_a, host, status):
    response = client_for(host=host).get("/")
    assert response.status_code == status
    assert "Traceback" not in response.get_data(as_text=True)


def test_theme_css_is_the_store_s_accent(client_for, client, store_a, store_b):
    response = client_for(store_a).get("/theme.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert "--accent: #c2410c" in response.get_data(as_text=True)
    assert "#c2410c" not in client_for(store_b).get("/theme.css").get_data(as_text=True)
    assert client.get("/theme.css").status_code == 404  # store-only route


def test_health_endpoints_answer_on_any_host(client_for):
    for host in (PLATFORM, "unknown.example.org", "10.0.0.7:8000"):
        assert client_for(host=host).get("/healthz").status_code == 200


def test_htmx_gets_only_the_store_list_fragment(client, store_a):
    full = client.get("/")
    fragment = client.get("/", headers={"HX-Request": "true"})
    restore = client.get("/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in full.get_data(as_text=True)
    body = fragment.get_data(as_text=True)
    assert body.strip().startswith('<div id="store-list">') and "Alpha Goods" in body
    assert "<html" not in body
    assert "<html" in restore.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"] and "HX-Request" in full.headers["Vary"]


def test_listing_pages_issue_a_bounded_number_of_queries(app, client, store_a, store_b):
    from sqlalchemy import event

    from tests.factories import make_store

    def count_queries(path, host_client):
        statements = []

        def on_execute(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            assert host_client.get(path).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
        return len(statements)

    few = count_queries("/", client)
    with app.app_context():
        for i in range(5):
            make_store(f"extra{i}", f"Extra {i}")
    # The directory page with its total, the newest stores, the currency menu (and BEGIN on
    # SQLite): the same whatever the number of stores.
    assert count_queries("/", client) == few <= 4
