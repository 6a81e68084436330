"""The shopper's address book."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.addresses import rules
from app.database import UTCDateTime, utcnow
from app.extensions import db


class Address(db.Model):
    """A postal address saved by a user, for shipping and billing.

    Addresses belong to the account, not to a store: one account shops in every store on the
    platform, and an address saved while buying from one store is offered at the next. So this
    model is deliberately not `StoreScoped`; every lookup is by `user_id` instead.
    """

    __tablename__ = "addresses"
    __table_args__ = (
        # At most one default of each kind per user. The service keeps it so in one transaction;
        # these partial unique indexes make any slip (a race, a bug) fail instead of corrupting.
        Index(
            "uq_addresses_user_id_default_shipping",
            "user_id",
            unique=True,
            sqlite_where=text("is_default_shipping"),
            postgresql_where=text("is_default_shipping"),
        ),
        Index(
            "uq_addresses_user_id_default_billing",
            "user_id",
            unique=True,
            sqlite_where=text("is_default_billing"),
            postgresql_where=text("is_default_billing"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    full_name: Mapped[str] = mapped_column(String(rules.MAX_LENGTHS["full_name"]))
    company: Mapped[str | None] = mapped_column(String(rules.MAX_LENGTHS["company"]))
    line1: Mapped[str] = mapped_column(String(rules.MAX_LENGTHS["line1"]))
    line2: Mapped[str | None] = mapped_column(String(rules.MAX_LENGTHS["line2"]))
    city: Mapped[str] = mapped_column(String(rules.MAX_LENGTHS["city"]))
    # An ISO 3166-2 code ("US-CA") where the country requires a region, else optional free text.
    region: Mapped[str | None] = mapped_column(String(rules.MAX_LENGTHS["region"]))
    # Stored in the country's own layout ("SW1A 1AA"); none for countries without postal codes.
    postal_code: Mapped[str | None] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164, e.g. +6281234567890
    is_default_shipping: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    is_default_billing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()

    @property
    def phone_display(self) -> str:
        return rules.phone_display(self.phone)

    def __repr__(self) -> str:
        return f"<Address {self.id} of user {self.user_id}>"
