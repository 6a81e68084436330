"""Webhook rate limits: per store and provider after the signature check, never per address
for a genuine delivery; forged requests are limited per address."""

import json
import time
import uuid

import pytest

from app.extensions import limiter
from app.payments.signatures import stripe_signature
from app.payments.webhooks import gateway_secret
from tests.conftest import HostClient, host_for, make_app, truncate_all
from tests.factories import make_store

PROVIDER_IP = "203.0.113.10"


@pytest.fixture
def limited_app(database_urls):
    """An embedded app whose limits start empty (shared-state file) and are emptied after."""

    def make(**overrides):
        application = make_app(database_urls("sqlite"), **overrides)
        made.append(application)
        return application

    made = []
    yield make
    for application in made:
        with application.app_context():
            limiter.reset()
        truncate_all(application)


def client(app, store, ip=PROVIDER_IP):
    c = HostClient(app, app.response_class)
    c.host = host_for(store)
    c.environ_base["REMOTE_ADDR"] = ip
    return c


def signed(app, store, body: dict, *, forged=False):
    raw = json.dumps(body).encode()
    with app.app_context():
        secret = "not-the-secret" if forged else gateway_secret(store.id)
    t = int(time.time())
    return raw, {"Pasar-Signature": f"t={t},v1={stripe_signature(raw, secret, t)}"}


def deliver(app, c, store, *, forged=False):
    body = {"id": f"evt_{uuid.uuid4().hex}", "type": "ping", "order_number": 0}
    raw, headers = signed(app, store, body, forged=forged)
    return c.post("/webhooks/test", data=raw, headers=headers, content_type="application/json")


def test_a_burst_of_genuine_deliveries_from_one_address_is_never_refused(limited_app):
    app = limited_app()
    with app.app_context():
        store = make_store("alpha", "Alpha Goods")
    c = client(app, store)
    statuses = [deliver(app, c, store).status_code for _ in range(1000)]
    assert set(statuses) == {200}  # the old 300 per minute per address refused the 301st


def test_forged_deliveries_get_400_then_429_per_address_but_genuine_ones_pass(limited_app):
    app = limited_app(WEBHOOK_FAILURE_LIMIT="5 per minute")
    with app.app_context():
        store = make_store("alpha", "Alpha Goods")
    c = client(app, store)
    forged = [deliver(app, c, store, forged=True).status_code for _ in range(8)]
    assert forged == [400] * 5 + [429] * 3
    refused = deliver(app, c, store, forged=True)
    assert int(refused.headers["Retry-After"]) > 0
    # Unsigned requests from that address are refused before anything is read.
    assert c.post("/webhooks/test", data=b"{}").status_code == 429
    # A genuine delivery from the same address is never refused by the address's limit.
    assert deliver(app, c, store).status_code == 200
    # Another address still gets the honest 400.
    other = client(app, store, ip="198.51.100.7")
    assert deliver(app, other, store, forged=True).status_code == 400


def test_genuine_deliveries_are_limited_per_store_and_provider(limited_app):
    app = limited_app(WEBHOOK_RATE_LIMIT="5 per minute", WEBHOOK_FAILURE_LIMIT="100 per minute")
    with app.app_context():
        alpha = make_store("alpha", "Alpha Goods")
        bravo = make_store("bravo", "Bravo Supply")
    a = client(app, alpha)
    # Forged requests don't use up the store's budget: only verified deliveries count.
    assert {deliver(app, a, alpha, forged=True).status_code for _ in range(10)} == {400}
    assert [deliver(app, a, alpha).status_code for _ in range(7)] == [200] * 5 + [429] * 2
    assert int(deliver(app, a, alpha).headers["Retry-After"]) > 0
    # From any address, and only for this store: another store's deliveries go through.
    assert deliver(app, client(app, alpha, ip="198.51.100.7"), alpha).status_code == 429
    assert deliver(app, client(app, bravo), bravo).status_code == 200
