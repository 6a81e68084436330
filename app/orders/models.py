"""Orders, their lines, status history and payments; coupons; recorded webhooks."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime, utcnow
from app.extensions import db
from app.orders.states import STATUSES
from tenants.models import StoreScoped


class OrderCounter(db.Model):
    """The last order number a store handed out (advanced with UPDATE ... RETURNING)."""

    __tablename__ = "order_counters"

    store_id: Mapped[int] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    last_number: Mapped[int] = mapped_column(Integer, default=1000, server_default="1000")


class Order(StoreScoped, db.Model):
    """A placed order, with its totals and addresses frozen as they were at checkout."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "number"),
        # One order per checkout submit: a double click or a replayed form finds the first.
        UniqueConstraint("store_id", "idempotency_key"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        Index("ix_orders_store_id_status_placed_at", "store_id", "status", "placed_at"),
        Index("ix_orders_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(254), index=True)
    status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    # The language the shopper checked out in ("id"): their emails about it are written in it.
    locale: Mapped[str | None] = mapped_column(String(8))
    subtotal: Mapped[int] = mapped_column(Integer)
    discount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    shipping: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tax: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tax_inclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    total: Mapped[int] = mapped_column(Integer)
    coupon_code: Mapped[str | None] = mapped_column(String(40))
    shipping_address: Mapped[dict] = mapped_column(JSON, default=dict)
    billing_address: Mapped[dict] = mapped_column(JSON, default=dict)
    shipping_method: Mapped[str] = mapped_column(String(80), default="", server_default="")
    payment_provider: Mapped[str] = mapped_column(String(20), default="test", server_default="test")
    # Placed or paid through the test gateway: no money moved, so it never counts in GMV,
    # sales, commissions or payouts, and every page and email that shows it says "Test".
    is_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )
    events: Mapped[list["OrderEvent"]] = relationship(
        cascade="all, delete-orphan", order_by="OrderEvent.id"
    )


class OrderLine(StoreScoped, db.Model):
    """What was bought, with title, SKU and price copied so later edits don't rewrite history."""

    __tablename__ = "order_lines"
    # What open orders hold of a variant (the stock sync asks) is found from the variant's side.
    __table_args__ = (Index("ix_order_lines_variant_id", "variant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id", ondelete="SET NULL"))
    product_title: Mapped[str] = mapped_column(String(200))
    variant_title: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(64))
    unit_price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderEvent(StoreScoped, db.Model):
    """One step of an order's history: from which status to which, who, when and why."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Coupon(StoreScoped, db.Model):
    """A discount code of a store."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("store_id", "code"),
        CheckConstraint("kind IN ('percent', 'fixed')", name="kind"),
        CheckConstraint("value > 0", name="value_positive"),
        CheckConstraint("usage_limit IS NULL OR times_used <= usage_limit", name="within_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))  # stored upper-case
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[int] = mapped_column(Integer)  # percent, or minor units for "fixed"
    min_subtotal: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    usage_limit: Mapped[int | None] = mapped_column(Integer)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    times_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CouponRedemption(StoreScoped, db.Model):
    """A coupon used by an order (for per-customer limits)."""

    __tablename__ = "coupon_redemptions"
    __table_args__ = (Index("ix_coupon_redemptions_coupon_id_email", "coupon_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
