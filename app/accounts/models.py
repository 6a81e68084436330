"""Platform-wide identity and per-store memberships."""

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    String,
    UniqueConstraint,
    false,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime, utcnow
from app.extensions import db
from tenants.models import Store, StoreScoped

ROLES = ("owner", "manager", "staff")
INVITE_ROLES = ("manager", "staff")  # ownership is transferred, never invited


def new_session_token() -> str:
    """A random token; rotating it signs the user out of every session."""
    return secrets.token_urlsafe(24)


class User(UserMixin, db.Model):
    """One account for the whole platform; memberships give it roles in stores."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (lower case) so that uniqueness ignores letter case.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="", server_default="")
    # The language Pasar speaks to this person on the dashboard, the console and in email;
    # None = their browser's (app.i18n).
    language: Mapped[str | None] = mapped_column(String(8))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def set_password(self, password: str) -> None:
        """Hash and store a new password."""
        from app.accounts.passwords import hash_password

        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        """True if `password` matches; False for accounts without one."""
        from app.accounts.passwords import verify_password

        return verify_password(self.password_hash, password)

    def rotate_session_token(self, *, keep: int | None = None) -> None:
        """Sign the account out of every session and remember-me cookie (but session `keep`)."""
        self.session_token = new_session_token()  # also voids outstanding reset links
        if self.id is None:
            return
        ended = update(UserSession).where(
            UserSession.user_id == self.id, UserSession.revoked_at.is_(None)
        )
        if keep is not None:
            ended = ended.where(UserSession.id != keep)
        db.session.execute(
            ended.values(revoked_at=utcnow()), execution_options={"synchronize_session": False}
        )

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    # The secret of the server-side session this object was signed in or loaded with; set by
    # app.accounts.sessions, never stored (the user_sessions row keeps only its hash).
    session_secret = None
    session_id = None

    def get_id(self) -> str:
        # The session cookie and the remember-me cookie both carry this, so each is bound to
        # one user_sessions row: revoking the row kills every copy of either cookie.
        return f"{self.id}:{self.session_secret or ''}"

    def __eq__(self, other):
        # UserMixin compares get_id(), which now differs per session; a user is its row.
        if isinstance(other, User):
            return self is other or (self.id is not None and self.id == other.id)
        return NotImplemented

    __hash__ = UserMixin.__hash__

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class UserSession(db.Model):
    """One signed-in browser: the session and remember-me cookies carry its secret."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the secret in the cookies: a copy of this table can't be used to sign in.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    method: Mapped[str] = mapped_column(String(32), default="password", server_default="password")
    remember: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Written at most once a minute per session, so pages don't pay a write per request.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str] = mapped_column(String(255), default="", server_default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


class Membership(StoreScoped, db.Model):
    """A user's role in one store."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("store_id", "user_id"),
        CheckConstraint(f"role IN {ROLES!r}", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    store: Mapped[Store] = relationship()


class StoreInvite(StoreScoped, db.Model):
    """An emailed invitation to join a store with a role; its signed link works once, for 7 days."""

    __tablename__ = "store_invites"
    __table_args__ = (CheckConstraint(f"role IN {INVITE_ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Normalised like User.email, so the invitee is matched whatever letter case they type.
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The row, not only the token's timestamp, decides expiry, so the staff page can show it.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])
    store: Mapped[Store] = relationship()

    def is_pending(self, now: datetime) -> bool:
        """True while the link can still be used."""
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now
