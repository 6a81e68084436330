"""Periodic housekeeping: re-enqueue work whose job was lost."""

import logging
from datetime import timedelta

from sqlalchemy import and_, or_, select

from app.database import utcnow
from app.extensions import db
from app.notifications.models import EmailMessage
from jobs import enqueue

log = logging.getLogger(__name__)

STALE_QUEUED = timedelta(minutes=5)


def sweep_email_outbox() -> int:
    """Enqueue emails left queued (Redis was down, or a job was lost); returns how many."""
    from jobs.email import CLAIM_TIMEOUT, send_email

    now = utcnow()
    ids = db.session.scalars(
        select(EmailMessage.id).where(
            or_(
                and_(EmailMessage.status == "queued", EmailMessage.updated_at < now - STALE_QUEUED),
                and_(
                    EmailMessage.status == "sending",
                    EmailMessage.claimed_at < now - CLAIM_TIMEOUT,
                ),
            )
        )
    ).all()
    for message_id in ids:
        enqueue(send_email, message_id, queue="email", job_id=f"email-{message_id}-sweep")
    if ids:
        log.info("re-enqueued %d stale emails", len(ids))
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
