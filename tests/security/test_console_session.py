"""The console's own session (hole 5): the platform-wide session cookie, which every store
subdomain receives, is not enough to use the console. The console cookie is host-only on the
platform host, Path=/console, HttpOnly, SameSite=Strict, issued after a second-factor check
there, bound to the admin, their session token and this session, and short-lived."""

import time
from http.cookies import SimpleCookie

import pyotp
import pytest

from app.accounts.console_session import COOKIE_NAME
from tests.accounts_helpers import (
    TOTP_SECRET,
    enrol_totp,
    mark_recently_confirmed,
    sign_in_with_factor,
    text,
)
from tests.conftest import PLATFORM, sign_in_as
from tests.factories import PASSWORD, make_user

# One backend: the console cookie and its checks (see "Which tests run on both databases" in the README).
pytestmark = pytest.mark.backends("sqlite")


def console_set_cookie(response) -> SimpleCookie | None:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(COOKIE_NAME + "="):
            cookie = SimpleCookie()
            cookie.load(header)
            return cookie
    return None


def two_factor_sign_in(client, user, code: str):
    client.post("/account/signin", data={"email": user.email, "password": PASSWORD})
    return client.post("/account/2fa", data={"code": code})


def codes():
    """Distinct valid codes: this step's, then the next one's (both inside the window)."""
    totp = pyotp.TOTP(TOTP_SECRET)
    return iter([totp.at(time.time()), totp.at(time.time() + 30)])


def test_the_shared_session_cookie_alone_does_not_open_the_console(app, client_for, store_a):
    root = make_user("root@example.com", superuser=True)
    enrol_totp(app, root)
    # The admin signs in (both factors) on a store subdomain: the session cookie is the
    # platform-wide one, the very cookie any store page makes the browser send.
    browser = client_for(store_a)
    answer = two_factor_sign_in(browser, root, next(codes()))
    assert answer.status_code == 303
    assert console_set_cookie(answer) is None  # never issued on a store host
    assert browser.get("/account/").status_code == 200

    browser.host = PLATFORM
    answer = browser.get("/console/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/account/2fa/confirm?next=/console/")
    # And a forged POST riding on that cookie (e.g. from a store page) changes nothing.
    answer = browser.post(f"/console/stores/{store_a.id}/suspend", data={"reason": "x"})
    assert answer.status_code == 303
    assert "/account/2fa/confirm" in answer.headers["Location"]


def test_the_console_cookie_is_host_only_strict_and_scoped_to_the_console(app, client):
    root = make_user("root@example.com", superuser=True)
    enrol_totp(app, root)
    answer = two_factor_sign_in(client, root, next(codes()))
    cookie = console_set_cookie(answer)
    assert cookie is not None
    morsel = cookie[COOKIE_NAME]
    assert morsel["domain"] == ""  # no Domain attribute: host-only
    assert morsel["path"] == "/console"
    assert morsel["httponly"]
    assert morsel["samesite"] == "Strict"
    assert client.get("/console/").status_code == 200


def test_the_console_cookie_is_secure_on_https(app, client):
    app.config["PREFERRED_URL_SCHEME"] = "https"
    root = make_user("root@example.com", superuser=True)
    enrol_totp(app, root)
    answer = two_factor_sign_in(client, root, next(codes()))
    assert console_set_cookie(answer)[COOKIE_NAME]["secure"]


def test_one_admins_console_cookie_does_not_work_for_another(app, client_for):
    alice = make_user("alice@example.com", superuser=True)
    bob = make_user("bob@example.com", superuser=True)
    alices = client_for(None)
    sign_in_with_factor(alices, alice)
    stolen = alices.get_cookie(COOKIE_NAME, domain=PLATFORM, path="/console").value

    bobs = client_for(None)
    sign_in_with_factor(bobs, bob)
    bobs.set_cookie(COOKIE_NAME, stolen, domain=PLATFORM, path="/console")
    answer = bobs.get("/console/")
    assert answer.status_code == 302
    assert "/account/2fa/confirm" in answer.headers["Location"]


def test_the_console_cookie_dies_with_a_sign_out(app, client):
    root = make_user("root@example.com", superuser=True)
    enrol_totp(app, root)
    fresh = codes()
    two_factor_sign_in(client, root, next(fresh))
    old = client.get_cookie(COOKIE_NAME, domain=PLATFORM, path="/console").value
    assert client.get("/console/").status_code == 200

    client.post("/account/signout")
    two_factor_sign_in(client, root, next(fresh))  # signed in again: a new session
    client.set_cookie(COOKIE_NAME, old, domain=PLATFORM, path="/console")
    assert client.get("/console/").status_code == 302


def test_a_sign_out_everywhere_ends_the_console_session(app, client):
    root = make_user("root@example.com", superuser=True)
    sign_in_with_factor(client, root)
    assert client.get("/console/").status_code == 200
    client.post("/account/signout-everywhere")
    assert client.get("/console/").status_code == 302


def test_the_console_cookie_expires_when_idle(app, client):
    app.config["STEP_UP_MAX_AGE"] = 1
    root = make_user("root@example.com", superuser=True)
    sign_in_with_factor(client, root)
    assert client.get("/console/").status_code == 200
    time.sleep(2.1)
    answer = client.get("/console/")
    assert answer.status_code == 302
    assert "/account/2fa/confirm" in answer.headers["Location"]


def test_the_console_confirms_the_factor_and_then_opens(app, client):
    root = make_user("root@example.com", superuser=True)
    enrol_totp(app, root)
    sign_in_as(client, root)  # signed in, but no console cookie
    answer = client.get("/console/users/")
    confirm = answer.headers["Location"]
    assert text(client.get(confirm)).count("Confirm it") >= 1
    answer = client.post(confirm, data={"code": next(codes()), "next": "/console/users/"})
    assert answer.status_code == 303
    assert console_set_cookie(answer) is not None
    assert client.get("/console/users/").status_code == 200


def test_an_admin_without_a_second_factor_is_sent_to_enrol(app, client, client_for, store_a):
    root = make_user("root@example.com", superuser=True)
    sign_in_as(client, root)
    mark_recently_confirmed(client, root)  # as a password sign-in does
    answer = client.get("/console/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/account/security/totp?next=/console/")
    page = client.get(answer.headers["Location"])
    assert "Platform admins must use two-factor sign-in" in text(page)
    # Support access to a store's dashboard needs one too.
    shop = client_for(store_a)
    sign_in_as(shop, root)
    assert shop.get("/admin/").status_code == 302


def test_non_admins_still_get_404_from_the_console(app, client):
    user = make_user("someone@example.com")
    sign_in_with_factor(client, user)
    assert client.get("/console/").status_code == 404
