"""Staff invitations: an owner invites an email address with a role; a signed link joins once.

The link carries the invite's id and store, signed with the secret key (itsdangerous) and
valid for 7 days; the `store_invites` row makes it single-use and revocable. Each refusal is an
InviteError whose `status` is the HTTP answer the page gives (404 for a link that isn't this
store's, 410 for a spent one, 403 for the wrong account, 409 or 422 for the inviter's input).
"""

from datetime import datetime, timedelta

from flask import current_app, url_for
from flask_babel import gettext, lazy_gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import INVITE_ROLES, Membership, StoreInvite, User
from app.accounts.service import AccountError, normalise_email
from app.audit.service import record
from app.database import utcnow
from app.extensions import db
from app.i18n import language_for_user, store_language
from app.notifications.service import queue_email
from tenants.models import Store
from tenants.query import get_for_store, scoped_select
from tenants.urls import store_url

INVITE_TTL = timedelta(days=7)
TOKEN_SALT = "store-invite"  # noqa: S105 (a namespace for signatures, not a secret)


class InviteError(ValueError):
    """An invitation was refused or can't be used; the message is for the person who tried."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def make_invite_token(invite: StoreInvite) -> str:
    """The signed token of an invite's link."""
    return _serializer().dumps({"i": invite.id, "s": invite.store_id})


def invite_link(invite: StoreInvite) -> str:
    """The absolute link the invitee opens, on the store's own host."""
    return store_url(
        invite.store, url_for("dashboard.invite_join", token=make_invite_token(invite))
    )


