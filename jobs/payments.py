"""Payment jobs: delivering the test gateway's signed webhooks, as a provider's servers would."""

import logging
import time
from urllib.parse import urlsplit

import requests
from flask import current_app
from rq import get_current_job

from app.database import utcnow
from app.extensions import db
from app.payments.models import GatewayDelivery
from app.payments.signatures import gateway_signature
from app.payments.webhooks import gateway_secret
from tenants.models import Store
from tenants.urls import store_url

log = logging.getLogger(__name__)

DELIVERY_MODES = ("http", "inprocess")


def delivery_mode() -> str:
    """How webhooks travel: TEST_GATEWAY_DELIVERY, else in-process exactly when jobs run inline."""
    configured = current_app.config.get("TEST_GATEWAY_DELIVERY")
    if configured:
        return configured
    return "inprocess" if current_app.config["JOBS_INLINE"] else "http"


def deliver_test_webhook(store_id: int, body: str) -> int:
    """POST a signed test-gateway event to the store's webhook endpoint; returns the status.

    Signed at send time, so a retry carries a fresh timestamp. Any answer but 200 raises, and
    RQ retries the delivery, as a real provider would.
    """
    job = get_current_job()
    job_id = job.id if job is not None else "inline"
    store = db.session.get(Store, store_id)
    if store is None:
        log.warning("job %s: test webhook for missing store %s dropped", job_id, store_id)
        return 404
    raw = body.encode()
    timestamp = int(time.time())
    signature = f"t={timestamp},v1={gateway_signature(raw, gateway_secret(store.id), timestamp)}"
    headers = {"Content-Type": "application/json", "Pasar-Signature": signature}
    url = store_url(store, "/webhooks/test")
    # No transaction may stay open while the store handles the webhook: on SQLite (where
    # transactions begin IMMEDIATE) the receiving request would wait for this one, and on
    # PostgreSQL a connection would sit idle in a transaction across the network.
    db.session.close()
    mode = delivery_mode()
    if mode == "inprocess":
        # The web process handles its own webhook through the full app: same route, same checks.
        parts = urlsplit(url)
        response = current_app.test_client().post(
            parts.path, data=raw, headers={**headers, "Host": parts.netloc}
        )
        status = response.status_code
    else:
        status = _post(url, raw, headers)
    log.info("job %s: test webhook to %s (%s) answered %s", job_id, url, mode, status)
    if status != 200:
        raise RuntimeError(f"the store answered {status} to the test gateway's webhook")
    return status


def deliver_gateway_delivery(delivery_id: int) -> str:
    """Deliver one row of the test gateway's outbox; safe to run twice (delivered is final).

    A failed attempt is noted on the row with the time of the next one (GATEWAY_RETRY_SCHEDULE,
    about a day); the delivery sweep makes it, so retries survive Redis restarts.
    """
    from app.background import next_attempt_at

    delivery = db.session.get(GatewayDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return "missing" if delivery is None else delivery.status
    store_id, body = delivery.store_id, delivery.body
    try:
        status = deliver_test_webhook(store_id, body)
        error = None if status == 200 else f"the store answered {status}"
    except Exception as exc:
        db.session.rollback()
        error = f"{type(exc).__name__}: {exc}"[:1000]
    delivery = db.session.get(GatewayDelivery, delivery_id)
    if error is None:
        delivery.status, delivery.delivered_at = "delivered", utcnow()
        delivery.next_attempt_at = delivery.last_error = None
        db.session.commit()
        return "delivered"
    delivery.attempts += 1
    delivery.last_error = error
    delivery.next_attempt_at = next_attempt_at(
        delivery.attempts, current_app.config["GATEWAY_RETRY_SCHEDULE"], utcnow()
    )
    if delivery.next_attempt_at is None:
        delivery.status = "failed"
    log.warning(
        "test gateway delivery %s failed (attempt %d): %s", delivery_id, delivery.attempts, error
    )
    db.session.commit()
    return delivery.status


def _post(url: str, raw: bytes, headers: dict) -> int:
    """POST over HTTP. Names under .localhost are loopback (RFC 6761), which Python's resolver
    doesn't know, so those connect to 127.0.0.1 with the store's Host header."""
    parts = urlsplit(url)
    if (parts.hostname or "").endswith(".localhost"):
        port = f":{parts.port}" if parts.port else ""
        headers = {**headers, "Host": parts.netloc}
        url = f"{parts.scheme}://127.0.0.1{port}{parts.path}"
    return requests.post(url, data=raw, headers=headers, timeout=15).status_code
