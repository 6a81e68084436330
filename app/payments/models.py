"""Money that moved (payments and refunds) and every webhook a provider sent."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime, utcnow
from app.extensions import db
from tenants.models import StoreScoped

WEBHOOK_STATUSES = ("received", "applied", "ignored", "flagged")


class Payment(StoreScoped, db.Model):
    """A charge (positive) or refund (negative) on an order, as the provider reported it."""

    __tablename__ = "payments"
    __table_args__ = (
        # Applying the same provider transaction twice can't record it twice.
        UniqueConstraint("provider", "provider_ref", "kind"),
        CheckConstraint("kind IN ('charge', 'refund')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_ref: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookEvent(db.Model):
    """A verified webhook, stored before it is applied; unique by (provider, event_id)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        Index("ix_webhook_events_store_id_order_number", "store_id", "order_number"),
        CheckConstraint(f"status IN {WEBHOOK_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(120))
    store_id: Mapped[int | None] = mapped_column(
        ForeignKey("stores.id", ondelete="SET NULL"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict] = mapped_column(JSON)
    # The order it concerns, so the unpaid-order expiry can spare orders with unapplied events.
    order_number: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="received", index=True)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Re-checks with a provider that can't be reached: the schedule lives here, not in Redis,
    # so the sweep carries it on across Redis restarts.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


DELIVERY_STATUSES = ("pending", "delivered", "failed")


class GatewayDelivery(StoreScoped, db.Model):
    """The test gateway's outbox: a shopper's decision and the signed webhook still to deliver.

    Written before anything is queued, so a Redis outage (or a Redis restarted empty) can't
    lose an approval: the delivery job and its sweep work from this row until it is delivered.
    """

    __tablename__ = "gateway_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id"),
        Index("ix_gateway_deliveries_store_id_order_number", "store_id", "order_number"),
        CheckConstraint(f"status IN {DELIVERY_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(120))
    order_number: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
