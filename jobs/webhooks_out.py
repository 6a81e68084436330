"""Outbound webhook jobs: one delivery attempt (the row keeps the retry schedule)."""

import logging

from rq import get_current_job

from app.webhooks.delivery import deliver as deliver_one

log = logging.getLogger(__name__)


def deliver(delivery_id: int) -> str:
    """Attempt one outbound webhook delivery; safe to run twice (delivered is final)."""
    job = get_current_job()
    status = deliver_one(delivery_id)
    log.info("job %s: webhook delivery %s is %s", job.id if job else "inline", delivery_id, status)
    return status
