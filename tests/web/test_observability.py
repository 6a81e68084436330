"""Request ids, the per-request log line, /metrics (who may scrape it, its labels, outages),
and /readyz while the server drains."""

import json
import logging
import re

import pytest
from rq import Queue

from app.extensions import db, redis_client
from app.observability import shutdown
from app.observability.logs import json_formatter
from tests.conftest import BACKENDS, PLATFORM, make_app, require, sign_in_as
from tests.factories import make_product, make_user
from tests.services.test_browse import count_queries

pytestmark = pytest.mark.backends("sqlite")  # request ids, log lines, /metrics: HTTP, not SQL

TOKEN = "s3cret-metrics-token"


def _request_records(caplog, request_id):
    return [
        r
        for r in caplog.records
        if r.name == "pasar.request" and getattr(r, "request_id", None) == request_id
    ]


# --- X-Request-ID ---------------------------------------------------------------------------


def test_a_sane_request_id_is_echoed(client):
    response = client.get("/", headers={"X-Request-ID": "edge-42.abc"})
    assert response.headers["X-Request-ID"] == "edge-42.abc"


@pytest.mark.parametrize("sent", [None, "", "has space", "x" * 200, "a\u00e9b", "<x>"])
def test_a_missing_or_insane_request_id_is_replaced_by_a_new_one(client, sent):
    headers = {"X-Request-ID": sent} if sent is not None else {}
    first = client.get("/", headers=headers).headers["X-Request-ID"]
    second = client.get("/", headers=headers).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_error_pages_carry_the_request_id_too(client_for):
    response = client_for(host=f"nosuch.{PLATFORM}").get("/", headers={"X-Request-ID": "e-1"})
    assert response.status_code == 404 and response.headers["X-Request-ID"] == "e-1"


# --- the request log line -------------------------------------------------------------------


