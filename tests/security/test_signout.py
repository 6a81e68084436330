"""Signing out ends the session on the server: a copied session cookie or remember-me cookie
(from a shared computer, a leaked log, malware) is dead once its owner signs out."""

import re

from sqlalchemy import select

from app.accounts.models import UserSession
from app.extensions import db
from tests.accounts_helpers import text
from tests.conftest import PLATFORM
from tests.factories import PASSWORD, make_user

EMAIL = "sam@example.com"
NEW_PASSWORD = "a-brand-new-passphrase"


def sign_in(client, *, remember=False, agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0"):
    data = {"email": EMAIL, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/account/signin", data=data, headers={"User-Agent": agent})
    assert response.status_code == 303
    return response


def signed_in(client) -> bool:
    return client.get("/account/").status_code == 200


def cookie(client, name: str) -> str | None:
    found = client.get_cookie(name, domain=PLATFORM)
    return found.value if found is not None else None


def browser_with(client_for, **cookies):
    """A fresh browser holding copies of someone else's cookies."""
    client = client_for()
    for name, value in cookies.items():
        client.set_cookie(name, value, domain=PLATFORM, origin_only=False)
    return client


def test_a_copied_session_cookie_dies_when_its_owner_signs_out(client_for):
    make_user(EMAIL)
    owner = client_for()
    sign_in(owner)
    thief = browser_with(client_for, session=cookie(owner, "session"))
    assert signed_in(thief)
    elsewhere = client_for()
    sign_in(elsewhere)

    assert owner.post("/account/signout").status_code == 303
    assert not signed_in(owner)
    assert not signed_in(thief)
    assert signed_in(elsewhere)  # signing out here ends this browser's session only


def test_sign_out_deletes_the_remember_cookie_and_kills_copies_of_it(client_for):
    make_user(EMAIL)
    owner = client_for()
    sign_in(owner, remember=True)
    remember = cookie(owner, "remember_token")
    assert remember
    # The remember cookie alone signs a browser in (that is what it is for).
    assert signed_in(browser_with(client_for, remember_token=remember))
    thief = browser_with(client_for, remember_token=remember)
    assert signed_in(thief)  # the thief now also holds a session cookie made from it

    response = owner.post("/account/signout")
    cleared = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert cleared and re.search(r"Expires=Thu, 01 Jan 1970|Max-Age=0", cleared[0])
    assert cookie(owner, "remember_token") is None
    assert not signed_in(owner)
    assert not signed_in(browser_with(client_for, remember_token=remember))
    assert not signed_in(thief)


def test_a_copied_remember_cookie_dies_with_sign_out_even_if_the_session_was_separate(client_for):
    """The thief copies both cookies; the owner signs out in a session restored from the
    remember cookie (a restarted browser). Both copies die."""
    make_user(EMAIL)
    owner = client_for()
    sign_in(owner, remember=True)
    stolen = {
        "remember_token": cookie(owner, "remember_token"),
        "session": cookie(owner, "session"),
    }
    owner.delete_cookie("session", domain=PLATFORM)  # the browser restarts
    assert signed_in(owner)
    owner.post("/account/signout")
    assert not signed_in(browser_with(client_for, **stolen))
    assert not signed_in(browser_with(client_for, remember_token=stolen["remember_token"]))


def test_the_sessions_list_shows_each_browser_and_signs_one_out(app, client_for):
    make_user(EMAIL)
    laptop = client_for()
    sign_in(laptop, agent="Mozilla/5.0 (Windows NT 10.0) Chrome/126.0 Safari/537.36")
    phone = client_for()
    sign_in(phone, remember=True, agent="Mozilla/5.0 (Android 14) Firefox/126.0")
    phone_remember = cookie(phone, "remember_token")

    page = text(laptop.get("/account/"))
    assert "Where you're signed in" in page
    assert "Chrome on Windows" in page and "Firefox on Android" in page
    with app.app_context():
        phone_row = db.session.scalar(
            select(UserSession).where(UserSession.user_agent.contains("Android"))
        )
    assert f"/account/sessions/{phone_row.id}/revoke" in page

    assert laptop.post(f"/account/sessions/{phone_row.id}/revoke").status_code == 303
    assert not signed_in(phone)
    assert not signed_in(browser_with(client_for, remember_token=phone_remember))
    assert signed_in(laptop)
    assert "Firefox on Android" not in text(laptop.get("/account/"))

    # Another account's session can't be signed out from here.
    make_user("other@example.com")
    other = client_for()
    other.post("/account/signin", data={"email": "other@example.com", "password": PASSWORD})
    with app.app_context():
        other_row = db.session.scalar(
            select(UserSession)
            .where(UserSession.revoked_at.is_(None))
            .order_by(UserSession.id.desc())
        )
    assert laptop.post(f"/account/sessions/{other_row.id}/revoke").status_code == 404
    assert signed_in(other)


def test_password_change_and_sign_out_everywhere_end_remembered_sessions(client_for):
    make_user(EMAIL)
    desk = client_for()
    sign_in(desk)
    tablet = client_for()
    sign_in(tablet, remember=True)
    tablet_remember = cookie(tablet, "remember_token")
    changed = desk.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 303
    assert signed_in(desk)
    assert not signed_in(tablet)
    assert not signed_in(browser_with(client_for, remember_token=tablet_remember))
    page = text(desk.get("/account/"))
    assert page.count("/revoke") == 1  # only this browser is left in the list

    desk.post("/account/signout-everywhere")
    assert not signed_in(desk)
