"""Staff: invitations by emailed link, removing members and transferring ownership."""

import re
import time
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from app.accounts import invites
from app.accounts.models import Membership, StoreInvite, User
from app.audit.models import AuditLog
from app.database import utcnow
from app.extensions import db
from tenants.models import Store
from tests.accounts_helpers import (
    code_in,
    emails_to,
    last_email,
    mark_recently_confirmed,
    sign_in_with_factor,
    text,
)
from tests.conftest import BACKENDS, PLATFORM, sign_in_as
from tests.factories import PASSWORD, add_member, make_user

pytestmark = pytest.mark.backends("sqlite")  # emails, links, messages, refusals: HTTP, not SQL


def _owner(app, store) -> User:
    with app.app_context():
        user = db.session.scalar(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.store_id == store.id, Membership.role == "owner")
        )
        db.session.expunge(user)
        return user


def _owner_client(app, client_for, store):
    client = client_for(store)
    owner = _owner(app, store)
    sign_in_as(client, owner)
    mark_recently_confirmed(client, owner)  # staff changes ask for it (tests/security/test_step_up)
    return client


def _invite(client, email: str, role: str = "staff"):
    return client.post("/admin/staff/invites", data={"email": email, "role": role})


def _link_path(app, email: str) -> str:
    """The path of the invite link in the newest email to `email`."""
    mail = last_email(app, email)
    assert mail.template == "staff_invite"
    match = re.search(r"https?://(\S+?)(/admin/join/\S+)", mail.text_body)
    assert match, mail.text_body
    return match.group(2)


def _membership(app, store, email: str) -> Membership | None:
    with app.app_context():
        membership = db.session.scalar(
            select(Membership)
            .join(User, User.id == Membership.user_id)
            .where(Membership.store_id == store.id, User.email == email)
        )
        if membership is not None:
            db.session.expunge(membership)
        return membership


def _actions(app, store) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditLog.action).where(AuditLog.store_id == store.id).order_by(AuditLog.id)
            )
        )


def _invite_rows(app, store) -> list[StoreInvite]:
    with app.app_context():
        rows = db.session.scalars(
            select(StoreInvite).where(StoreInvite.store_id == store.id).order_by(StoreInvite.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


# Inviting


def test_invite_queues_an_email_with_a_signed_link_on_the_store_host(app, client_for, store_a):
    client = _owner_client(app, client_for, store_a)
    response = _invite(client, " New.Hire@Example.com ", "manager")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/staff"
    mail = last_email(app, "new.hire@example.com")
    assert mail.template == "staff_invite" and mail.store_id == store_a.id
    assert "Alpha Goods" in mail.subject and "as manager" in mail.text_body
    assert f"http://alpha.{PLATFORM}/admin/join/" in mail.text_body
    assert (
        "7 days" in mail.text_body and mail.html_body and "Accept the invitation" in mail.html_body
    )
    (invite,) = _invite_rows(app, store_a)
    assert invite.email == "new.hire@example.com" and invite.role == "manager"
    assert timedelta(days=6, hours=23) < invite.expires_at - invite.created_at <= timedelta(days=7)
    page = client.get("/admin/staff")
    assert page.status_code == 200
    assert "new.hire@example.com" in text(page) and f'id="invite-{invite.id}"' in text(page)
    assert _actions(app, store_a)[-1] == "staff.invited"


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"email": "not-an-email", "role": "staff"}, 422, "isn't valid"),
        ({"email": "", "role": "staff"}, 422, "Enter the email address"),
        ({"email": "x@example.com", "role": "owner"}, 422, "Choose manager or staff"),
        ({"email": "x@example.com", "role": "emperor"}, 422, "Choose manager or staff"),
    ],
)
def test_bad_invites_get_a_clear_message_and_change_nothing(
    app, client_for, store_a, data, status, message
):
    client = _owner_client(app, client_for, store_a)
    response = client.post("/admin/staff/invites", data=data)
    assert response.status_code == status
    assert message in text(response)
    assert _invite_rows(app, store_a) == []


def test_inviting_an_existing_member_says_so(app, client_for, store_a):
    add_member(store_a, make_user("member@example.com"), "staff")
    client = _owner_client(app, client_for, store_a)
    response = _invite(client, "MEMBER@example.com", "manager")
    assert response.status_code == 409
    assert "member@example.com is already a member of this store (staff)" in text(response)
    owner = _invite(client, "owner@alpha.example.com")
    assert owner.status_code == 409 and "(owner)" in text(owner)
    assert _invite_rows(app, store_a) == [] and emails_to(app, "member@example.com") == []


