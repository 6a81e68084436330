"""Lost second factor: a platform admin resets another user's two-factor sign-in from the
console. Everything goes (app, passkeys, recovery codes), every session of the user ends, the
user is emailed, and the admin's reason is audited; the admin must have confirmed their own
factor recently, and can't reset their own."""

import time

import pytest
from sqlalchemy import func, select

from app.accounts.factor_models import Passkey, RecoveryCode, TotpFactor
from app.accounts.twofactor import regenerate_recovery_codes
from app.audit.models import AuditLog
from app.extensions import db
from tests.accounts_helpers import emails_to, enrol_totp, sign_in_with_factor, text
from tests.conftest import sign_in_as
from tests.factories import make_user

SECURITY_MAIL = "Your Pasar sign-in security changed"


def factors_of(app, user) -> int:
    with app.app_context():
        return sum(
            db.session.scalar(
                select(func.count()).select_from(model).where(model.user_id == user.id)
            )
            for model in (TotpFactor, Passkey, RecoveryCode)
        )


def give_every_factor(app, user) -> None:
    from app.accounts.models import User

    enrol_totp(app, user)
    with app.test_request_context():
        db.session.add(
            Passkey(user_id=user.id, credential_id=b"lost" * 4, public_key=b"k", name="Lost phone")
        )
        db.session.commit()
        regenerate_recovery_codes(db.session.get(User, user.id), notify=False)


@pytest.fixture
def lost(app, client_for):
    """A user who lost their phone, still signed in on a browser someone else now holds."""
    user = make_user("lost@example.com")
    give_every_factor(app, user)
    browser = client_for(None)
    sign_in_with_factor(browser, user)
    assert browser.get("/account/").status_code == 200
    return user, browser


@pytest.fixture
def admin(client):
    root = make_user("root@example.com", superuser=True)
    sign_in_with_factor(client, root)
    return root, client


def reset(client, user, reason: str = "Lost phone; confirmed by video call"):
    return client.post(f"/console/users/{user.id}/reset-two-factor", data={"reason": reason})


def test_an_admin_resets_a_lost_second_factor(app, admin, lost):
    root, console = admin
    user, browser = lost
    assert factors_of(app, user) == 12  # an app, a passkey and ten recovery codes
    page = console.get(f"/console/users/{user.id}")
    assert "Reset two-factor sign-in" in text(page)

    answer = reset(console, user)
    assert answer.status_code == 303
    assert factors_of(app, user) == 0
    assert browser.get("/account/").status_code == 302  # every session of theirs ended
    assert SECURITY_MAIL in [m.subject for m in emails_to(app, user.email)]
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "2fa.reset"))
        assert entry.actor_id == root.id and entry.target_id == str(user.id)
        assert entry.details["reason"] == "Lost phone; confirmed by video call"
    # The user signs in with the password alone now, and can enrol again.
    answer = browser.post(
        "/account/signin", data={"email": user.email, "password": "correct-horse-battery"}
    )
    assert answer.status_code == 303 and "/account/2fa" not in answer.headers["Location"]


def test_a_reason_is_required(app, admin, lost):
    _, console = admin
    user, browser = lost
    answer = reset(console, user, reason="   ")
    assert answer.status_code == 303
    assert factors_of(app, user) == 12
    assert browser.get("/account/").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "2fa.reset")) is None


def test_an_admin_cannot_reset_their_own(app, admin):
    root, console = admin
    before = factors_of(app, root)
    assert before > 0
    reset(console, root)
    assert factors_of(app, root) == before
    assert "Reset two-factor sign-in" not in text(console.get(f"/console/users/{root.id}"))


def test_the_admin_must_have_confirmed_their_factor_recently(app, admin, lost):
    _, console = admin
    user, _ = lost
    with console.session_transaction() as sess:
        sess["2fa_at"] = {**sess["2fa_at"], "at": int(time.time()) - 16 * 60}
    answer = reset(console, user)
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/account/2fa/confirm?next=")
    assert factors_of(app, user) == 12


@pytest.mark.parametrize("kind", ["member", "self-service"])
def test_anyone_but_a_platform_admin_gets_404(app, client, lost, kind):
    user, browser = lost
    if kind == "member":
        other = make_user("other@example.com")
        sign_in_with_factor(client, other)
        answer = reset(client, user)
    else:
        sign_in_as(browser, user)
        answer = reset(browser, user)
    assert answer.status_code == 404
    assert factors_of(app, user) == 12


def test_an_account_without_a_second_factor_is_left_alone(app, admin):
    _, console = admin
    plain = make_user("plain@example.com")
    reset(console, plain)
    assert emails_to(app, plain.email) == []
    with app.app_context():
        assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "2fa.reset")) is None
