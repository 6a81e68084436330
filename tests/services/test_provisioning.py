"""Store provisioning rules, called directly."""

import threading

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.extensions import db
from tenants.models import Store
from tenants.provisioning import StoreSettingsError, create_store, set_store_status
from tests.factories import make_user


def test_create_store_makes_the_owner_membership_and_audits(app, ctx):
    owner = db.session.merge(make_user("founder@example.com"))
    store = create_store(
        slug="kopi",
        name="Kopi Kita",
        owner=owner,
        currency="IDR",
        locale="id_ID",
        timezone="Asia/Jakarta",
        accent_color="#7C3AED",
    )
    assert store.accent_color == "#7c3aed"
    assert [(m.user_id, m.role) for m in store_members(store)] == [(owner.id, "owner")]
    assert (
        db.session.scalar(
            select(func.count()).where(
                AuditLog.action == "store.created", AuditLog.store_id == store.id
            )
        )
        == 1
    )


def store_members(store):
    from app.accounts.models import Membership

    return db.session.scalars(select(Membership).where(Membership.store_id == store.id)).all()


@pytest.mark.parametrize(
    ("field", "kwargs", "message"),
    [
        ("slug", {"slug": "Admin"}, "lower-case"),
        ("name", {"name": "   "}, "1 to 120"),
        ("name", {"name": "x" * 121}, "1 to 120"),
        ("currency", {"currency": "RUPIAH"}, "not a currency"),
        ("locale", {"locale": "xx_YY_ZZ"}, "not a known locale"),
        ("timezone", {"timezone": "Nowhere/City"}, "time zone"),
        ("accent_color", {"accent_color": "red; } body { display:none"}, "colour"),
    ],
)
def test_create_store_refuses_bad_settings(app, ctx, field, kwargs, message):
    owner = db.session.merge(make_user("founder@example.com"))
    args = {"slug": "kopi", "name": "Kopi", "owner": owner, **kwargs}
    with pytest.raises(StoreSettingsError) as info:
        create_store(**args)
    assert info.value.field == field and message in info.value.message
    assert db.session.scalar(select(func.count()).select_from(Store)) == 0


def test_a_taken_slug_is_refused_even_when_suspended(app, ctx):
    owner = db.session.merge(make_user("founder@example.com"))
    store = create_store(slug="kopi", name="Kopi", owner=owner)
    set_store_status(store, "suspended")
    with pytest.raises(StoreSettingsError, match="taken"):
        create_store(slug="kopi", name="Other", owner=owner)


def test_two_racing_creations_of_one_slug_make_one_store(app):
    with app.app_context():
        owners = [make_user(f"racer{i}@example.com").id for i in range(2)]
    results = []
    barrier = threading.Barrier(2, timeout=20)

    def attempt(user_id):
        from app.accounts.models import User

        barrier.wait()  # before touching the database: SQLite holds its write lock till commit
        with app.app_context():
            owner = db.session.get(User, user_id)
            try:
                create_store(slug="same-name", name="Same", owner=owner)
                results.append("created")
            except StoreSettingsError as exc:
                results.append(exc.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(uid,)) for uid in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["That subdomain is taken.", "created"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Store)) == 1


def test_suspend_and_reactivate_are_audited(app, ctx):
    owner = db.session.merge(make_user("founder@example.com"))
    store = create_store(slug="kopi", name="Kopi", owner=owner)
    set_store_status(store, "suspended", actor=owner, reason="chargebacks")
    set_store_status(store, "suspended", actor=owner)  # no change, no entry
    set_store_status(store, "active", actor=owner)
    actions = db.session.scalars(
        select(AuditLog.action).where(AuditLog.store_id == store.id).order_by(AuditLog.id)
    ).all()
    assert actions == ["store.created", "store.suspended", "store.reactivated"]
    with pytest.raises(StoreSettingsError):
        set_store_status(store, "deleted")


def test_an_unverified_user_cannot_open_a_store(app, ctx):
    owner = db.session.merge(make_user("fresh@example.com", verified=False))
    with pytest.raises(StoreSettingsError, match="Verify your email"):
        create_store(slug="kopi", name="Kopi", owner=owner)
