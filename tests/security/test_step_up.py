"""Step-up: staff and ownership changes, provider keys and payout changes ask for the second
factor again once the last check is older than STEP_UP_MAX_AGE; a store can require a second
factor of its members. A stolen session cookie alone (no factor) can't make those changes."""

import time

import pyotp
import pytest
from sqlalchemy import func, select

from app.accounts.models import Membership, StoreInvite, User
from app.audit.models import AuditLog
from app.extensions import db
from app.payouts.models import Payout
from tenants.models import Store
from tests.accounts_helpers import (
    TOTP_SECRET,
    enrol_totp,
    mark_recently_confirmed,
    sign_in_with_factor,
    text,
)
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import PASSWORD, add_member, make_user

# One backend: when the second factor is asked for again (see "Which tests run on both databases" in the README).
pytestmark = pytest.mark.backends("sqlite")


def owner_of(app, store) -> User:
    with app.app_context():
        user = db.session.scalar(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.store_id == store.id, Membership.role == "owner")
        )
        db.session.expunge(user)
        return user


def age_the_factor_check(client, seconds: int = 16 * 60) -> None:
    """Make the session's last factor check `seconds` old (as if the owner went for lunch)."""
    with client.session_transaction() as sess:
        sess["2fa_at"] = {**sess["2fa_at"], "at": int(time.time()) - seconds}


def invites_of(app, store) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(StoreInvite).where(StoreInvite.store_id == store.id)
        )


@pytest.fixture
def owner(app, client_for, store_a):
    """Store A's owner, with an authenticator app, signed in with a recent factor check."""
    client = client_for(store_a)
    sign_in_with_factor(client, owner_of(app, store_a))
    return client


STAFF_CHANGES = [
    ("/admin/staff/invites", {"email": "new@example.com", "role": "staff"}),
    ("/admin/staff/{staff}/role", {"role": "manager"}),
    ("/admin/staff/{staff}/remove", None),
    ("/admin/staff/transfer", {"membership_id": "{staff}"}),
    ("/admin/settings/checkout", {"payment_provider": "test", "shipping_flat": "1"}),
]


@pytest.mark.parametrize(("path", "data"), STAFF_CHANGES)
def test_a_stale_factor_check_sends_the_owner_to_confirm_and_changes_nothing(
    app, owner, store_a, path, data
):
    staff = add_member(store_a, make_user("staff@example.com"), "staff")
    path = path.format(staff=staff.id)
    data = {k: v.format(staff=staff.id) for k, v in (data or {}).items()}
    age_the_factor_check(owner)
    with app.app_context():
        audit_before = db.session.scalar(select(func.count()).select_from(AuditLog))

    answer = owner.post(path, data=data, headers={"Referer": f"http://alpha.pasar.test{path}"})
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/account/2fa/confirm?next=")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog)) == audit_before
        assert db.session.get(Membership, staff.id).role == "staff"
    assert invites_of(app, store_a) == 0

    # htmx requests are told where to go instead of swapping a page into a row.
    answer = owner.post(path, data=data, headers={"HX-Request": "true"})
    assert answer.headers["HX-Redirect"].startswith("/account/2fa/confirm?next=")


