"""Outbound webhook rows: endpoints, events (the outbox), deliveries and their attempts."""

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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime, utcnow
from app.extensions import db
from tenants.models import StoreScoped

EVENT_TYPES = (
    "order.created",
    "order.paid",
    "order.refunded",
    "order.shipped",
    "stock.low",
    "product.updated",
)
# Sent only by the dashboard's "send a test event"; no endpoint subscribes to it by choice.
TEST_EVENT = "webhook.test"
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookEndpoint(StoreScoped, db.Model):
    """A vendor's HTTPS address and the events it wants, with its signing secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    # Event types as a list; kept on the row (not a join table) because emit reads it per event.
    events: Mapped[list] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(default=True)
    # Why it was switched off: "" (by hand or never) or "failing" (a day of failures).
    disabled_reason: Mapped[str] = mapped_column(String(40), default="")
    # When deliveries began failing without a success since; a day of it disables the endpoint.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboundEvent(StoreScoped, db.Model):
    """One thing that happened in a store, written in the transaction that made it happen."""

    __tablename__ = "outbound_events"
    __table_args__ = (UniqueConstraint("store_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The Standard Webhooks message id (`webhook-id`): the same for every endpoint and replay,
    # so a receiver can de-duplicate.
    message_id: Mapped[str] = mapped_column(String(60))
    type: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(StoreScoped, db.Model):
    """One event on its way to one endpoint: the row the job and the sweep work from."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN {DELIVERY_STATUSES!r}", name="status"),
        Index("ix_webhook_deliveries_store_id_endpoint_id", "store_id", "endpoint_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbound_events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    endpoint: Mapped[WebhookEndpoint] = relationship(lazy="joined")
    event: Mapped[OutboundEvent] = relationship(lazy="joined")


class WebhookAttempt(StoreScoped, db.Model):
    """One try at a delivery: what the receiver answered, how long it took, or what failed."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_body: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