@pytest.mark.backends(*BACKENDS)  # pending invites: expiry compared in SQL
def test_inviting_again_replaces_the_pending_invite(app, client_for, store_a):
    client = _owner_client(app, client_for, store_a)
    _invite(client, "twice@example.com", "staff")
    first = _link_path(app, "twice@example.com")
    response = _invite(client, "twice@example.com", "manager")
    assert response.status_code == 303
    second = _link_path(app, "twice@example.com")
    old, new = _invite_rows(app, store_a)
    assert old.revoked_at is not None and new.revoked_at is None and new.role == "manager"
    invitee = client_for(store_a)
    sign_in_as(invitee, make_user("twice@example.com"))
    assert invitee.get(first).status_code == 410
    assert invitee.post(second).status_code == 303
    assert _membership(app, store_a, "twice@example.com").role == "manager"


# Accepting


def test_a_new_user_registers_by_code_and_comes_back_to_accept(app, client_for, store_a):
    _invite(_owner_client(app, client_for, store_a), "fresh@example.com")
    path = _link_path(app, "fresh@example.com")
    visitor = client_for(store_a)
    landing = visitor.get(path)
    assert landing.status_code == 200
    body = text(landing)
    assert "Join Alpha Goods" in body and "fresh@example.com" in body
    assert f"/account/signin/code?next={path}" in body
    assert visitor.post(path).headers["Location"].startswith("/account/signin?next=")

    # The code sign-in creates the account and keeps `next` through the flow.
    response = visitor.post(
        "/account/signin/code", data={"email": "fresh@example.com", "next": path}
    )
    assert response.status_code == 303
    code = code_in(last_email(app, "fresh@example.com").text_body)
    response = visitor.post("/account/signin/code/verify", data={"code": code})
    assert response.status_code == 303 and response.headers["Location"] == path
    page = visitor.get(path)
    assert page.status_code == 200 and "Join Alpha Goods as staff" in text(page)
    assert _membership(app, store_a, "fresh@example.com") is None  # a GET changes nothing
    joined = visitor.post(path)
    assert joined.status_code == 303 and joined.headers["Location"] == "/admin/"
    assert _membership(app, store_a, "fresh@example.com").role == "staff"
    assert visitor.get("/admin/").status_code == 200
    assert _actions(app, store_a)[-1] == "staff.joined"
    (invite,) = _invite_rows(app, store_a)
    assert invite.accepted_at is not None and invite.accepted_by_id is not None


def test_a_user_who_registers_with_a_password_opens_the_link_again(app, client_for, store_a):
    _invite(_owner_client(app, client_for, store_a), "pat@example.com", "manager")
    path = _link_path(app, "pat@example.com")
    visitor = client_for(store_a)
    response = visitor.post(
        "/account/register",
        data={"email": "pat@example.com", "password": PASSWORD, "name": "Pat"},
    )
    assert response.status_code == 303
    code = code_in(last_email(app, "pat@example.com").text_body)
    assert visitor.post("/account/verify", data={"code": code}).status_code == 303
    assert visitor.post(path).status_code == 303
    assert _membership(app, store_a, "pat@example.com").role == "manager"


def test_an_existing_user_signs_in_with_next_and_accepts(app, client_for, store_a):
    make_user("known@example.com")
    _invite(_owner_client(app, client_for, store_a), "known@example.com")
    path = _link_path(app, "known@example.com")
    visitor = client_for(store_a)
    response = visitor.post(
        "/account/signin", data={"email": "known@example.com", "password": PASSWORD, "next": path}
    )
    assert response.status_code == 303 and response.headers["Location"] == path
    assert visitor.post(path).status_code == 303
    assert _membership(app, store_a, "known@example.com").role == "staff"


def test_accepting_verifies_an_unverified_account(app, client_for, store_a):
    user = make_user("unverified@example.com", verified=False)
    _invite(_owner_client(app, client_for, store_a), "unverified@example.com")
    visitor = client_for(store_a)
    sign_in_as(visitor, user)
    assert visitor.post(_link_path(app, "unverified@example.com")).status_code == 303
    with app.app_context():
        assert db.session.get(User, user.id).is_verified


