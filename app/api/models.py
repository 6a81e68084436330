"""API keys and the idempotency records of API writes."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime, utcnow
from app.extensions import db
from tenants.models import StoreScoped


class ApiKey(StoreScoped, db.Model):
    """A store's key for the REST API: only its HMAC is kept; the secret is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # The key's first characters, so a vendor can tell keys apart without the secret.
    prefix: Mapped[str] = mapped_column(String(16))
    # HMAC-SHA256 of the whole key: the key is random (256 bits), so no slow hash is needed.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(Text, default="", server_default="")  # space-separated
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Written at most once a minute (app.api.auth), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiIdempotencyKey(StoreScoped, db.Model):
    """The first answer to an API write sent with an Idempotency-Key, replayed for repeats.

    Inserted before the write's work in the same transaction: a concurrent duplicate waits on
    the unique index and then finds this row, so the write happens once.
    """

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (UniqueConstraint("store_id", "key", name="uq_api_idempotency_store_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    # sha256 of method, path and body: the same key with a different request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
