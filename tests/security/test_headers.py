"""Headers: private pages are never stored by caches, forms only go to our own hosts (and a
payment provider's page from checkout), and powerful browser features are off."""

import re

import pytest

from app.checkout.models import CheckoutSettings
from app.payments.providers import STRIPE_CHECKOUT_ORIGIN, _midtrans_base
from tests.conftest import PLATFORM, host_for, sign_in_as
from tests.factories import add_member, make_image, make_product, make_user
from tests.web.test_checkout import add, to_review, variant_of

# One backend: response headers (see "Which tests run on both databases" in the README).
pytestmark = pytest.mark.backends("sqlite")


def form_action(response) -> list[str]:
    csp = response.headers["Content-Security-Policy"]
    match = re.search(r"(?:^|; )form-action ([^;]+)", csp)
    assert match, csp
    return match.group(1).split()


def no_store(response) -> bool:
    return response.headers.get("Cache-Control") == "no-store"


@pytest.fixture
def product(store_a):
    return make_product(store_a, "Lamp")


@pytest.fixture
def member(app, client_for, store_a):
    client = client_for(store_a)
    user = make_user("staff@alpha.example.com")
    add_member(store_a, user, "owner")
    sign_in_as(client, user)
    return client


@pytest.fixture
def root(client):
    sign_in_as(client, make_user("root@example.com", superuser=True))
    return client


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("shopper", "/account/signin"),
        ("shopper", "/account/register"),
        ("shopper", "/cart"),
        ("shopper", "/checkout/contact"),
        ("member", "/"),
        ("member", "/products/lamp"),
        ("member", "/account/"),
        ("member", "/account/addresses/"),
        ("member", "/account/orders/"),
        ("member", "/admin/"),
        ("member", "/admin/orders/"),
        ("member", "/no/such/page"),
        ("root", "/"),
        ("root", "/console/"),
        ("root", "/console/stores/"),
        ("root", "/stores/new"),
    ],
)
def test_private_pages_and_every_page_of_a_signed_in_user_are_no_store(
    request, client_for, store_a, product, who, path
):
    client = client_for(store_a) if who == "shopper" else request.getfixturevalue(who)
    response = client.get(path)
    assert response.status_code in (200, 302, 303, 404), (path, response.status_code)
    assert no_store(response), (path, response.headers.get("Cache-Control"))


@pytest.mark.parametrize("path", ["/", "/products/", "/products/lamp", "/theme.css"])
def test_the_public_storefront_stays_cacheable_for_anonymous_shoppers(
    client_for, store_a, product, path
):
    response = client_for(store_a).get(path)
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_static_files_media_and_theme_stay_cacheable_when_signed_in(app, member, store_a):
    product = make_product(store_a, "Framed print")
    image = make_image(product)
    theme = member.get("/theme.css")
    assert theme.headers["Cache-Control"] == "public, max-age=300"
    css = member.get("/static/css/pasar.css")
    assert css.status_code == 200 and not no_store(css)
    media = member.get(f"/media/{image.key}/medium.webp")
    assert media.status_code == 200 and not no_store(media)
    assert "max-age=31536000" in media.headers["Cache-Control"]


def test_forms_may_go_to_our_own_hosts_only(client_for, store_a):
    response = client_for(store_a).get("/account/signin")
    sources = form_action(response)
    assert sources == ["'self'", f"http://{PLATFORM}", f"http://*.{PLATFORM}"]
    assert not any("stripe" in s or "midtrans" in s for s in sources)


def test_checkout_pages_may_also_send_the_shopper_to_the_providers_hosted_pages(
    app, client_for, store_a
):
    client = client_for(store_a)
    add(client, variant_of(store_a))
    to_review(client)
    review = client.get("/checkout/review")
    sources = form_action(review)
    assert "'self'" in sources and f"http://*.{PLATFORM}" in sources
    # The origins `place` redirects to for real Stripe and Midtrans (sandbox and production).
    with app.app_context():
        midtrans = [
            _midtrans_base(CheckoutSettings(midtrans_production=live), "snap")
            for live in (True, False)
        ]
    for origin in [STRIPE_CHECKOUT_ORIGIN, *midtrans]:
        assert origin in sources, (origin, sources)


def test_every_answer_has_a_permissions_policy_and_the_rest(client_for, store_a):
    for host, path in [(host_for(store_a), "/"), (PLATFORM, "/"), (PLATFORM, "/missing")]:
        response = client_for(host=host).get(path)
        policy = response.headers["Permissions-Policy"]
        for feature in ("camera=()", "microphone=()", "geolocation=()", "usb=()"):
            assert feature in policy
        assert "publickey-credentials-get=(self)" in policy
        assert "publickey-credentials-create=(self)" in policy
        assert "payment=(self)" in policy
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
