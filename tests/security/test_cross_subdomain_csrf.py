"""Cross-subdomain request forgery: a store's page can't drive the console or another store.

Store subdomains are the same site as the platform, so the browser sends the platform-wide
session cookie with a request that a page on `alpha.pasar.test` makes to `pasar.test`.
Two locks: the Origin (or Referer) of an unsafe request must be the host it is sent to, and a
CSRF token is signed for the host that issued it.
"""

import re

import pytest

from app.extensions import db
from tenants.models import Store
from tests.accounts_helpers import sign_in_with_factor, text
from tests.conftest import PLATFORM, host_for
from tests.factories import make_user

# One backend: Origin and CSRF checks, before any view runs (see "Which tests run on both databases" in the README).
pytestmark = pytest.mark.backends("sqlite")

PLATFORM_ORIGIN = f"http://{PLATFORM}"


@pytest.fixture
def admin(app, client):
    """A superuser signed in on the platform with a recent second factor and the console's
    cookie (the session covers every store subdomain; the console cookie only the platform)."""
    app.config["WTF_CSRF_ENABLED"] = True
    sign_in_with_factor(client, make_user("root@example.com", superuser=True))
    return client


def token_on(client, host: str, path: str = "/") -> str:
    """The CSRF token a page on `host` carries (what a script on that page could read)."""
    page = client.get(path, headers={"Host": host})
    assert page.status_code == 200, (host, path, page.status_code)
    match = re.search(r'"X-CSRFToken": "([^"]+)"', page.get_data(as_text=True))
    assert match, "no token on the page"
    return match.group(1)


def is_active(app, store) -> bool:
    with app.app_context():
        return db.session.get(Store, store.id).is_active


def suspend(client, store, token: str, **headers):
    return client.post(
        f"/console/stores/{store.id}/suspend",
        data={"reason": "forged", "csrf_token": token},
        headers=headers,
    )


def test_a_store_page_s_token_posted_to_the_console_with_its_origin_is_403(app, admin, store_a):
    stolen = token_on(admin, host_for(store_a))
    response = suspend(admin, store_a, stolen, Origin=f"http://{host_for(store_a)}")
    assert response.status_code == 403
    assert "sent from a page on another site" in text(response)
    assert is_active(app, store_a)
    # The forged request doesn't cost the admin their console session either.
    assert "pasar_console=;" not in " ".join(response.headers.getlist("Set-Cookie"))
    assert admin.get(f"/console/stores/{store_a.id}").status_code == 200


def test_the_same_token_with_the_console_s_own_origin_is_refused_as_a_bad_token(
    app, admin, store_a
):
    stolen = token_on(admin, host_for(store_a))
    for headers in ({"Origin": PLATFORM_ORIGIN}, {}):
        response = suspend(admin, store_a, stolen, **headers)
        assert response.status_code == 400
        assert "security token" in text(response)  # the friendly stale-form page
    htmx = admin.post(
        f"/console/stores/{store_a.id}/suspend",
        data={"reason": "forged"},
        headers={"X-CSRFToken": stolen, "HX-Request": "true", "Origin": PLATFORM_ORIGIN},
    )
    assert htmx.status_code == 400 and htmx.headers["HX-Retarget"] == "#messages"
    assert is_active(app, store_a)


def test_a_token_from_one_store_fails_on_another_store(app, admin, store_a, store_b):
    stolen = token_on(admin, host_for(store_a))
    response = admin.post(
        "/account/signout",
        data={"csrf_token": stolen},
        headers={"Host": host_for(store_b), "Origin": f"http://{host_for(store_b)}"},
    )
    assert response.status_code == 400
    assert admin.get("/console/", headers={"Origin": PLATFORM_ORIGIN}).status_code == 200


def test_a_same_host_form_post_works(app, admin, store_a):
    token = token_on(admin, PLATFORM, f"/console/stores/{store_a.id}")
    response = suspend(admin, store_a, token, Origin=PLATFORM_ORIGIN, Referer=PLATFORM_ORIGIN)
    assert response.status_code == 303
    assert not is_active(app, store_a)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://bravo.pasar.test"},
        {"Origin": "http://alpha.pasar.test"},
        {"Origin": "null"},
        {"Origin": "https://pasar.test"},  # another scheme is another origin
        {"Origin": "http://pasar.test:8080"},
        {"Origin": "http://pasar.test.evil.example"},
        {"Referer": "http://alpha.pasar.test/products/"},
        {"Origin": "http://alpha.pasar.test", "Referer": "http://pasar.test/console/"},
    ],
)
def test_the_console_refuses_posts_sent_from_anywhere_else(app, admin, store_a, headers):
    token = token_on(admin, PLATFORM, f"/console/stores/{store_a.id}")
    assert suspend(admin, store_a, token, **headers).status_code == 403
    assert is_active(app, store_a)


def test_the_platform_posting_to_a_store_and_a_store_to_another_are_refused(
    app, admin, store_a, store_b
):
    alpha = host_for(store_a)
    token = token_on(admin, alpha)
    for origin in (PLATFORM_ORIGIN, f"http://{host_for(store_b)}"):
        response = admin.post(
            "/account/signout",
            data={"csrf_token": token},
            headers={"Host": alpha, "Origin": origin},
        )
        assert response.status_code == 403
    fragment = admin.post(
        "/account/signout",
        headers={
            "Host": alpha,
            "Origin": PLATFORM_ORIGIN,
            "X-CSRFToken": token,
            "HX-Request": "true",
        },
    )
    assert fragment.status_code == 403 and fragment.headers["HX-Retarget"] == "#messages"
    assert "<html" not in fragment.get_data(as_text=True)
    # Still signed in: nothing was done.
    assert admin.get("/console/").status_code == 200


def test_an_htmx_request_from_the_same_host_with_its_header_token_works(app, admin, store_a):
    token = token_on(admin, PLATFORM, f"/console/stores/{store_a.id}")
    response = admin.post(
        f"/console/stores/{store_a.id}/suspend",
        data={"reason": "Unpaid fees"},
        headers={"X-CSRFToken": token, "HX-Request": "true", "Origin": PLATFORM_ORIGIN},
    )
    assert response.status_code in (200, 303)
    assert not is_active(app, store_a)


def test_webhooks_are_server_to_server_and_skip_the_origin_check(app, client_for, store_a):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client_for(store_a).post(
        "/webhooks/test", data=b"{}", headers={"Origin": "https://evil.example"}
    )
    # Refused for its missing signature (400), not for where it came from.
    assert response.status_code == 400


def test_https_behind_a_tls_proxy_not_in_trusted_proxies_still_takes_its_own_forms(
    app, admin, store_a
):
    # The app sees plain HTTP, the browser says https://: the configured scheme counts too.
    # (The token is read first: over https the console's cookie comes back Secure, and the test
    # client, which speaks plain HTTP here, would then stop sending it.)
    token = token_on(admin, PLATFORM, f"/console/stores/{store_a.id}")
    app.config["PREFERRED_URL_SCHEME"] = "https"
    plain_http = {"wsgi.url_scheme": "http"}
    for origin, status in ((f"https://{host_for(store_a)}", 403), (f"https://{PLATFORM}", 303)):
        response = admin.post(
            f"/console/stores/{store_a.id}/suspend",
            data={"reason": "Unpaid fees", "csrf_token": token},
            headers={"Origin": origin},
            environ_overrides=plain_http,
        )
        assert response.status_code == status, response.headers.get("Location")
    assert not is_active(app, store_a)