@pytest.mark.backends(*BACKENDS)  # a conditional UPDATE claims the invite once
def test_an_invite_link_works_once(app, client_for, store_a):
    _invite(_owner_client(app, client_for, store_a), "once@example.com")
    path = _link_path(app, "once@example.com")
    visitor = client_for(store_a)
    sign_in_as(visitor, make_user("once@example.com"))
    assert visitor.post(path).status_code == 303
    again = visitor.post(path)
    assert again.status_code == 410 and "already been used" in text(again)
    assert visitor.get(path).status_code == 410
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(Membership).where(Membership.store_id == store_a.id)
        )
    assert count == 2  # the owner and the invitee, once


def test_a_used_link_cannot_be_reused_by_someone_else(app, client_for, store_a):
    _invite(_owner_client(app, client_for, store_a), "first@example.com")
    path = _link_path(app, "first@example.com")
    first = client_for(store_a)
    sign_in_as(first, make_user("first@example.com"))
    assert first.post(path).status_code == 303
    other = client_for(store_a)
    sign_in_as(other, make_user("other@example.com"))
    assert other.post(path).status_code == 410
    assert _membership(app, store_a, "other@example.com") is None


@pytest.mark.backends(*BACKENDS)  # a stored expiry time
def test_an_expired_invite_is_refused_and_changes_nothing(app, client_for, store_a):
    _invite(_owner_client(app, client_for, store_a), "late@example.com")
    path = _link_path(app, "late@example.com")
    (invite,) = _invite_rows(app, store_a)
    visitor = client_for(store_a)
    sign_in_as(visitor, make_user("late@example.com"))

    # A token signed eight days ago: itsdangerous refuses it even though the row looks fresh.
    class EightDaysAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 8 * 24 * 3600

    old = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt=invites.TOKEN_SALT, signer=EightDaysAgo
    ).dumps({"i": invite.id, "s": store_a.id})
    response = visitor.post(f"/admin/join/{old}")
    assert response.status_code == 410 and "expired" in text(response)

    # The row's own expiry counts too (the link in the email is fresh).
    with app.app_context():
        db.session.get(StoreInvite, invite.id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    for method in ("get", "post"):
        response = getattr(visitor, method)(path)
        assert response.status_code == 410 and "7 days" in text(response)
    assert _membership(app, store_a, "late@example.com") is None
    assert _invite_rows(app, store_a)[0].accepted_at is None


@pytest.mark.parametrize("mangle", ["tamper", "truncate", "junk", "forged"])
def test_a_tampered_link_is_404(app, client_for, store_a, mangle):
    _invite(_owner_client(app, client_for, store_a), "t@example.com")
    path = _link_path(app, "t@example.com")
    (invite,) = _invite_rows(app, store_a)
    token = path.rsplit("/", 1)[1]
    bad = {
        "tamper": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "truncate": token[: len(token) // 2],
        "junk": "not-a-token",
        "forged": URLSafeTimedSerializer("guessed-secret", salt=invites.TOKEN_SALT).dumps(
            {"i": invite.id, "s": store_a.id}
        ),
    }[mangle]
    visitor = client_for(store_a)
    sign_in_as(visitor, make_user("t@example.com"))
    assert visitor.get(f"/admin/join/{bad}").status_code == 404
    assert visitor.post(f"/admin/join/{bad}").status_code == 404
    assert _membership(app, store_a, "t@example.com") is None


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_another_stores_invite_on_this_host_is_404(app, client_for, store_a, store_b):
    _invite(_owner_client(app, client_for, store_b), "b-hire@example.com")
    path = _link_path(app, "b-hire@example.com")
    visitor = client_for(store_a)
    sign_in_as(visitor, make_user("b-hire@example.com"))
    assert visitor.get(path).status_code == 404
    assert visitor.post(path).status_code == 404
    assert _membership(app, store_a, "b-hire@example.com") is None
    assert _membership(app, store_b, "b-hire@example.com") is None
    assert client_for(None).get(path).status_code == 404  # nor on the platform host
    # On its own store's host the same link works.
    home = client_for(store_b)
    sign_in_as(home, make_user("b-hire2@example.com"))
    assert home.get(path).status_code == 403


def test_a_different_signed_in_user_gets_a_clear_message(app, client_for, store_a):
    _invite(_owner_client(app, client_for, store_a), "right@example.com")
    path = _link_path(app, "right@example.com")
    visitor = client_for(store_a)
    sign_in_as(visitor, make_user("wrong@example.com"))
    for response in (visitor.get(path), visitor.post(path)):
        assert response.status_code == 403
        body = text(response)
        assert "This invitation is for right@example.com" in body
        assert "signed in as wrong@example.com" in body and "Sign out of wrong@example.com" in body
    assert _membership(app, store_a, "wrong@example.com") is None
    assert _invite_rows(app, store_a)[0].accepted_at is None


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_a_revoked_invite_stops_working(app, client_for, store_a):
    owner = _owner_client(app, client_for, store_a)
    _invite(owner, "gone@example.com")
    path = _link_path(app, "gone@example.com")
    (invite,) = _invite_rows(app, store_a)
    response = owner.post(f"/admin/staff/invites/{invite.id}/revoke")
    assert response.status_code == 303
    assert f'id="invite-{invite.id}"' not in text(owner.get("/admin/staff"))
    again = owner.post(f"/admin/staff/invites/{invite.id}/revoke")
    assert again.status_code == 409
    visitor = client_for(store_a)
    sign_in_as(visitor, make_user("gone@example.com"))
    response = visitor.post(path)
    assert response.status_code == 410 and "withdrawn" in text(response)
    assert _membership(app, store_a, "gone@example.com") is None
    assert "staff.invite_revoked" in _actions(app, store_a)


def test_revoking_by_htmx_answers_an_empty_row(app, client_for, store_a):
    owner = _owner_client(app, client_for, store_a)
    _invite(owner, "hx@example.com")
    (invite,) = _invite_rows(app, store_a)
    response = owner.post(
        f"/admin/staff/invites/{invite.id}/revoke", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response.get_data() == b""


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_another_stores_invite_id_is_404_to_revoke(app, client_for, store_a, store_b):
    _invite(_owner_client(app, client_for, store_b), "b@example.com")
    (invite,) = _invite_rows(app, store_b)
    response = _owner_client(app, client_for, store_a).post(
        f"/admin/staff/invites/{invite.id}/revoke"
    )
    assert response.status_code == 404
    assert _invite_rows(app, store_b)[0].revoked_at is None


@pytest.mark.parametrize("role", ["staff", "manager"])
def test_staff_and_managers_cannot_invite(app, client_for, store_a, role):
    user = make_user(f"{role}@example.com")
    add_member(store_a, user, role)
    client = client_for(store_a)
    sign_in_as(client, user)
    assert _invite(client, "friend@example.com").status_code == 403
    assert _invite_rows(app, store_a) == [] and emails_to(app, "friend@example.com") == []


# Removing and transferring


def test_owner_removes_a_member_who_loses_access(app, client_for, store_a):
    user = make_user("leaver@example.com")
    membership = add_member(store_a, user, "manager")
    member_client = client_for(store_a)
    sign_in_as(member_client, user)
    assert member_client.get("/admin/").status_code == 200
    owner = _owner_client(app, client_for, store_a)
    response = owner.post(f"/admin/staff/{membership.id}/remove")
    assert response.status_code == 303
    assert _membership(app, store_a, "leaver@example.com") is None
    assert member_client.get("/admin/").status_code == 404
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "staff.removed"))
        assert entry.details["email"] == "leaver@example.com" and entry.details["role"] == "manager"


def test_the_owner_cannot_be_removed_or_demoted(app, client_for, store_a):
    superuser = make_user("root@example.com", superuser=True)
    owner_membership = _membership(app, store_a, "owner@alpha.example.com")
    for client in (_owner_client(app, client_for, store_a), client_for(store_a)):
        if client.get("/admin/staff").status_code != 200:
            sign_in_with_factor(client, superuser)
        removed = client.post(f"/admin/staff/{owner_membership.id}/remove")
        assert removed.status_code == 422 and "Transfer ownership" in text(removed)
        demoted = client.post(f"/admin/staff/{owner_membership.id}/role", data={"role": "staff"})
        assert demoted.status_code == 422
    assert _membership(app, store_a, "owner@alpha.example.com").role == "owner"


@pytest.mark.backends(*BACKENDS)  # another store's rows
def test_removing_another_stores_member_is_404(app, client_for, store_a, store_b):
    outsider = add_member(store_b, make_user("b-staff@example.com"), "staff")
    response = _owner_client(app, client_for, store_a).post(f"/admin/staff/{outsider.id}/remove")
    assert response.status_code == 404
    assert _membership(app, store_b, "b-staff@example.com") is not None


@pytest.mark.backends(*BACKENDS)  # a lock (FOR UPDATE)
def test_owner_transfers_ownership_and_becomes_manager(app, client_for, store_a):
    heir = make_user("heir@example.com")
    heir_membership = add_member(store_a, heir, "staff")
    old_owner = _owner(app, store_a)
    owner = _owner_client(app, client_for, store_a)
    response = owner.post("/admin/staff/transfer", data={"membership_id": heir_membership.id})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    assert _membership(app, store_a, "heir@example.com").role == "owner"
    assert _membership(app, store_a, "owner@alpha.example.com").role == "manager"
    assert owner.get("/admin/staff").status_code == 403  # a manager now
    with app.app_context():
        entry = db.session.scalar(
            select(AuditLog).where(AuditLog.action == "store.ownership_transferred")
        )
        assert entry.details["to_email"] == "heir@example.com"
        assert entry.actor_id == old_owner.id and entry.details["from_user_id"] == old_owner.id
    # The new owner can manage staff, and the old owner can now be removed.
    new_owner = client_for(store_a)
    sign_in_as(new_owner, heir)
    mark_recently_confirmed(new_owner, heir)
    old = _membership(app, store_a, "owner@alpha.example.com")
    assert new_owner.post(f"/admin/staff/{old.id}/remove").status_code == 303


@pytest.mark.parametrize("who", ["superuser", "manager"])
def test_only_the_owner_can_transfer(app, client_for, store_a, who):
    heir = add_member(store_a, make_user("heir@example.com"), "staff")
    if who == "superuser":
        actor = make_user("root@example.com", superuser=True)
    else:
        actor = make_user("boss@example.com")
        add_member(store_a, actor, "manager")
    client = client_for(store_a)
    (sign_in_with_factor if who == "superuser" else sign_in_as)(client, actor)
    response = client.post("/admin/staff/transfer", data={"membership_id": heir.id})
    assert response.status_code == 403
    assert _membership(app, store_a, "heir@example.com").role == "staff"
    assert _membership(app, store_a, "owner@alpha.example.com").role == "owner"


@pytest.mark.backends(*BACKENDS)  # another store's member among the targets
@pytest.mark.parametrize("target", ["self", "other_store", "missing", "junk", "unverified"])
def test_transfer_to_a_bad_target_is_refused(app, client_for, store_a, store_b, target):
    owner_membership = _membership(app, store_a, "owner@alpha.example.com")
    membership_id = {
        "self": lambda: owner_membership.id,
        "other_store": lambda: add_member(store_b, make_user("b@example.com"), "staff").id,
        "missing": lambda: 999999,
        "junk": lambda: "abc",
        "unverified": lambda: (
            add_member(store_a, make_user("u@example.com", verified=False), "staff").id
        ),
    }[target]()
    owner = _owner_client(app, client_for, store_a)
    response = owner.post("/admin/staff/transfer", data={"membership_id": membership_id})
    assert response.status_code == 422
    assert _membership(app, store_a, "owner@alpha.example.com").role == "owner"
    assert "store.ownership_transferred" not in _actions(app, store_a)


def test_staff_page_shows_pending_invites_and_owner_only_transfer(app, client_for, store_a):
    add_member(store_a, make_user("m@example.com"), "manager")
    owner = _owner_client(app, client_for, store_a)
    _invite(owner, "pending@example.com")
    page = text(owner.get("/admin/staff"))
    assert "Pending invitations" in page and "pending@example.com" in page
    assert "Transfer ownership" in page and "m@example.com (manager)" in page
    superuser = client_for(store_a)
    sign_in_with_factor(superuser, make_user("root@example.com", superuser=True))
    page = superuser.get("/admin/staff")
    assert page.status_code == 200
    assert 'id="transfer"' not in text(page)


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_invite_expiry_is_shown_in_the_stores_time_zone(app, client_for, store_a):
    """Issue 16 bug 8: the staff page, the join page and the email gave the expiry in UTC."""
    with app.app_context():
        db.session.get(Store, store_a.id).timezone = "Asia/Tokyo"  # UTC+9, no summer time
        db.session.commit()
    owner = _owner_client(app, client_for, store_a)
    _invite(owner, "tz@example.com")
    (invite,) = _invite_rows(app, store_a)
    local = invite.expires_at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%d %b %Y, %H:%M")
    in_utc = invite.expires_at.astimezone(UTC).strftime("%H:%M")
    page = text(owner.get("/admin/staff"))
    assert f">{local}</time>" in page and "UTC" not in page.split(f'id="invite-{invite.id}"')[1]
    mail = last_email(app, "tz@example.com")
    assert f"on {local} (Asia/Tokyo time)" in mail.text_body and in_utc not in mail.text_body
    assert f"on {local} (Asia/Tokyo time)" in mail.html_body
    newcomer = client_for(store_a)
    sign_in_as(newcomer, make_user("tz@example.com"))
    join = text(newcomer.get(_link_path(app, "tz@example.com")))
    assert f"The invitation expires {local} and works once." in join
