"""Sending one delivery and what its outcome means: the log, the retry, the switch-off.

The row is the truth: a failed attempt sets the delivery's next attempt from
WEBHOOKS_RETRY_SCHEDULE (about a day) and the sweep makes it; after the last, the delivery is
"failed". An endpoint with no success for WEBHOOKS_DISABLE_AFTER seconds (a day) since its
first failure is switched off and its owners are emailed once.
"""

import logging
import time
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext
from sqlalchemy import select, update

from app.background import next_attempt_at
from app.database import utcnow
from app.extensions import db
from app.notifications.service import send_now
from app.webhooks import network, signing
from app.webhooks.models import OutboundEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)


def deliver(delivery_id: int) -> str:
    """Make one attempt at a pending delivery; returns its status. Safe to run twice: a
    delivered or failed delivery is final, and nothing is sent for it again."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return "missing"
    if delivery.status != "pending":
        return delivery.status
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    event = db.session.get(OutboundEvent, delivery.event_id)
    if not endpoint.enabled and delivery.attempts > 0:
        # Switched off while this waited for a retry: it ends here (a replay can send it).
        delivery.status, delivery.next_attempt_at = "failed", None
        delivery.last_error = "The endpoint is switched off."
        db.session.commit()
        return "failed"
    url, secret, body, message_id = endpoint.url, endpoint.secret, event.body, event.message_id
    # No transaction stays open across the network call.
    db.session.commit()
    headers = signing.headers(secret, message_id, int(time.time()), body)
    outcome = network.post(url, body.encode(), headers)
    return record_outcome(delivery_id, outcome)


def record_outcome(delivery_id: int, outcome: network.Outcome) -> str:
    """Log an attempt on the delivery and decide what comes next; returns its status."""
    now = utcnow()
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return "missing" if delivery is None else delivery.status
    db.session.add(
        WebhookAttempt(
            store_id=delivery.store_id,
            delivery_id=delivery.id,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            response_body=outcome.body[: network.BODY_LIMIT],
            error=outcome.error,
            created_at=now,
        )
    )
    delivery.attempts += 1
    delivery.last_status_code = outcome.status_code
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    if outcome.ok:
        delivery.status, delivery.delivered_at = "delivered", now
        delivery.next_attempt_at = delivery.last_error = None
        endpoint.failing_since = None
        db.session.commit()
        return "delivered"
    delivery.last_error = outcome.error
    delivery.next_attempt_at = next_attempt_at(
        delivery.attempts, current_app.config["WEBHOOKS_RETRY_SCHEDULE"], now
    )
    if delivery.next_attempt_at is None:
        delivery.status = "failed"
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    log.warning(
        "webhook delivery %s to endpoint %s failed (attempt %d): %s",
        delivery.id,
        endpoint.id,
        delivery.attempts,
        outcome.error,
    )
    emails = disable_if_failing_too_long(endpoint, now)
    status = delivery.status
    db.session.commit()
    for message_id in emails:
        send_now(message_id)
    return status


def disable_if_failing_too_long(endpoint: WebhookEndpoint, now) -> list[int]:
    """Switch the endpoint off when it has failed for a day and write its owners an email,
    once (the conditional UPDATE lets only one of two deliveries failing at once do it).
    Returns the ids of the emails to send after the commit."""
    limit = timedelta(seconds=current_app.config["WEBHOOKS_DISABLE_AFTER"])
    if endpoint.failing_since is None or now - endpoint.failing_since < limit:
        return []
    db.session.flush()
    won = db.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint.id, WebhookEndpoint.enabled.is_(True))
        .values(enabled=False, disabled_reason="failing")
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(endpoint)
    if not won:
        return []
    log.warning("webhook endpoint %s switched off after a day of failures", endpoint.id)
    return _write_disabled_emails(endpoint)


def _write_disabled_emails(endpoint: WebhookEndpoint) -> list[int]:
    """Outbox emails to the store's owners in this transaction; returns their ids."""
    from app.accounts.models import Membership, User
    from app.notifications.service import record_email
    from tenants.models import Store
    from tenants.urls import store_url

    store = db.session.get(Store, endpoint.store_id)
    owners = db.session.execute(
        select(User.email, User.language)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.store_id == store.id, Membership.role == "owner")
        .order_by(User.id)
    ).all()
    messages = [
        record_email(
            address,
            lazy_gettext("A webhook endpoint of %(store)s was switched off", store=store.name),
            "webhook_endpoint_disabled",
            store=store,
            language=language or None,
            endpoint_url=endpoint.url,
            # From configuration, never from a request (README "Security model").
            link=store_url(store, "/admin/webhooks/"),
        )
        for address, language in owners
    ]
    db.session.flush()
    return [message.id for message in messages]
