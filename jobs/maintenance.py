"""Periodic housekeeping: re-enqueue work whose job was lost.

The database rows are the truth and Redis only a hint: an email still queued, a webhook event
still received or a test-gateway delivery still pending is queued again by its sweep (every
SWEEP_INTERVAL seconds, once it is SWEEP_GRACE seconds old or its next attempt is due), so
nothing is lost when Redis was down, or came back empty. Every job is safe to run twice.
"""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from app.database import utcnow
from app.extensions import db
from app.notifications.models import EmailMessage
from app.payments.models import GatewayDelivery, WebhookEvent
from jobs import enqueue_unless_waiting

log = logging.getLogger(__name__)


def _grace() -> timedelta:
    return timedelta(seconds=current_app.config["SWEEP_GRACE"])


def sweep_email_outbox() -> int:
    """Enqueue emails left queued (Redis was down, or a job was lost); returns how many."""
    from jobs.email import CLAIM_TIMEOUT, send_email

    now = utcnow()
    ids = db.session.scalars(
        select(EmailMessage.id).where(
            or_(
                and_(EmailMessage.status == "queued", EmailMessage.updated_at < now - _grace()),
                and_(
                    EmailMessage.status == "sending",
                    EmailMessage.claimed_at < now - CLAIM_TIMEOUT,
                ),
            )
        )
    ).all()
    for message_id in ids:
        enqueue_unless_waiting(
            send_email, message_id, queue="email", job_id=f"email-{message_id}-sweep"
        )
    if ids:
        log.info("re-enqueued %d stale emails", len(ids))
    return len(ids)


def _lease(model, due_column, ids, now) -> None:
    """Push the rows' next attempt one grace period ahead, so the next sweep leaves them to
    the job just queued (the job sets its own time if it fails)."""
    if ids:
        db.session.execute(
            update(model).where(model.id.in_(ids)).values({due_column: now + _grace()})
        )
    db.session.commit()


def _due_rows(model, status: str, due_column, created_column, now) -> list[int]:
    """Ids of `model` rows still in `status` whose next attempt is due, or, never tried again
    yet, that are older than the grace period (their first job was lost); at most 500."""
    return db.session.scalars(
        select(model.id)
        .where(
            model.status == status,
            or_(
                due_column <= now,
                and_(due_column.is_(None), created_column < now - _grace()),
            ),
        )
        .order_by(model.id)
        .limit(500)
    ).all()


def sweep_webhook_events() -> int:
    """Queue again webhook events not yet applied: lost jobs, and Midtrans re-checks now due."""
    from app.payments.webhooks import apply_webhook_event

    now = utcnow()
    ids = _due_rows(
        WebhookEvent, "received", WebhookEvent.next_check_at, WebhookEvent.received_at, now
    )
    _lease(WebhookEvent, "next_check_at", ids, now)
    for event_id in ids:
        enqueue_unless_waiting(apply_webhook_event, event_id, job_id=f"webhook-{event_id}-sweep")
    if ids:
        log.info("re-enqueued %d unapplied webhook events", len(ids))
    return len(ids)


def sweep_gateway_deliveries() -> int:
    """Queue again test-gateway deliveries still pending whose next attempt is due."""
    from jobs.payments import deliver_gateway_delivery

    now = utcnow()
    ids = _due_rows(
        GatewayDelivery,
        "pending",
        GatewayDelivery.next_attempt_at,
        GatewayDelivery.created_at,
        now,
    )
    _lease(GatewayDelivery, "next_attempt_at", ids, now)
    for delivery_id in ids:
        enqueue_unless_waiting(
            deliver_gateway_delivery,
            delivery_id,
            job_id=f"gateway-delivery-{delivery_id}-sweep",
            retries=0,
        )
    if ids:
        log.info("re-enqueued %d pending test-gateway deliveries", len(ids))
    return len(ids)


def expire_unpaid_orders_job() -> int:
    """Cancel orders left unpaid past their time and return their stock (runs every minute)."""
    from app.orders.service import expire_unpaid_orders

    expired = expire_unpaid_orders()
    if expired:
        log.info("expired %d unpaid orders", expired)
    return expired


def reconcile_stock_job() -> int:
    """Repair variants whose stock drifted from their ledger (runs every hour); returns how many."""
    from app.inventory.reconcile import reconcile_all

    repairs = reconcile_all()
    return sum(len(fixed) for fixed in repairs.values())


def prune_user_sessions_job() -> int:
    """Delete sign-in sessions that ended long ago (runs every day); returns how many."""
    from app.accounts.sessions import prune

    pruned = prune()
    if pruned:
        log.info("pruned %d ended sign-in sessions", pruned)
    return pruned
