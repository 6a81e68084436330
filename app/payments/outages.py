"""What payment work is waiting on a provider that can't be reached, for the job centre and
the console: Midtrans events being re-checked, and test-gateway deliveries being retried."""

from sqlalchemy import func, select

from app.extensions import db
from app.payments.models import GatewayDelivery, WebhookEvent


def retried_events(store_id: int, limit: int = 15) -> list[WebhookEvent]:
    """The store's events still unapplied after a failed check (newest first)."""
    return db.session.scalars(
        select(WebhookEvent)
        .where(
            WebhookEvent.store_id == store_id,
            WebhookEvent.status == "received",
            WebhookEvent.attempts > 0,
        )
        .order_by(WebhookEvent.id.desc())
        .limit(limit)
    ).all()


def retried_deliveries(store_id: int, limit: int = 15) -> list[GatewayDelivery]:
    """The store's test-gateway deliveries that failed at least once and aren't delivered."""
    return db.session.scalars(
        select(GatewayDelivery)
        .where(
            GatewayDelivery.store_id == store_id,
            GatewayDelivery.status != "delivered",
            GatewayDelivery.attempts > 0,
        )
        .order_by(GatewayDelivery.id.desc())
        .limit(limit)
    ).all()


def provider_outages() -> list[dict]:
    """Per provider, the events waiting on a re-check: how many, since when, the last error."""
    rows = db.session.execute(
        select(
            WebhookEvent.provider,
            func.count(),
            func.min(WebhookEvent.received_at),
            func.max(WebhookEvent.id),
        )
        .where(WebhookEvent.status == "received", WebhookEvent.attempts > 0)
        .group_by(WebhookEvent.provider)
        .order_by(WebhookEvent.provider)
    ).all()
    outages = []
    for provider, waiting, since, latest_id in rows:
        latest = db.session.get(WebhookEvent, latest_id)
        outages.append(
            {
                "provider": provider,
                "waiting": waiting,
                "since": since,
                "last_error": latest.last_error,
                "next_check_at": latest.next_check_at,
            }
        )
    undelivered = db.session.execute(
        select(func.count(), func.min(GatewayDelivery.created_at)).where(
            GatewayDelivery.status != "delivered", GatewayDelivery.attempts > 0
        )
    ).one()
    if undelivered[0]:
        latest = db.session.scalar(
            select(GatewayDelivery)
            .where(GatewayDelivery.status != "delivered", GatewayDelivery.attempts > 0)
            .order_by(GatewayDelivery.id.desc())
            .limit(1)
        )
        outages.append(
            {
                "provider": "test gateway deliveries",
                "waiting": undelivered[0],
                "since": undelivered[1],
                "last_error": latest.last_error,
                "next_check_at": latest.next_attempt_at,
            }
        )
    return outages
