"""Links in emails come from configuration, never from the request's Host or X-Forwarded-Host.

The attacker is a vendor who runs a verified custom domain (or forges headers): a reset link
built from the request would point at a host they control and hand them the victim's token.
"""

import re

import pytest
from flask import request

from app.database import utcnow
from app.extensions import db
from tenants.models import Store
from tests.accounts_helpers import last_email
from tests.conftest import PLATFORM, make_app, truncate_all
from tests.factories import PASSWORD, make_store, make_user
from tests.web.order_helpers import make_order, make_variant, owner_of

ATTACKER_DOMAIN = "shop.vendor-owned.example"
VICTIM = "victim@example.com"


def verify_domain(app, store, domain: str = ATTACKER_DOMAIN) -> None:
    """Give `store` a verified custom domain, as the console does after the DNS check."""
    with app.app_context():
        row = db.session.get(Store, store.id)
        row.custom_domain = domain
        row.custom_domain_verified_at = utcnow()
        db.session.commit()


def request_reset(client, **headers):
    return client.post("/account/reset", data={"email": VICTIM}, headers=headers)


def reset_link(app) -> str:
    mail = last_email(app, VICTIM)
    assert mail.template == "password_reset"
    links = set(re.findall(r"https?://[^\s\"<]+", mail.text_body + (mail.html_body or "")))
    assert links, mail.text_body
    return links.pop() if len(links) == 1 else sorted(links)[0]


def assert_on_platform(link: str) -> None:
    assert link.startswith(f"http://{PLATFORM}/account/reset/"), link


@pytest.fixture
def vendor_store(app):
    store = make_store("vendo", "Vendor Goods")
    verify_domain(app, store)
    return store


def test_reset_requested_on_a_verified_custom_domain_links_to_the_platform(
    app, client_for, vendor_store
):
    make_user(VICTIM)
    response = request_reset(client_for(host=ATTACKER_DOMAIN))
    assert response.status_code == 303
    assert_on_platform(reset_link(app))


def test_reset_requested_on_a_store_subdomain_links_to_the_platform(app, client_for, vendor_store):
    make_user(VICTIM)
    request_reset(client_for(vendor_store))
    assert_on_platform(reset_link(app))


@pytest.mark.parametrize(
    "host", ["unverified.vendor-owned.example", "evil.example:8443", "pasar.test.evil.example"]
)
def test_a_forged_host_gets_404_and_no_email(app, client_for, host):
    make_user(VICTIM)
    response = request_reset(client_for(host=host))
    assert response.status_code == 404
    with app.app_context():
        from sqlalchemy import func, select

        from app.notifications.models import EmailMessage

        assert db.session.scalar(select(func.count()).select_from(EmailMessage)) == 0


@pytest.fixture
def proxied_app(database_urls, redis_url):
    """An app behind one trusted proxy (TRUSTED_PROXIES=1)."""
    from tests import factories

    application = make_app(database_urls("sqlite"), redis_url, TRUSTED_PROXIES=1)

    @application.get("/_test/whoami")
    def whoami():
        return {"scheme": request.scheme, "host": request.host, "ip": request.remote_addr}

    factories.CURRENT_APP = application
    yield application
    factories.CURRENT_APP = None
    truncate_all(application)


def test_x_forwarded_host_is_never_the_host_behind_a_trusted_proxy(proxied_app):
    from tests.conftest import HostClient

    store = make_store("vendo", "Vendor Goods")
    verify_domain(proxied_app, store)
    make_user(VICTIM)
    client = HostClient(proxied_app, proxied_app.response_class, use_cookies=True)
    forwarded = {
        "X-Forwarded-Host": ATTACKER_DOMAIN,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "203.0.113.9",
    }
    response = request_reset(client, **forwarded)
    assert response.status_code == 303
    link = reset_link(proxied_app)
    assert ATTACKER_DOMAIN not in link
    assert link.startswith(f"http://{PLATFORM}/account/reset/"), link
    # The app sees the Host the client sent; the client IP and proto still come from the proxy.
    seen = client.get("/_test/whoami", headers=forwarded).get_json()
    assert seen == {"scheme": "https", "host": PLATFORM, "ip": "203.0.113.9"}


def test_proxy_fix_trusts_only_for_and_proto(proxied_app):
    from werkzeug.middleware.proxy_fix import ProxyFix

    wrapped = proxied_app.wsgi_app
    assert isinstance(wrapped, ProxyFix)
    assert (wrapped.x_for, wrapped.x_proto) == (1, 1)
    assert (wrapped.x_host, wrapped.x_port, wrapped.x_prefix) == (0, 0, 0)


def test_staff_invite_sent_from_the_custom_domain_links_to_the_store_s_canonical_host(
    app, client_for, vendor_store
):
    for host in (ATTACKER_DOMAIN, f"vendo.{PLATFORM}"):
        client = client_for(host=host)
        owner = owner_of(app, vendor_store)
        # A custom domain keeps its own host-only session: sign in there for real.
        signin = client.post("/account/signin", data={"email": owner.email, "password": PASSWORD})
        assert signin.status_code == 303
        email = f"new-{host.split('.')[0]}@example.com"
        response = client.post(
            "/admin/staff/invites",
            data={"email": email, "role": "staff"},
            headers={"X-Forwarded-Host": "evil.example"},
        )
        assert response.status_code in (200, 303), response.status_code
        link = re.search(r"https?://\S+/admin/join/\S+", last_email(app, email).text_body)
        # From the database row: the verified custom domain, whichever host the owner used.
        assert link and link.group(0).startswith(f"http://{ATTACKER_DOMAIN}/admin/join/")


def test_order_emails_link_to_the_store_s_canonical_host(app, client_for, vendor_store):
    variant = make_variant(vendor_store)
    owner = owner_of(app, vendor_store)
    for n, host in enumerate((ATTACKER_DOMAIN, f"vendo.{PLATFORM}")):
        buyer = f"buyer{n}@example.com"
        order = make_order(app, vendor_store, variant, quantity=1, status="paid", email=buyer)
        client = client_for(host=host)
        signin = client.post("/account/signin", data={"email": owner.email, "password": PASSWORD})
        assert signin.status_code == 303
        response = client.post(
            f"/admin/orders/{order['number']}/ship",
            data={"carrier": "JNE", "tracking_number": f"JN-{n}"},
            headers={"X-Forwarded-Host": "evil.example"},
        )
        assert response.status_code == 303
        mail = last_email(app, buyer)
        assert mail.template == "shipping_notice"
        links = re.findall(r"https?://[^\s\"<]+", mail.text_body + (mail.html_body or ""))
        assert links and all(
            link.startswith(f"http://{ATTACKER_DOMAIN}/orders/{order['number']}?key=")
            for link in links
        ), links


def test_no_email_or_job_builds_links_from_the_request():
    """A guard for new code: emails and jobs take their hosts from tenants.urls only."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for template in (root / "templates" / "emails").glob("*"):
        source = template.read_text()
        assert "request." not in source and "url_for(" not in source, template.name
    forbidden = ("host_url", "url_root", "_external")
    for folder in ("app", "jobs", "tenants"):
        for module in (root / folder).rglob("*.py"):
            source = module.read_text()
            found = [word for word in forbidden if word in source]
            assert not found, (str(module.relative_to(root)), found)