def test_after_confirming_the_factor_the_change_goes_through(app, owner, store_a):
    age_the_factor_check(owner)
    answer = owner.post("/admin/staff/invites", data={"email": "n@example.com", "role": "staff"})
    confirm = answer.headers["Location"]
    page = owner.get(confirm)
    assert page.status_code == 200
    assert "Confirm it" in text(page)

    code = pyotp.TOTP(TOTP_SECRET).now()
    answer = owner.post(confirm, data={"code": code, "next": "/admin/staff"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/admin/staff"
    answer = owner.post("/admin/staff/invites", data={"email": "n@example.com", "role": "staff"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/admin/staff"
    assert invites_of(app, store_a) == 1


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_the_window_is_configurable(app, owner, store_a):
    app.config["STEP_UP_MAX_AGE"] = 60
    age_the_factor_check(owner, 61)
    assert owner.get("/admin/settings/checkout").status_code == 302
    age_the_factor_check(owner, 30)
    assert owner.get("/admin/settings/checkout").status_code == 200


def test_payout_changes_in_the_console_ask_again(app, client, store_a):
    root = make_user("root@example.com", superuser=True)
    sign_in_with_factor(client, root)
    age_the_factor_check(client)
    answer = client.post(
        f"/console/payouts/{store_a.id}/mark-paid", data={"period": "2026-10", "reference": "x"}
    )
    assert answer.status_code == 303
    assert "/account/2fa/confirm" in answer.headers["Location"]
    answer = client.post(f"/console/stores/{store_a.id}/commission", data={"rate": "1"})
    assert "/account/2fa/confirm" in answer.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payout)) == 0
        assert db.session.get(Store, store_a.id).commission_rate_bps is None


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_a_store_that_requires_two_factor_sends_members_without_one_to_enrol(
    app, client_for, store_a
):
    owner_user = owner_of(app, store_a)
    owner = client_for(store_a)
    sign_in_as(owner, owner_user)
    mark_recently_confirmed(owner, owner_user)  # confirmed with the password just now
    # The owner can't require it before having a second factor of their own.
    assert owner.post("/admin/staff/two-factor", data={"required": "y"}).status_code == 303
    with app.app_context():
        assert not db.session.get(Store, store_a.id).require_two_factor

    sign_in_with_factor(owner, owner_user)
    assert owner.post("/admin/staff/two-factor", data={"required": "y"}).status_code == 303
    with app.app_context():
        assert db.session.get(Store, store_a.id).require_two_factor
        assert db.session.scalar(
            select(AuditLog.actor_id).where(AuditLog.action == "store.two_factor_required")
        ) == (owner_user.id)

    staff_user = make_user("staff@example.com")
    add_member(store_a, staff_user, "staff")
    staff = client_for(store_a)
    sign_in_as(staff, staff_user)
    answer = staff.get("/admin/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/account/security/totp?next=")
    assert "required=1" in answer.headers["Location"]
    # A manager can't switch the requirement off again.
    manager_user = make_user("manager@example.com")
    add_member(store_a, manager_user, "manager")
    enrol_totp(app, manager_user)
    manager = client_for(store_a)
    sign_in_with_factor(manager, manager_user)
    assert manager.post("/admin/staff/two-factor", data={}).status_code == 403

    # Once the staff member has a second factor, the dashboard opens.
    enrol_totp(app, staff_user)
    sign_in_with_factor(staff, staff_user)
    assert staff.get("/admin/").status_code == 200
    # Other stores are not affected.
    assert client_for(None).get("/").status_code == 200


# Accounts without a second factor: the password again (sudo mode), or an emailed code.


@pytest.fixture
def plain_owner(app, client_for, store_a):
    """Store A's owner, without a second factor, signed in a while ago: a stolen cookie."""
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


def checkout_row(app, store):
    from app.checkout.models import CheckoutSettings

    with app.app_context():
        return db.session.scalar(
            select(CheckoutSettings).where(CheckoutSettings.store_id == store.id)
        )


@pytest.mark.parametrize(("path", "data"), STAFF_CHANGES)
def test_an_owner_without_a_second_factor_is_asked_for_the_password(
    app, plain_owner, store_a, path, data
):
    staff = add_member(store_a, make_user("staff@example.com"), "staff")
    path = path.format(staff=staff.id)
    data = {k: v.format(staff=staff.id) for k, v in (data or {}).items()}
    with app.app_context():
        audit_before = db.session.scalar(select(func.count()).select_from(AuditLog))

    answer = plain_owner.post(
        path, data=data, headers={"Referer": f"http://alpha.pasar.test{path}"}
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/account/2fa/confirm?next=")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog)) == audit_before
        assert db.session.get(Membership, staff.id).role == "staff"
    assert invites_of(app, store_a) == 0
    assert checkout_row(app, store_a) is None

    page = plain_owner.get(answer.headers["Location"])
    assert page.status_code == 200
    assert 'type="password"' in text(page) and "Confirm it" in text(page)
    assert "Set up two-factor sign-in" in text(page)

    answer = plain_owner.post(path, data=data, headers={"HX-Request": "true"})
    assert answer.headers["HX-Redirect"].startswith("/account/2fa/confirm?next=")


def test_a_wrong_password_changes_nothing_and_is_throttled_like_sign_in(app, plain_owner, store_a):
    from app.accounts import throttle

    confirm = "/account/2fa/confirm?next=/admin/settings/checkout"
    for _ in range(throttle.FREE_FAILURES - 1):
        answer = plain_owner.post(confirm, data={"password": "guess-guess-guess"})
        assert answer.status_code == 422
        assert "password isn't right" in text(answer)
    answer = plain_owner.post(confirm, data={"password": "guess-guess-guess"})
    assert "Too many wrong passwords" in text(answer)
    # Now even the right password waits: the guesser can't go on at full speed.
    answer = plain_owner.post(confirm, data={"password": PASSWORD})
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    assert plain_owner.get("/admin/settings/checkout").status_code == 302
    # The same counter as the sign-in page: guessing here doesn't buy fresh tries there.
    signin = plain_owner.post(
        "/account/signin", data={"email": "owner@alpha.example.com", "password": PASSWORD}
    )
    assert signin.status_code == 429
    with app.app_context():
        failures = db.session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "reauth.failed")
        )
    assert failures == throttle.FREE_FAILURES
    assert checkout_row(app, store_a) is None


def test_the_right_password_lets_the_change_through_for_the_step_up_window(
    app, plain_owner, store_a
):
    keys = {
        "payment_provider": "stripe",
        "stripe_secret_key": "sk_test_stolen_cookie",
        "stripe_publishable_key": "pk_test_x",
        "shipping_flat": "1",
    }
    answer = plain_owner.post("/admin/settings/checkout", data=keys)
    confirm = answer.headers["Location"]
    answer = plain_owner.post(confirm, data={"password": PASSWORD, "next": "/admin/staff"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/staff"

    answer = plain_owner.post(
        "/admin/staff/invites", data={"email": "n@example.com", "role": "staff"}
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/staff"
    assert invites_of(app, store_a) == 1
    assert plain_owner.get("/admin/settings/checkout").status_code == 200

    # It lasts STEP_UP_MAX_AGE, then the owner is asked again.
    age_the_factor_check(plain_owner, app.config["STEP_UP_MAX_AGE"] + 1)
    answer = plain_owner.post(
        "/admin/staff/invites", data={"email": "m@example.com", "role": "staff"}
    )
    assert answer.headers["Location"].startswith("/account/2fa/confirm?next=")
    assert invites_of(app, store_a) == 1


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_transferring_ownership_asks_for_the_password(app, plain_owner, store_a):
    heir = add_member(store_a, make_user("heir@example.com"), "staff")
    answer = plain_owner.post("/admin/staff/transfer", data={"membership_id": heir.id})
    assert answer.headers["Location"].startswith("/account/2fa/confirm?next=")
    with app.app_context():
        assert db.session.get(Membership, heir.id).role == "staff"
    plain_owner.post(answer.headers["Location"], data={"password": PASSWORD})
    answer = plain_owner.post("/admin/staff/transfer", data={"membership_id": heir.id})
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/"
    with app.app_context():
        assert db.session.get(Membership, heir.id).role == "owner"


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_a_passwordless_owner_confirms_with_an_emailed_code(app, plain_owner, store_a):
    from tests.accounts_helpers import code_in, emails_to, last_email

    owner_user = owner_of(app, store_a)
    with app.app_context():
        db.session.get(User, owner_user.id).password_hash = None  # signed up by emailed code
        db.session.commit()
    answer = plain_owner.post(
        "/admin/staff/invites", data={"email": "n@example.com", "role": "staff"}
    )
    confirm = answer.headers["Location"]
    page = plain_owner.get(confirm)
    assert "Email me a code" in text(page) and 'type="password"' not in text(page)
    assert emails_to(app, owner_user.email) == []  # reading the page sends nothing

    answer = plain_owner.post(confirm, data={"action": "send"})
    assert answer.status_code == 303
    mail = last_email(app, owner_user.email)
    assert mail.subject == "Your Pasar confirmation code"
    code = code_in(mail.text_body)
    # The usual cooldown: asking again at once sends nothing more.
    plain_owner.post(confirm, data={"action": "send"})
    assert len(emails_to(app, owner_user.email)) == 1

    wrong = "000000" if code != "000000" else "111111"
    answer = plain_owner.post(confirm, data={"code": wrong})
    assert answer.status_code == 422 and "isn't right" in text(answer)
    assert invites_of(app, store_a) == 0
    answer = plain_owner.post(confirm, data={"code": code, "next": "/admin/staff"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/staff"
    answer = plain_owner.post(
        "/admin/staff/invites", data={"email": "n@example.com", "role": "staff"}
    )
    assert answer.headers["Location"] == "/admin/staff"
    assert invites_of(app, store_a) == 1
    # The code works once.
    assert plain_owner.post(confirm, data={"code": code}).status_code == 422


def test_signing_in_counts_as_a_recent_confirmation(app, client_for, store_a):
    client = client_for(store_a)
    answer = client.post(
        "/account/signin", data={"email": "owner@alpha.example.com", "password": PASSWORD}
    )
    assert answer.status_code == 303
    assert client.get("/admin/settings/checkout").status_code == 200


# The recent confirmation is bound to the server-side session it was made in.


def test_a_confirmation_does_not_outlive_its_session(app, client_for, store_a):
    owner_user = owner_of(app, store_a)
    first = client_for(store_a)
    first.post("/account/signin", data={"email": owner_user.email, "password": PASSWORD})
    assert first.get("/admin/settings/checkout").status_code == 200
    with first.session_transaction() as sess:
        proof = sess["2fa_at"]

    # Another live session of the same account (a stolen remember-me cookie, say, which
    # makes a session of its own) can't borrow it.
    second = client_for(store_a)
    sign_in_as(second, owner_user)
    with second.session_transaction() as sess:
        sess["2fa_at"] = proof
    assert second.get("/admin/settings/checkout").status_code == 302

    # A plain sign-out (not "everywhere": the account's token stays) ends the row, and with
    # it the proof, even in a copy of the cookie taken before.
    stolen = {c.key: c.value for c in first._cookies.values()}
    first.post("/account/signout")
    thief = client_for(store_a)
    for name, value in stolen.items():
        thief.set_cookie(name, value, domain=thief.host)
    assert thief.get("/admin/settings/checkout").status_code in (302, 401)
    with thief.session_transaction() as sess:
        sess["2fa_at"] = proof
    sign_in_as(thief, owner_user)
    with thief.session_transaction() as sess:
        sess["2fa_at"] = proof
    assert thief.get("/admin/settings/checkout").status_code == 302
