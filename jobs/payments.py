"""Payment jobs: delivering the test gateway's signed webhooks, as a provider's servers would."""

import logging
import time
from urllib.parse import urlsplit

import requests
from flask import current_app

from app.extensions import db
from app.payments.signatures import gateway_signature
from app.payments.webhooks import gateway_secret
from tenants.models import Store
from tenants.urls import store_url

log = logging.getLogger(__name__)


def deliver_test_webhook(store_id: int, body: str) -> int:
    """POST a signed test-gateway event to the store's webhook endpoint; returns the status.

    Signed at send time, so a retry carries a fresh timestamp. Any answer but 200 raises, and
    RQ retries the delivery, as a real provider would.
    """
    store = db.session.get(Store, store_id)
    if store is None:
        log.warning("test webhook for missing store %s dropped", store_id)
        return 404
    raw = body.encode()
    timestamp = int(time.time())
    signature = f"t={timestamp},v1={gateway_signature(raw, gateway_secret(store.id), timestamp)}"
    headers = {"Content-Type": "application/json", "Pasar-Signature": signature}
    url = store_url(store, "/webhooks/test")
    mode = current_app.config.get("TEST_GATEWAY_DELIVERY") or (
        "inprocess" if current_app.config["JOBS_INLINE"] else "http"
    )
    if mode == "inprocess":
        # Embedded mode: the web process handles its own webhook through the full app stack.
        parts = urlsplit(url)
        db.session.close()
        response = current_app.test_client().post(
            parts.path, data=raw, headers={**headers, "Host": parts.netloc}
        )
        status = response.status_code
    else:
        status = _post(url, raw, headers)
    if status != 200:
        raise RuntimeError(f"the store answered {status} to the test gateway's webhook")
    return status


def _post(url: str, raw: bytes, headers: dict) -> int:
    """POST over HTTP. Names under .localhost are loopback (RFC 6761), which Python's resolver
    doesn't know, so those connect to 127.0.0.1 with the store's Host header."""
    parts = urlsplit(url)
    if (parts.hostname or "").endswith(".localhost"):
        port = f":{parts.port}" if parts.port else ""
        headers = {**headers, "Host": parts.netloc}
        url = f"{parts.scheme}://127.0.0.1{port}{parts.path}"
    return requests.post(url, data=raw, headers=headers, timeout=15).status_code
