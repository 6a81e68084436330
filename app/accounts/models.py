"""Platform-wide identity and per-store memberships."""

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint, false
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

    def rotate_session_token(self) -> None:
        """Sign the account out of every session and remember-me cookie."""
        self.session_token = new_session_token()

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    def get_id(self) -> str:
        # The token makes server-side revocation possible with cookie sessions.
        return f"{self.id}:{self.session_token}"

    def __repr__(self) -> str:
        return f"<User {self.email}>"


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