def pending_invites(store: Store, now: datetime | None = None) -> list[StoreInvite]:
    """The store's invitations that can still be accepted, newest first."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            scoped_select(StoreInvite, store)
            .where(
                StoreInvite.accepted_at.is_(None),
                StoreInvite.revoked_at.is_(None),
                StoreInvite.expires_at > now,
            )
            .order_by(StoreInvite.created_at.desc(), StoreInvite.id.desc())
        )
    )


def _member_with_email(store: Store, email: str) -> Membership | None:
    return db.session.scalar(
        scoped_select(Membership, store)
        .join(User, User.id == Membership.user_id)
        .where(User.email == email)
    )


def create_invite(store: Store, email: str, role: str, *, actor) -> tuple[StoreInvite, bool]:
    """Invite `email` to join `store` as `role` and email the link; (invite, replaced_one).

    Inviting an address that already has a pending invitation replaces it: the earlier link
    stops working, so only the newest email (with the newest role) counts.
    """
    if role not in INVITE_ROLES:
        raise InviteError(gettext("Choose manager or staff. Ownership is transferred separately."))
    try:
        email = normalise_email(email)
    except AccountError as exc:
        raise InviteError(exc.message) from None
    member = _member_with_email(store, email)
    if member is not None:
        raise InviteError(
            gettext(
                "%(email)s is already a member of this store (%(role)s).",
                email=email,
                role=gettext(member.role),
            ),
            409,
        )
    now = utcnow()
    replaced = [invite for invite in pending_invites(store, now) if invite.email == email]
    for old in replaced:
        old.revoked_at = now
        record("staff.invite_revoked", actor=actor, store=store, target=old, email=email)
    invite = StoreInvite(
        store_id=store.id,
        email=email,
        role=role,
        invited_by_id=getattr(actor, "id", None),
        created_at=now,
        expires_at=now + INVITE_TTL,
    )
    db.session.add(invite)
    db.session.flush()
    record("staff.invited", actor=actor, store=store, target=invite, email=email, role=role)
    db.session.commit()
    queue_email(
        email,
        lazy_gettext("You're invited to join %(store)s on Pasar", store=store.name),
        "staff_invite",
        store=store,
        language=language_for_user(
            db.session.scalar(select(User).where(User.email == email)), store_language(store)
        ),
        invite=invite,
        inviter=actor,
        link=invite_link(invite),
        ttl_days=INVITE_TTL.days,
    )
    return invite, bool(replaced)


def revoke_invite(invite: StoreInvite, *, actor) -> None:
    """Cancel a pending invitation: its link stops working."""
    if not invite.is_pending(utcnow()):
        raise InviteError(gettext("That invitation was already used, revoked or has expired."), 409)
    invite.revoked_at = utcnow()
    record(
        "staff.invite_revoked", actor=actor, store=invite.store, target=invite, email=invite.email
    )
    db.session.commit()


def invite_for_token(token: str, store: Store, now: datetime | None = None) -> StoreInvite:
    """The pending invite a link names in `store`, or InviteError (404 not ours, 410 spent)."""
    now = now or utcnow()
    serializer = _serializer()
    expired = False
    try:
        data = serializer.loads(token, max_age=int(INVITE_TTL.total_seconds()))
    except SignatureExpired as exc:
        # Genuine but old: still find out whose it is, so another store's link stays a 404.
        data, expired = serializer.load_payload(exc.payload), True
    except BadSignature:
        raise InviteError(gettext("This invitation link isn't valid."), 404) from None
    if not isinstance(data, dict) or data.get("s") != store.id:
        raise InviteError(gettext("This invitation link isn't valid."), 404)
    invite = get_for_store(StoreInvite, data.get("i"), store)
    if invite is None:
        raise InviteError(gettext("This invitation link isn't valid."), 404)
    if invite.accepted_at is not None:
        raise InviteError(
            gettext("This invitation has already been used. Each link works once."), 410
        )
    if invite.revoked_at is not None:
        raise InviteError(
            gettext("This invitation was withdrawn. Ask the store's owner for a new one."), 410
        )
    if expired or invite.expires_at <= now:
        raise InviteError(
            gettext(
                "This invitation has expired. Invitations work for 7 days: "
                "ask the store's owner to send a new one."
            ),
            410,
        )
    return invite


def check_invitee(invite: StoreInvite, user: User) -> None:
    """InviteError unless `user` may accept `invite` (its address, and not yet a member)."""
    if user.email != invite.email:
        raise InviteError(
            gettext(
                "This invitation is for %(invited)s, but you're signed in as %(email)s. "
                "Sign out, then open the link again and sign in as %(invited)s.",
                invited=invite.email,
                email=user.email,
            ),
            403,
        )
    if not user.is_active:
        raise InviteError(gettext("This account can't join a store. Contact support."), 403)
    if _member_with_email(invite.store, user.email) is not None:
        raise InviteError(
            gettext("You're already a member of %(store)s.", store=invite.store.name), 409
        )


def accept_invite(invite: StoreInvite, user: User) -> Membership:
    """Join the invite's store with its role, once; InviteError if that is no longer possible."""
    check_invitee(invite, user)
    now = utcnow()
    # One conditional UPDATE claims the invite, so two tabs or a double click can't both join.
    claimed = db.session.execute(
        update(StoreInvite)
        .where(
            StoreInvite.id == invite.id,
            StoreInvite.store_id == invite.store_id,
            StoreInvite.accepted_at.is_(None),
            StoreInvite.revoked_at.is_(None),
            StoreInvite.expires_at > now,
        )
        .values(accepted_at=now, accepted_by_id=user.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise InviteError(
            gettext("This invitation has already been used. Each link works once."), 410
        )
    membership = Membership(store_id=invite.store_id, user_id=user.id, role=invite.role)
    db.session.add(membership)
    if not user.is_verified:
        # The link reached this address's inbox, which is what verification proves; sessions
        # set up before the proof end (this browser's stays: it is the one that proved it).
        user.email_verified_at = now
        user.rotate_session_token(keep=user.session_id)
        record("account.verified", actor=user, target=user, method="store invite")
    record(
        "staff.joined",
        actor=user,
        store=invite.store,
        target=membership,
        invite_id=invite.id,
        role=invite.role,
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise InviteError(
            gettext("You're already a member of %(store)s.", store=invite.store.name), 409
        ) from None
    db.session.refresh(invite)
    return membership
