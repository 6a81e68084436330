"""The commission ledger (one entry per payment) and the payouts marked as paid."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime, utcnow
from app.extensions import db
from tenants.models import StoreScoped


class CommissionEntry(StoreScoped, db.Model):
    """The platform's share of one payment: a charge takes commission, a refund gives it back.

    Amounts are signed minor units of the payment's currency: gross = commission + net.
    """

    __tablename__ = "commission_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('charge', 'refund')", name="kind"),
        UniqueConstraint("payment_id"),
        Index("ix_commission_entries_store_id_created_at", "store_id", "created_at"),
        Index("ix_commission_entries_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    gross: Mapped[int] = mapped_column(Integer)
    commission: Mapped[int] = mapped_column(Integer)
    net: Mapped[int] = mapped_column(Integer)
    rate_bps: Mapped[int] = mapped_column(Integer)  # basis points: 500 = 5 %
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    payment = relationship("Payment")


class Payout(StoreScoped, db.Model):
    """A period's money paid out to a store, as the report said when it was marked paid."""

    __tablename__ = "payouts"
    __table_args__ = (UniqueConstraint("store_id", "period_start", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # exclusive: the first day after
    currency: Mapped[str] = mapped_column(String(3))
    gross: Mapped[int] = mapped_column(Integer)
    refunds: Mapped[int] = mapped_column(Integer)
    commission: Mapped[int] = mapped_column(Integer)
    net: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(120), default="")
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
