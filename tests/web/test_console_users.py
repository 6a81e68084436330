"""The console's users: search, detail, disabling (sessions end at once), enabling, resending
a verification code; audited; a user that doesn't exist is a 404."""

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.audit.models import AuditLog
from app.extensions import db
from app.notifications.models import EmailMessage
from tests.accounts_helpers import sign_in_with_factor
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import add_member, make_user

pytestmark = pytest.mark.backends("sqlite")  # user pages, disabling, resends: HTTP, not SQL


@pytest.fixture
def root(app):
    return make_user("root@example.com", superuser=True)


@pytest.fixture
def admin(client_for, root):
    client = client_for(None)
    sign_in_with_factor(client, root)
    return client


@pytest.mark.backends(*BACKENDS)  # case-insensitive LIKE search
def test_the_list_searches_by_email_and_name(admin, store_a):
    make_user("kim@example.com", name="Kim Lee")
    make_user("zed@example.com")
    page = admin.get("/console/users/?q=kim")
    assert page.status_code == 200
    assert "kim@example.com" in page.text and "zed@example.com" not in page.text
    assert "kim@example.com" in admin.get("/console/users/?q=LEE").text
    for junk in ("?page=0", "?page=x", "?q=%25" + "y" * 300):
        assert admin.get(f"/console/users/{junk}").status_code == 200
    assert admin.get("/console/users/?q=%25%00").status_code == 400  # control characters


def test_the_detail_shows_stores_and_activity(app, admin, store_a):
    kim = make_user("kim@example.com")
    add_member(store_a, kim, "manager")
    page = admin.get(f"/console/users/{kim.id}")
    assert page.status_code == 200
    assert "Alpha Goods" in page.text and "manager" in page.text


def test_disabling_ends_every_session_at_once_and_enabling_lets_them_back(
    app, admin, client_for, store_a
):
    kim = make_user("kim@example.com")
    theirs = client_for(None)
    sign_in_as(theirs, kim)
    assert theirs.get("/account/").status_code == 200
    assert admin.post(f"/console/users/{kim.id}/disable").status_code == 303
    assert theirs.get("/account/").status_code == 302  # signed out
    with app.app_context():
        assert db.session.get(User, kim.id).disabled_at is not None
    assert "Enable account" in admin.get(f"/console/users/{kim.id}").text
    admin.post(f"/console/users/{kim.id}/enable")
    with app.app_context():
        user = db.session.get(User, kim.id)
        assert user.disabled_at is None
        actions = db.session.scalars(
            select(AuditLog.action).where(AuditLog.target_id == str(kim.id))
        ).all()
    assert {"user.disabled", "user.enabled"} <= set(actions)


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_an_admin_cannot_disable_themselves(app, admin, root):
    response = admin.post(f"/console/users/{root.id}/disable", follow_redirects=True)
    assert "disable your own account" in response.text
    with app.app_context():
        assert db.session.get(User, root.id).disabled_at is None


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_resending_verification_mails_an_unverified_user_only(app, admin):
    newcomer = make_user("new@example.com", verified=False)
    done = admin.post(f"/console/users/{newcomer.id}/resend-verification", follow_redirects=True)
    assert "A new verification code went to new@example.com." in done.text
    with app.app_context():
        sent = db.session.scalars(
            select(EmailMessage).where(EmailMessage.to_address == "new@example.com")
        ).all()
    assert len(sent) == 1
    again = admin.post(f"/console/users/{newcomer.id}/resend-verification", follow_redirects=True)
    assert "Please wait" in again.text  # the same cooldown as the sign-up page
    verified = make_user("ok@example.com")
    page = admin.post(f"/console/users/{verified.id}/resend-verification", follow_redirects=True)
    assert "already verified" in page.text


@pytest.mark.backends(*BACKENDS)  # ids past the integer column
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console/users/999999"),
        ("GET", "/console/users/99999999999999999999"),
        ("POST", "/console/users/999999/disable"),
        ("POST", "/console/users/999999/resend-verification"),
    ],
)
def test_a_user_that_does_not_exist_is_404(admin, method, path):
    assert admin.open(path, method=method).status_code == 404
