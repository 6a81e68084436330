"""Removing members and transferring ownership: the owner leaves only by handing the store on."""

from flask_babel import gettext

from app.accounts.invites import InviteError
from app.accounts.models import Membership, User
from app.audit.service import record
from app.extensions import db
from tenants.models import Store
from tenants.query import scoped_select


class StaffError(InviteError):
    """A staff change was refused; `status` is the HTTP answer, the message says why."""


def remove_member(membership: Membership, *, actor) -> str:
    """Take a member out of the store (never the owner); returns the member's email."""
    if membership.role == "owner":
        raise StaffError(
            gettext("The owner can't be removed. Transfer ownership to someone else first.")
        )
    user = db.session.get(User, membership.user_id)
    record(
        "staff.removed",
        actor=actor,
        store=membership.store,
        target=membership,
        user_id=membership.user_id,
        email=user.email,
        role=membership.role,
    )
    db.session.delete(membership)
    db.session.commit()
    return user.email


def _locked_membership(store: Store, **where) -> Membership | None:
    # FOR UPDATE on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers), so two
    # transfers at once can't leave the store with two owners or none.
    return db.session.scalar(scoped_select(Membership, store).filter_by(**where).with_for_update())


def transfer_ownership(store: Store, new_owner: Membership, *, actor) -> None:
    """Make another member the owner; the old owner stays on as manager. One transaction."""
    current = _locked_membership(store, user_id=getattr(actor, "id", None))
    if current is None or current.role != "owner":
        db.session.rollback()
        raise StaffError(gettext("Only the store's owner can transfer ownership."), 403)
    target = _locked_membership(store, id=new_owner.id)
    if target is None:
        db.session.rollback()
        raise StaffError(gettext("Choose a member of this store."))
    if target.id == current.id:
        db.session.rollback()
        raise StaffError(gettext("You already own this store. Choose another member."))
    user = db.session.get(User, target.user_id)
    if not user.is_active or not user.is_verified:
        db.session.rollback()
        raise StaffError(
            gettext(
                "%(email)s can't own the store until their account is verified and active.",
                email=user.email,
            )
        )
    current.role = "manager"
    target.role = "owner"
    record(
        "store.ownership_transferred",
        actor=actor,
        store=store,
        target=target,
        from_user_id=current.user_id,
        to_user_id=target.user_id,
        to_email=user.email,
        new_role_of_previous_owner="manager",
    )
    db.session.commit()
