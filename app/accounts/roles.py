"""Changing a member's role in a store."""

from app.accounts.models import ROLES, Membership
from app.audit.service import record
from app.extensions import db


class RoleError(ValueError):
    """A role change was refused; the message says why."""


def change_role(membership: Membership, new_role: str, *, actor) -> bool:
    """Set a member's role (not the owner's, and never to owner); True if it changed."""
    if new_role not in ROLES or new_role == "owner":
        raise RoleError("Choose manager or staff. Ownership is transferred separately.")
    if membership.role == "owner":
        raise RoleError("The owner's role can't be changed here.")
    if membership.role == new_role:
        return False
    old = membership.role
    membership.role = new_role
    record(
        "role.changed",
        actor=actor,
        store=membership.store,
        target=membership,
        user_id=membership.user_id,
        old=old,
        new=new_role,
    )
    db.session.commit()
    return True
