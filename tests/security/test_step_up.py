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
from tests.accounts_helpers import TOTP_SECRET, enrol_totp, sign_in_with_factor, text
from tests.conftest import sign_in_as
from tests.factories import add_member, make_user


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


def test_a_store_that_requires_two_factor_sends_members_without_one_to_enrol(
    app, client_for, store_a
):
    owner_user = owner_of(app, store_a)
    owner = client_for(store_a)
    sign_in_as(owner, owner_user)
    # The owner can't require it before having a second factor of their own.
    owner.post("/admin/staff/two-factor", data={"required": "y"})
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
