"""The rules behind the dashboard's webhook pages: endpoints, test events, replays, the log."""

from dataclasses import dataclass

from flask_babel import gettext
from sqlalchemy import func, select

from app.audit.service import record
from app.extensions import db
from app.pagination import Page, paginate
from app.webhooks import network, signing
from app.webhooks.events import add_deliveries, queue_delivery, write_event
from app.webhooks.models import (
    DELIVERY_STATUSES,
    EVENT_TYPES,
    TEST_EVENT,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenants.models import Store

MAX_ENDPOINTS = 20
MAX_DESCRIPTION = 200
PAGE_SIZE = 25


class EndpointError(ValueError):
    """A refused endpoint form: `field` names the input, the message says what to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class EndpointInput:
    """An endpoint form's values, as typed."""

    url: str = ""
    description: str = ""
    events: tuple[str, ...] = ()


def clean(values: EndpointInput) -> EndpointInput:
    """Check an endpoint form; raises EndpointError for the first problem."""
    url = (values.url or "").strip()
    try:
        network.check_url(url)
    except network.UnsafeURL as exc:
        raise EndpointError("url", str(exc)) from None
    description = " ".join((values.description or "").split())
    if len(description) > MAX_DESCRIPTION:
        raise EndpointError("description", gettext("Keep the description under 200 characters."))
    events = tuple(e for e in EVENT_TYPES if e in set(values.events or ()))
    if not events:
        raise EndpointError("events", gettext("Choose at least one event."))
    return EndpointInput(url, description, events)


def _audit(action: str, endpoint: WebhookEndpoint, actor, **details) -> None:
    """An audit entry for a change to an endpoint (the secret itself is never logged)."""
    store = db.session.get(Store, endpoint.store_id)
    record(action, actor=actor, store=store, target=endpoint, url=endpoint.url, **details)


def list_endpoints(store: Store) -> list[WebhookEndpoint]:
    """The store's endpoints, oldest first."""
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.store_id == store.id)
            .order_by(WebhookEndpoint.id)
        )
    )


def create_endpoint(store: Store, values: EndpointInput, actor) -> WebhookEndpoint:
    """Register an endpoint with a fresh signing secret (committed, audited)."""
    values = clean(values)
    count = db.session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.store_id == store.id)
    )
    if count >= MAX_ENDPOINTS:
        raise EndpointError(
            "url", gettext("A store can have at most %(num)s endpoints.", num=MAX_ENDPOINTS)
        )
    endpoint = WebhookEndpoint(
        store_id=store.id,
        url=values.url,
        description=values.description,
        events=list(values.events),
        secret=signing.new_secret(),
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(endpoint)
    db.session.flush()
    _audit("webhook.endpoint_created", endpoint, actor, events=endpoint.events)
    db.session.commit()
    return endpoint


def update_endpoint(endpoint: WebhookEndpoint, values: EndpointInput, actor) -> WebhookEndpoint:
    """Change an endpoint's address, description or events (committed, audited)."""
    values = clean(values)
    endpoint.url, endpoint.description = values.url, values.description
    endpoint.events = list(values.events)
    _audit("webhook.endpoint_changed", endpoint, actor, events=endpoint.events)
    db.session.commit()
    return endpoint


def rotate_secret(endpoint: WebhookEndpoint, actor) -> str:
    """Give the endpoint a new signing secret; the old one stops working at once."""
    endpoint.secret = signing.new_secret()
    _audit("webhook.secret_rotated", endpoint, actor)
    db.session.commit()
    return endpoint.secret


def set_enabled(endpoint: WebhookEndpoint, enabled: bool, actor) -> None:
    """Switch an endpoint on or off; switching it on forgets its failing streak."""
    endpoint.enabled = enabled
    endpoint.disabled_reason = ""
    if enabled:
        endpoint.failing_since = None
    _audit("webhook.endpoint_enabled" if enabled else "webhook.endpoint_disabled", endpoint, actor)
    db.session.commit()


def delete_endpoint(endpoint: WebhookEndpoint, actor) -> None:
    """Delete an endpoint with its deliveries and their log."""
    _audit("webhook.endpoint_deleted", endpoint, actor)
    db.session.execute(
        WebhookAttempt.__table__.delete().where(
            WebhookAttempt.delivery_id.in_(
                select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
            )
        )
    )
    db.session.execute(
        WebhookDelivery.__table__.delete().where(WebhookDelivery.endpoint_id == endpoint.id)
    )
    db.session.delete(endpoint)
    db.session.commit()


def send_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `webhook.test` event to this one endpoint (even a disabled one: it was asked)."""
    event = write_event(
        endpoint.store_id,
        TEST_EVENT,
        {"message": "A test event from Pasar.", "endpoint_id": endpoint.id},
    )
    (delivery,) = add_deliveries(event, [endpoint.id])
    db.session.commit()
    return delivery


def replay(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's event to its endpoint again, as a new delivery with the same
    `webhook-id` (a receiver that de-duplicates by it sees the same message)."""
    again = WebhookDelivery(
        store_id=delivery.store_id, endpoint_id=delivery.endpoint_id, event_id=delivery.event_id
    )
    db.session.add(again)
    db.session.commit()
    queue_delivery(again.id, again.store_id)
    return again


@dataclass
class DeliveryFilters:
    """The delivery log's filters, checked (unknown values are dropped)."""

    endpoint_id: int | None = None
    status: str = ""

    def query_args(self) -> dict[str, str]:
        return {"endpoint_id": str(self.endpoint_id or ""), "status": self.status}


def delivery_filters(endpoint: str | None, status: str | None) -> DeliveryFilters:
    """Parse the log's filters from the query string."""
    endpoint_id = int(endpoint) if endpoint and endpoint.isdigit() and len(endpoint) < 10 else None
    return DeliveryFilters(endpoint_id, status if status in DELIVERY_STATUSES else "")


def list_deliveries(store: Store, filters: DeliveryFilters, page) -> Page:
    """The store's deliveries, newest first, a page at a time (two queries)."""
    conditions = [WebhookDelivery.store_id == store.id]
    if filters.endpoint_id:
        conditions.append(WebhookDelivery.endpoint_id == filters.endpoint_id)
    if filters.status:
        conditions.append(WebhookDelivery.status == filters.status)
    return paginate(
        select(WebhookDelivery).where(*conditions).order_by(WebhookDelivery.id.desc()),
        page,
        PAGE_SIZE,
        count=select(func.count()).select_from(WebhookDelivery).where(*conditions),
        scalars=True,
    )


def attempts_of(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    """A delivery's attempts, newest first."""
    return list(
        db.session.scalars(
            select(WebhookAttempt)
            .where(
                WebhookAttempt.store_id == delivery.store_id,
                WebhookAttempt.delivery_id == delivery.id,
            )
            .order_by(WebhookAttempt.id.desc())
        )
    )
