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

from app.background import enqueue_unless_waiting
from app.database import utcnow
from app.extensions import db
from app.notifications.models import EmailMessage
from app.payments.models import GatewayDelivery, WebhookEvent
from tenants.rls import spans_stores

log = logging.getLogger(__name__)


def _grace() -> timedelta:
    return timedelta(seconds=current_app.config["SWEEP_GRACE"])


@spans_stores("sweep: emails still queued")
def sweep_email_outbox() -> int:
    """Enqueue emails left queued (Redis was down, or a job was lost); returns how many."""
    from jobs.email import CLAIM_TIMEOUT, send_email

    now = utcnow()
    rows = db.session.execute(
        select(EmailMessage.id, EmailMessage.store_id).where(
            or_(
                and_(EmailMessage.status == "queued", EmailMessage.updated_at < now - _grace()),
                and_(
                    EmailMessage.status == "sending",
                    EmailMessage.claimed_at < now - CLAIM_TIMEOUT,
                ),
            )
        )
    ).all()
    for message_id, store_id in rows:
        enqueue_unless_waiting(
            send_email,
            message_id,
            queue="email",
            job_id=f"email-{message_id}-sweep",
            twins=(f"email-{message_id}",),
            store_id=store_id,
        )
    if rows:
        log.info("re-enqueued %d stale emails", len(rows))
    return len(rows)


def _lease(model, due_column, ids, now) -> None:
    """Push the rows' next attempt one grace period ahead, so the next sweep leaves them to
    the job just queued (the job sets its own time if it fails)."""
    if ids:
        db.session.execute(
            update(model).where(model.id.in_(list(ids))).values({due_column: now + _grace()})
        )
    db.session.commit()


def _due_rows(model, status: str, due_column, created_column, now) -> dict[int, int | None]:
    """Ids of `model` rows still in `status` whose next attempt is due, or, never tried again
    yet, that are older than the grace period (their first job was lost), with their stores;
    at most 500."""
    return dict(
        db.session.execute(
            select(model.id, model.store_id)
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
    )


@spans_stores("sweep: webhook events not applied")
def sweep_webhook_events() -> int:
    """Queue again webhook events not yet applied: lost jobs, and Midtrans re-checks now due."""
    from app.payments.webhooks import apply_webhook_event

    now = utcnow()
    ids = _due_rows(
        WebhookEvent, "received", WebhookEvent.next_check_at, WebhookEvent.received_at, now
    )
    _lease(WebhookEvent, "next_check_at", ids, now)
    for event_id, store_id in ids.items():
        enqueue_unless_waiting(
            apply_webhook_event,
            event_id,
            job_id=f"webhook-{event_id}-sweep",
            twins=(f"webhook-{event_id}", f"webhook-{event_id}-retry"),
            store_id=store_id,
        )
    if ids:
        log.info("re-enqueued %d unapplied webhook events", len(ids))
    return len(ids)


def _sweep_pending_deliveries(model, job, prefix: str, what: str) -> int:
    """Queue again a delivery outbox's pending rows whose next attempt is due (leased first, so
    the next sweep doesn't queue them again); `prefix` names their jobs ("{prefix}-{id}")."""
    now = utcnow()
    ids = _due_rows(model, "pending", model.next_attempt_at, model.created_at, now)
    _lease(model, "next_attempt_at", ids, now)
    for delivery_id, store_id in ids.items():
        enqueue_unless_waiting(
            job,
            delivery_id,
            job_id=f"{prefix}-{delivery_id}-sweep",
            twins=(f"{prefix}-{delivery_id}",),
            retries=0,
            store_id=store_id,
        )
    if ids:
        log.info("re-enqueued %d pending %s", len(ids), what)
    return len(ids)


@spans_stores("sweep: test-gateway deliveries pending")
def sweep_gateway_deliveries() -> int:
    """Queue again test-gateway deliveries still pending whose next attempt is due."""
    from jobs.payments import deliver_gateway_delivery

    return _sweep_pending_deliveries(
        GatewayDelivery, deliver_gateway_delivery, "gateway-delivery", "test-gateway deliveries"
    )


@spans_stores("sweep: outbound webhook deliveries pending")
def sweep_outbound_webhooks() -> int:
    """Queue again outbound webhook deliveries still pending whose next attempt is due."""
    from app.webhooks.models import WebhookDelivery
    from jobs.webhooks_out import deliver

    return _sweep_pending_deliveries(
        WebhookDelivery, deliver, "webhook-delivery", "outbound webhook deliveries"
    )


@spans_stores("expiry: unpaid orders past their time")
def expire_unpaid_orders_job() -> int:
    """Cancel orders left unpaid past their time and return their stock (runs every minute)."""
    from app.orders.service import expire_unpaid_orders

    expired = expire_unpaid_orders()
    if expired:
        log.info("expired %d unpaid orders", expired)
    return expired


@spans_stores("expiry: stock holds past their time")
def release_expired_holds_job() -> int:
    """Release stock holds whose time ran out, in every store (runs every 30 s); returns how
    many. Checkout and sales also release them lazily, so this only keeps pages honest."""
    from app.inventory.holds import release_expired

    released = release_expired()
    db.session.commit()
    if released:
        log.info("released %d expired stock holds", released)
    return released


@spans_stores("repair: stock that drifted from its ledger")
def reconcile_stock_job() -> int:
    """Repair variants whose stock drifted from their ledger, or whose held units from their
    holds (runs every hour); returns how many."""
    from app.inventory.holds import repair_held
    from app.inventory.reconcile import reconcile_all

    repairs = reconcile_all()
    held = repair_held()
    if held:
        log.warning("corrected the held units of %d variants", len(held))
    return sum(len(fixed) for fixed in repairs.values()) + len(held)


@spans_stores("prune: the API's idempotency records of every store")
def prune_api_idempotency_keys_job() -> int:
    """Delete API idempotency records older than a day (runs every hour); returns how many."""
    from app.api.idempotency import prune

    pruned = prune()
    if pruned:
        log.info("pruned %d API idempotency records", pruned)
    return pruned


def prune_user_sessions_job() -> int:
    """Delete sign-in sessions that ended long ago (runs every day); returns how many."""
    from app.accounts.sessions import prune

    pruned = prune()
    if pruned:
        log.info("pruned %d ended sign-in sessions", pruned)
    return pruned