@pytest.mark.backends(*BACKENDS)  # query count
def test_one_log_line_per_request_with_store_user_route_status_and_sql_count(
    app, client_for, store_a, caplog
):
    caplog.set_level(logging.INFO, logger="pasar.request")
    user = make_user("shopper@example.com")
    client = client_for(store_a)
    sign_in_as(client, user)
    with app.app_context(), count_queries() as counter:
        response = client.get("/", headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 200
    [record] = _request_records(caplog, "trace-me-1")
    assert record.event == "request"
    assert (record.method, record.route, record.rule, record.status) == ("GET", "home", "/", 200)
    assert (record.store_id, record.store, record.user_id) == (store_a.id, "alpha", user.id)
    assert record.duration_ms > 0
    assert record.sql_count == counter.count > 0
    data = json.loads(json_formatter().format(record))
    assert data["request_id"] == "trace-me-1" and data["store"] == "alpha"
    assert data["sql_count"] == counter.count and data["user_id"] == user.id


def test_the_log_line_names_the_route_never_the_raw_path(app, client_for, store_a, caplog):
    caplog.set_level(logging.INFO, logger="pasar.request")
    make_product(store_a, "Secret Shirt")
    client_for(store_a).get("/products/secret-shirt", headers={"X-Request-ID": "r-2"})
    client_for(store_a).get("/no/such/page/token123", headers={"X-Request-ID": "r-3"})
    [found] = _request_records(caplog, "r-2")
    assert (found.route, found.rule, found.status) == (
        "storefront.product_detail",
        "/products/<slug>",
        200,
    )
    [missing] = _request_records(caplog, "r-3")
    assert missing.route is None and missing.status == 404
    assert "secret-shirt" not in caplog.text and "token123" not in caplog.text
    assert found.user_id is None and found.store == "alpha"


def test_a_job_queued_by_a_request_carries_its_request_id_and_store(
    backend, database_urls, redis_url, store_a
):
    require(redis_url is not None, "TEST_REDIS_URL is not set: jobs are queued in Redis")
    app = make_app(database_urls(backend), redis_url, JOBS_INLINE=False)
    client = app.test_client()
    response = client.post(
        "/account/signin/code",
        data={"email": "queued@example.com"},
        headers={"Host": f"alpha.{PLATFORM}", "X-Request-ID": "checkout-77"},
    )
    assert response.status_code == 303
    with app.app_context():
        [job] = Queue("email", connection=redis_client.get()).get_jobs()
    assert job.meta == {"request_id": "checkout-77", "store_id": store_a.id}


# --- /metrics: who may scrape it ------------------------------------------------------------


@pytest.fixture
def metrics_app(backend, database_urls, redis_url):
    """`metrics_app(**config)`: an app on the test's database with these settings."""

    def make(**overrides):
        return make_app(database_urls(backend), redis_url, **overrides)

    return make


def _scrape(app, host=PLATFORM, peer="127.0.0.1", headers=None):
    return app.test_client().get(
        "/metrics", headers={"Host": host, **(headers or {})}, environ_base={"REMOTE_ADDR": peer}
    )


LOOPBACK_CASES = [
    # (host, peer, headers, status)
    (PLATFORM, "127.0.0.1", {}, 200),
    ("127.0.0.1:8000", "127.0.0.1", {}, 200),
    ("localhost:8000", "127.0.0.1", {}, 200),
    ("[::1]:8000", "::1", {}, 200),
    (PLATFORM, "::ffff:127.0.0.1", {}, 200),
    (PLATFORM, "10.0.0.5", {}, 404),
    (PLATFORM, "192.168.1.20", {}, 404),
    # A local proxy passes everything on from loopback, and adds one of these.
    (PLATFORM, "127.0.0.1", {"X-Forwarded-For": "127.0.0.1"}, 404),
    (PLATFORM, "127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, 404),
    (PLATFORM, "127.0.0.1", {"Forwarded": "for=127.0.0.1"}, 404),
    (PLATFORM, "127.0.0.1", {"X-Real-IP": "127.0.0.1"}, 404),
    # Never on a store's host without the token, even from loopback.
    (f"alpha.{PLATFORM}", "127.0.0.1", {}, 404),
    (f"nosuch.{PLATFORM}", "127.0.0.1", {}, 404),
    ("shop.alpha-goods.com", "127.0.0.1", {}, 404),
    # A token offered when none is configured opens nothing.
    (PLATFORM, "10.0.0.5", {"Authorization": f"Bearer {TOKEN}"}, 404),
]


@pytest.mark.backends("sqlite")  # who may scrape is decided by the request alone
@pytest.mark.parametrize(("host", "peer", "headers", "status"), LOOPBACK_CASES)
def test_metrics_without_a_token_answer_only_direct_loopback_on_a_non_store_host(
    metrics_app, host, peer, headers, status
):
    assert _scrape(metrics_app(), host, peer, headers).status_code == status


TOKEN_CASES = [
    (PLATFORM, "10.0.0.5", {"Authorization": f"Bearer {TOKEN}"}, 200),
    (PLATFORM, "10.0.0.5", {"Authorization": f"bearer  {TOKEN} "}, 200),
    ("10.0.0.7:8000", "10.0.0.5", {"Authorization": f"Bearer {TOKEN}"}, 200),
    (f"alpha.{PLATFORM}", "10.0.0.5", {"Authorization": f"Bearer {TOKEN}"}, 200),
    ("shop.alpha-goods.com", "10.0.0.5", {"Authorization": f"Bearer {TOKEN}"}, 200),
    (
        PLATFORM,
        "127.0.0.1",
        {"X-Forwarded-For": "1.2.3.4", "Authorization": f"Bearer {TOKEN}"},
        200,
    ),
    (PLATFORM, "10.0.0.5", {"Authorization": "Bearer wrong"}, 404),
    (PLATFORM, "10.0.0.5", {"Authorization": f"Bearer {TOKEN}x"}, 404),
    (PLATFORM, "10.0.0.5", {"Authorization": f"Basic {TOKEN}"}, 404),
    (PLATFORM, "10.0.0.5", {"Authorization": "Bearer caf\u00e9"}, 404),
    (PLATFORM, "10.0.0.5", {}, 404),
    # A wrong token is refused even where no token would be needed.
    (PLATFORM, "127.0.0.1", {"Authorization": "Bearer wrong"}, 404),
    (PLATFORM, "127.0.0.1", {}, 200),
]


@pytest.mark.backends("sqlite")  # who may scrape is decided by the request alone
@pytest.mark.parametrize(("host", "peer", "headers", "status"), TOKEN_CASES)
def test_metrics_with_a_token_answer_its_holder_on_any_host(
    metrics_app, host, peer, headers, status
):
    app = metrics_app(METRICS_TOKEN=TOKEN)
    assert _scrape(app, host, peer, headers).status_code == status


def test_behind_a_trusted_proxy_the_real_peer_decides_not_x_forwarded_for(metrics_app):
    app = metrics_app(TRUSTED_PROXIES=1)
    forged = {"X-Forwarded-For": "127.0.0.1"}
    assert _scrape(app, peer="10.0.0.5", headers=forged).status_code == 404
    assert _scrape(app, peer="127.0.0.1", headers=forged).status_code == 404
    assert _scrape(app, peer="127.0.0.1").status_code == 200


# --- /metrics: what it says -----------------------------------------------------------------

SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def _samples(text: str):
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
            yield match["name"], labels, float(match["value"])


def test_request_metrics_are_labelled_by_route_and_method_only(app, client_for, store_a):
    make_product(store_a, "Labelled Shirt")
    store = client_for(store_a)
    # The registry belongs to the process, so it also holds what earlier tests' apps served
    # (their own test routes): judge only the series this test's requests moved.
    before = {
        (labels.get("route"), labels.get("method")): value
        for name, labels, value in _samples(_scrape(app).get_data(as_text=True))
        if name == "pasar_http_request_duration_seconds_count"
    }
    for path in ("/products/labelled-shirt", "/products/nope-1", "/products/nope-2"):
        store.get(path)
    for path in ("/random-1", "/random-2/deeper", "/metrics-not"):
        store.get(path)
    store.open("/", method="BREW")
    text = _scrape(app).get_data(as_text=True)
    samples = list(_samples(text))
    histogram = [s for s in samples if s[0] == "pasar_http_request_duration_seconds_count"]
    counter = [s for s in samples if s[0] == "pasar_http_requests_total"]
    assert histogram and counter
    assert {frozenset(labels) for _, labels, _ in histogram} == {frozenset({"route", "method"})}
    assert {frozenset(labels) for _, labels, _ in counter} == {
        frozenset({"route", "method", "status"})
    }
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} | {"(unmatched)"}
    routes = {
        labels["route"]
        for _, labels, value in histogram
        if value != before.get((labels["route"], labels["method"]))
    }
    assert routes <= endpoints
    assert {"storefront.product_detail", "(unmatched)"} <= routes
    assert {labels["method"] for _, labels, _ in histogram} <= {
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"
    }  # fmt: skip
    for needle in ("labelled-shirt", "nope-1", "random-1", "deeper", "alpha", "BREW"):
        assert needle not in text
    assert "store" not in {name for _, labels, _ in samples for name in labels}
    detail_404 = [
        value
        for _, labels, value in counter
        if labels == {"route": "storefront.product_detail", "method": "GET", "status": "404"}
    ]
    assert detail_404 and detail_404[0] >= 2


@pytest.mark.backends(*BACKENDS)  # aggregates and time arithmetic in SQL
def test_scrape_time_gauges_from_the_database(app, store_a):
    from datetime import timedelta

    from app.database import utcnow
    from app.payments.models import WebhookEvent
    from app.stocksync.models import ImportRun

    with app.app_context():
        now = utcnow()
        for index, (status, age) in enumerate(
            [("received", 90), ("received", 30), ("applied", 900)]
        ):
            db.session.add(
                WebhookEvent(
                    provider="test",
                    event_id=f"evt-{index}",
                    store_id=store_a.id,
                    event_type="payment",
                    payload={},
                    status=status,
                    received_at=now - timedelta(seconds=age),
                )
            )
        for status, done, total in [
            ("applying", 40, 100),
            ("previewing", 5, 10),
            ("applied", 7, 7),
        ]:
            db.session.add(
                ImportRun(
                    store_id=store_a.id,
                    filename="stock.csv",
                    content=b"",
                    content_hash="0" * 64,
                    status=status,
                    processed_rows=done,
                    total_rows=total,
                )
            )
        db.session.commit()
    values = {name: value for name, labels, value in _samples(_scrape(app).get_data(as_text=True))}
    assert values["pasar_database_up"] == 1
    assert 85 <= values["pasar_webhook_lag_seconds"] < 120
    assert values["pasar_stock_syncs_running"] == 2
    assert values["pasar_stock_sync_rows_done"] == 45
    assert values["pasar_stock_sync_rows_total"] == 110


def test_queue_gauges_come_from_redis(backend, database_urls, redis_url):
    require(redis_url is not None, "TEST_REDIS_URL is not set")
    from app.background import enqueue

    app = make_app(database_urls(backend), redis_url, JOBS_INLINE=False)
    with app.app_context():
        for _ in range(3):
            enqueue(len, "abc", queue="email")
    samples = list(_samples(_scrape(app).get_data(as_text=True)))
    depth = {labels["queue"]: v for name, labels, v in samples if name == "pasar_rq_queue_depth"}
    failed = {labels["queue"]: v for name, labels, v in samples if name == "pasar_rq_failed_jobs"}
    assert depth == {"default": 0, "email": 3}
    assert failed == {"default": 0, "email": 0}
    assert ("pasar_redis_up", {}, 1.0) in samples


def test_a_scrape_during_a_redis_outage_still_answers(backend, database_urls):
    from tests.conftest import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = make_app(database_urls(backend), dead, RATELIMIT_STORAGE_URI="memory://")
    response = _scrape(app)
    assert response.status_code == 200
    samples = list(_samples(response.get_data(as_text=True)))
    assert ("pasar_redis_up", {}, 0.0) in samples
    assert not [s for s in samples if s[0].startswith("pasar_rq_")]
    assert ("pasar_database_up", {}, 1.0) in samples


def test_a_scrape_during_a_database_outage_still_answers(caplog):
    from app import database_outage
    from tests.web.test_outages import DEAD_POSTGRES

    app = make_app(DEAD_POSTGRES, PROPAGATE_EXCEPTIONS=False)
    caplog.set_level(logging.INFO)
    try:
        responses = [_scrape(app) for _ in range(3)]
        # One line when the outage starts, not one per scrape.
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.getMessage()[:20] for r in warnings] == ["database unreachable"]
    finally:
        database_outage.note_up()
    assert [r.status_code for r in responses] == [200, 200, 200]
    samples = list(_samples(responses[-1].get_data(as_text=True)))
    assert ("pasar_database_up", {}, 0.0) in samples
    assert not [s for s in samples if s[0].startswith(("pasar_webhook", "pasar_stock"))]


def test_embedded_mode_has_no_queue_gauges(backend, database_urls):
    app = make_app(database_urls(backend), None)
    assert app.config["EMBEDDED"]
    names = {name for name, _, _ in _samples(_scrape(app).get_data(as_text=True))}
    assert "pasar_redis_up" not in names and "pasar_database_up" in names


# --- /readyz while draining -----------------------------------------------------------------


def test_readyz_answers_503_once_the_server_drains(client):
    assert client.get("/readyz").status_code == 200
    shutdown.attach(bytearray(b"\x01"))
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["status"] == "shutting down"
        assert client.get("/healthz").status_code == 200  # alive: requests still finish
    finally:
        shutdown.attach(None)
    assert client.get("/readyz").status_code == 200
