"""`emit()`: the outbox. An event and its deliveries are written in the caller's transaction,
so they exist exactly when the change that caused them is committed; their delivery jobs are
queued after that commit (and the sweep queues any that a crash or Redis outage lost).
"""

import json
import uuid

from flask import current_app
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.database import utcnow
from app.extensions import db
from app.webhooks.models import EVENT_TYPES, OutboundEvent, WebhookDelivery, WebhookEndpoint

_PENDING = "pasar.webhook_deliveries"  # Session.info key: (delivery id, store id) to queue


def _store_id(store) -> int:
    return store if isinstance(store, int) else store.id


def subscribers(store_id: int, event_type: str) -> list[int]:
    """Ids of the store's enabled endpoints that want `event_type` (one query)."""
    rows = db.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events).where(
            WebhookEndpoint.store_id == store_id, WebhookEndpoint.enabled.is_(True)
        )
    ).all()
    return [endpoint_id for endpoint_id, events in rows if event_type in (events or [])]


def write_event(store_id: int, event_type: str, payload: dict) -> OutboundEvent:
    """Add an event row (flushed, so it has its id) to the session, uncommitted."""
    moment = utcnow()
    body = json.dumps(
        {
            "type": event_type,
            "timestamp": moment.isoformat().replace("+00:00", "Z"),
            "data": payload,
        },
        separators=(",", ":"),
        default=str,
    )
    row = OutboundEvent(
        store_id=store_id,
        message_id=f"msg_{uuid.uuid4().hex}",
        type=event_type,
        body=body,
        created_at=moment,
    )
    db.session.add(row)
    db.session.flush()
    return row


def add_deliveries(event: OutboundEvent, endpoint_ids: list[int]) -> list[WebhookDelivery]:
    """One pending delivery of `event` per endpoint, queued once the transaction commits."""
    deliveries = [
        WebhookDelivery(store_id=event.store_id, endpoint_id=endpoint_id, event_id=event.id)
        for endpoint_id in endpoint_ids
    ]
    db.session.add_all(deliveries)
    db.session.flush()
    db.session.info.setdefault(_PENDING, []).extend((d.id, d.store_id) for d in deliveries)
    return deliveries


def emit(store, event_type: str, payload) -> OutboundEvent | None:
    """Record that `event_type` happened in `store`, in the current transaction.

    Nothing is written when no enabled endpoint of the store wants the event (one SELECT is
    the whole cost then), so stores without webhooks pay almost nothing on each order.
    `payload` is a dict, or a function returning one, called only when someone listens.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    store_id = _store_id(store)
    endpoint_ids = subscribers(store_id, event_type)
    if not endpoint_ids:
        return None
    row = write_event(store_id, event_type, payload() if callable(payload) else payload)
    add_deliveries(row, endpoint_ids)
    return row


def queue_delivery(delivery_id: int, store_id: int, *, suffix: str = "") -> None:
    """Queue the delivery job for a committed delivery; the sweep covers a Redis failure."""
    from app.background import enqueue_after_commit

    enqueue_after_commit(
        "jobs.webhooks_out.deliver",
        delivery_id,
        job_id=f"webhook-delivery-{delivery_id}{suffix}",
        retries=0,  # the row keeps its own schedule (WEBHOOKS_RETRY_SCHEDULE)
        store_id=store_id,
    )


@sa_event.listens_for(Session, "after_commit")
def _queue_after_commit(session: Session) -> None:
    """Queue the committed deliveries' jobs (in a fresh app context: no SQL on this session
    inside after_commit, and an inline job would otherwise use this very session)."""
    if session.in_nested_transaction():
        return  # a SAVEPOINT released: the deliveries are committed with the outer transaction
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    with current_app.app_context():
        for delivery_id, store_id in pending:
            queue_delivery(delivery_id, store_id)


@sa_event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    """Rolled-back deliveries were never written: nothing to queue."""
    if session.in_nested_transaction():
        return
    session.info.pop(_PENDING, None)
