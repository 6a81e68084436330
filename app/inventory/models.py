"""The stock ledger: every change to a variant's stock, with why, who and what for."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime, utcnow
from app.extensions import db
from tenants.models import StoreScoped

MOVEMENT_KINDS = ("receive", "sale", "return", "adjust", "sync", "cancellation")


class StockMovement(StoreScoped, db.Model):
    """One change to one variant's stock; a variant's stock is the sum of its movements."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint(f"kind IN {MOVEMENT_KINDS!r}", name="kind"),
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        Index("ix_stock_movements_variant_id_id", "variant_id", "id"),
        Index("ix_stock_movements_store_id_reference", "store_id", "reference"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)  # signed: +received, -sold
    stock_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # What caused it: "order:1001", "import:17", "adjust"; lets a run be undone as a whole.
    reference: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


HOLD_STATUSES = ("active", "released", "expired", "converted")


class StockHold(StoreScoped, db.Model):
    """Units of a variant held for one cart until `expires_at` (the detail of `Variant.held`).

    Not a movement: the stock stays on hand while held; only a converted hold's sale moves it.
    """

    __tablename__ = "stock_holds"
    __table_args__ = (
        CheckConstraint(f"status IN {HOLD_STATUSES!r}", name="status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("extensions BETWEEN 0 AND 2", name="extensions_range"),
        # One live hold per cart and variant: holding again changes that row.
        Index(
            "uq_stock_holds_cart_id_variant_id_active",
            "cart_id",
            "variant_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        # What the sweep and the availability reads look for.
        Index("ix_stock_holds_variant_id_status_expires_at", "variant_id", "status", "expires_at"),
        Index("ix_stock_holds_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"))
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    extensions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
