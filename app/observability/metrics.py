"""Prometheus metrics at `/metrics`: request latency by route, and gauges read when scraped.

Request metrics are labelled by route (the Flask endpoint, never the raw path) and method,
and the counter also by status, so their number of series is bounded by the app's routes;
the store is never a label. Queue depths, failed jobs, webhook lag and stock-sync progress
are read from Redis and the database at scrape time with a few cheap queries; when one of
them is down its gauges are left out and `pasar_redis_up`/`pasar_database_up` say 0, and the
scrape still answers 200.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (see gunicorn.conf.py):
each worker writes its samples there and a scrape adds them up.
"""

import contextlib
import hmac
import ipaddress
import logging
import os

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from app.extensions import csrf

log = logging.getLogger(__name__)

bp = Blueprint("observability", __name__)

REQUEST_DURATION = Histogram(
    "pasar_http_request_duration_seconds",
    "Time to answer a request, by route (Flask endpoint) and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
REQUESTS = Counter(
    "pasar_http_requests",
    "Requests answered, by route (Flask endpoint), method and status code.",
    ["route", "method", "status"],
)
# Requests that matched no route (404s of any path, 405s) share one label value.
UNMATCHED = "(unmatched)"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def observe_request(route: str | None, method: str, status: int, duration: float) -> None:
    """Count one answered request and its duration (seconds)."""
    route = route or UNMATCHED
    method = method if method in METHODS else "OTHER"
    REQUEST_DURATION.labels(route, method).observe(duration)
    REQUESTS.labels(route, method, str(status)).inc()


@bp.get("/metrics")
def metrics():
    """Prometheus metrics, for loopback scrapers or holders of METRICS_TOKEN; 404 for others."""
    if not scrape_allowed():
        abort(404)
    body = generate_latest(_Scrape(_process_registry()))
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


csrf.exempt(bp)


def scrape_allowed() -> bool:
    """The bearer token, or a direct loopback connection to a host that isn't a store's."""
    token = current_app.config.get("METRICS_TOKEN")
    offered = _bearer_token()
    if token and offered is not None:
        return hmac.compare_digest(offered.encode(), token.encode())
    return _direct_from_loopback() and not _store_host()


def _bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _direct_from_loopback() -> bool:
    """Whether the TCP peer is loopback and no proxy passed the request on.

    The peer is the address gunicorn saw, before ProxyFix replaced it with X-Forwarded-For.
    A request a local nginx passed on comes from loopback too, so any forwarding header means
    "from elsewhere": the proxy adds one to everything it passes.
    """
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    peer = original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR") or ""
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    if not (address.is_loopback or (mapped is not None and mapped.is_loopback)):
        return False
    return not any(name in request.headers for name in FORWARDING_HEADERS)


def _store_host() -> bool:
    """Whether the Host names anything but the platform, localhost or an IP address.

    A store's subdomain or custom domain never shows metrics without the token.
    """
    from tenants.hosts import classify_host

    raw = (request.headers.get("Host") or "").strip().lower()
    if raw.startswith("["):
        return False  # an IPv6 literal
    name = raw.rpartition(":")[0] if ":" in raw else raw
    if name == "localhost":
        return False
    try:
        ipaddress.ip_address(name)
        return False
    except ValueError:
        pass
    return classify_host(raw, current_app.config["PLATFORM_HOST"]).kind != "platform"


def _process_registry():
    """This process's metrics, or every gunicorn worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


class _Scrape:
    """The process metrics followed by the gauges read from the database and Redis now."""

    def __init__(self, base):
        self.base = base

    def collect(self):
        yield from self.base.collect()
        yield from database_gauges()
        if not current_app.config["EMBEDDED"]:
            yield from queue_gauges()


def database_gauges():
    """Webhook lag and stock-sync progress; only `pasar_database_up 0` if the database fails."""
    from sqlalchemy import func, select, text

    from app import database_outage
    from app.database import utcnow
    from app.extensions import db
    from app.payments.models import WebhookEvent
    from app.stocksync.models import WORKING, ImportRun
    from tenants.rls import all_stores

    up = GaugeMetricFamily("pasar_database_up", "1 if the database answered this scrape.")
    try:
        with all_stores("metrics: webhook lag and stock-sync progress of every store"):
            if db.session.get_bind().dialect.name == "postgresql":
                # A scrape must never hang on a slow database; SET LOCAL ends with the transaction.
                db.session.execute(text("SET LOCAL statement_timeout = 2000"))
            oldest = db.session.scalar(
                select(func.min(WebhookEvent.received_at)).where(WebhookEvent.status == "received")
            )
            running, done, total = db.session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(ImportRun.processed_rows), 0),
                    func.coalesce(func.sum(ImportRun.total_rows), 0),
                ).where(ImportRun.status.in_(WORKING))
            ).one()
    except Exception as exc:
        if database_outage.is_unreachable(exc):
            database_outage.note_down(exc)  # logged once per outage, not once per scrape
        else:
            log.warning("metrics: database gauges unavailable", exc_info=True)
        with contextlib.suppress(Exception):
            db.session.rollback()
        up.add_metric([], 0)
        yield up
        return
    db.session.rollback()  # read only; ends the transaction (and its statement timeout)
    up.add_metric([], 1)
    yield up
    lag = 0.0 if oldest is None else max((utcnow() - oldest).total_seconds(), 0.0)
    yield GaugeMetricFamily(
        "pasar_webhook_lag_seconds",
        "Age of the oldest provider webhook event not applied yet (0 when none waits).",
        value=lag,
    )
    yield GaugeMetricFamily(
        "pasar_stock_syncs_running",
        "Stock syncs queued or working (previewing, applying, undoing).",
        value=running,
    )
    yield GaugeMetricFamily(
        "pasar_stock_sync_rows_done",
        "Rows processed so far by the running stock syncs.",
        value=done,
    )
    yield GaugeMetricFamily(
        "pasar_stock_sync_rows_total", "Rows in all the running stock syncs.", value=total
    )


def queue_gauges():
    """RQ queue depths and failed-job counts, in one round trip; `pasar_redis_up 0` if down."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from rq import Queue
    from rq.registry import FailedJobRegistry

    from app.background import QUEUES
    from app.extensions import redis_client

    up = GaugeMetricFamily("pasar_redis_up", "1 if Redis answered this scrape.")
    try:
        connection = redis_client.get()
        with connection.pipeline(transaction=False) as pipe:
            for name in QUEUES:
                pipe.llen(Queue(name, connection=connection).key)
                # The registry's own count() cleans up first, a write; a scrape only reads.
                pipe.zcard(FailedJobRegistry(name, connection=connection).key)
            values = pipe.execute()
    except Exception as exc:
        # An outage is what pasar_redis_up says, every scrape; the worker logs it once.
        level = logging.DEBUG if isinstance(exc, RedisConnectionError) else logging.WARNING
        log.log(level, "metrics: Redis gauges unavailable (%s: %s)", type(exc).__name__, exc)
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield up
    depth = GaugeMetricFamily(
        "pasar_rq_queue_depth", "Jobs waiting in the queue.", labels=["queue"]
    )
    failed = GaugeMetricFamily(
        "pasar_rq_failed_jobs", "Jobs in the queue's failed registry.", labels=["queue"]
    )
    for index, name in enumerate(QUEUES):
        depth.add_metric([name], values[2 * index])
        failed.add_metric([name], values[2 * index + 1])
    yield depth
    yield failed
