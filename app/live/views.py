"""The Server-Sent Events endpoints: one per channel, each checking who may listen.

The check runs in the view, with the request's database session; the stream itself (the
generator) runs after the request context is gone, so an open stream holds no database
connection, only its place in this process's hub. Every answer starts with a `retry:` hint,
replays what the client missed (`Last-Event-ID`, or `since`, set by the page to just before its
request began, so nothing published while the view read its rows is lost), then
sends events as they come and a comment line as a heartbeat every LIVE_HEARTBEAT_SECONDS.

Production serves these paths from a process meant for long-lived connections (the `stream`
process in the Procfile: gunicorn with gevent workers), routed by path at the proxy. Where they
land on a process whose requests take threads (embedded mode, or no such routing), streams must
not take every thread: one process holds at most LIVE_MAX_STREAMS (4 unless set; the rest get
204 and their pages keep polling), each for LIVE_MAX_SECONDS (300), and a stream whose browser
has left (a page change) is noticed within a second instead of at the next heartbeat.
"""

import json
import logging
import select as io_select
import sys
import time

from flask import Response, abort, current_app, g, request, url_for
from flask_login import current_user

from app.accounts.permissions import can, require_store_permission, require_superuser, role_in_store
from app.accounts.twofactor import has_second_factor
from app.live import CONSOLE, admin_channel, live, order_channel, page_since, stock_channel
from app.orders.access import opens_as_shopper, store_order_or_404
from app.orders.models import Order
from tenants.context import current_store, platform_blueprint, store_blueprint
from tenants.query import MAX_ID

log = logging.getLogger(__name__)

bp = store_blueprint("live", __name__, url_prefix="/live")
# No `after_console_request` here: it slides the console cookie's idle expiry, and a console
# tab's stream reconnects by itself (after LIVE_MAX_SECONDS, a dropped connection): that is not
# the admin at work, and it would keep an idle console open for good. `require_superuser` still
# checks the cookie on every connect.
console_bp = platform_blueprint("console_live", __name__, url_prefix="/console/live")

MAX_VARIANT_FILTER = 200


def format_event(event) -> str:
    """One event in the text/event-stream format."""
    return f"id: {event.id}\nevent: {event.name}\ndata: {json.dumps(event.data)}\n\n"


THREADED_MAX_STREAMS = 4  # per process, where each stream holds one of its request threads
THREADED_MAX_SECONDS = 300


def on_gevent() -> bool:
    """True in a gevent worker (the `stream` process): a stream costs memory, not a thread."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


def client_gone(sock) -> bool:
    """True when the browser closed the connection: while a stream is open it sends nothing,
    so a readable socket means end of file."""
    try:
        poller = io_select.poll()  # not select(): a busy process's sockets pass fd 1024
        poller.register(sock, io_select.POLLIN | io_select.POLLHUP | io_select.POLLERR)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def stream(hub, channel, since, *, heartbeat, retry_ms, max_seconds=0, wanted=None, gone=None):
    """The stream's text: retry hint, the events after `since` (a valid id), then live events
    and heartbeats.

    `wanted(event)` filters (a product page hears only its own variants); `max_seconds` > 0 ends
    the stream then (the browser reconnects with Last-Event-ID); `gone()`, checked every second,
    ends it when the browser has left."""
    backend = hub.backend
    subscription = hub.subscribe(channel)
    try:
        yield f"retry: {retry_ms}\n\n"
        seen = backend.sort_key(since)
        try:
            missed = backend.history(channel, since)
        except Exception as exc:  # Redis went away since the view checked: end, and the
            # browser reconnects after `retry` (its page polls meanwhile) instead of a traceback
            log.warning("live: no history for %s (%s: %s)", channel, type(exc).__name__, exc)
            return
        for event in missed:
            seen = backend.sort_key(event.id)
            if wanted is None or wanted(event):
                yield format_event(event)
        ends = time.monotonic() + max_seconds if max_seconds else None
        beat = time.monotonic() + heartbeat
        while True:
            now = time.monotonic()
            wait = min(beat, ends or beat) - now
            if ends is not None and ends <= now:
                return
            if gone is not None:
                if gone():
                    return
                wait = min(wait, 1.0)
            event = subscription.get(timeout=max(wait, 0))
            if subscription.overflowed:
                return  # too far behind: the browser reconnects and resumes from its last id
            if event is None:
                if time.monotonic() >= beat:
                    beat = time.monotonic() + heartbeat
                    yield ": heartbeat\n\n"
                continue
            key = backend.sort_key(event.id)
            if key <= seen:
                continue  # already sent from the history
            seen = key
            if wanted is None or wanted(event):
                yield format_event(event)
    finally:
        hub.unsubscribe(subscription)


def event_stream(channel: str, wanted=None) -> Response:
    """The streaming answer for `channel`, or 204 when this process holds all it may."""
    config = current_app.config
    hub = live().hub
    threaded = not on_gevent()
    limit = config["LIVE_MAX_STREAMS"]
    if limit is None:
        limit = THREADED_MAX_STREAMS if threaded else 0
        if threaded and not request.environ.get("wsgi.multithread", False):
            # A single-threaded worker (gunicorn's sync class) would give a stream its only
            # thread for minutes: it streams nothing, and its pages poll.
            return Response(status=204)
    max_seconds = config["LIVE_MAX_SECONDS"]
    if max_seconds is None:
        max_seconds = THREADED_MAX_SECONDS if threaded else 0
    if limit and hub.count() >= limit:
        # 204 tells EventSource not to retry at once; the page keeps polling meanwhile.
        return Response(status=204)
    since = request.headers.get("Last-Event-ID") or request.args.get("since") or ""
    if hub.backend.sort_key(since[:40]) is None:
        # No id to resume from: from now on. Read before the stream subscribes, and the stream
        # replays the history after it, so an event published in between is sent once.
        try:
            since = hub.backend.last_id(channel)
        except Exception:
            # The backend is down: 503, and EventSource retries (the page polls meanwhile).
            return Response(status=503, headers={"Retry-After": "10"})
    body = stream(
        hub,
        channel,
        since,
        heartbeat=config["LIVE_HEARTBEAT_SECONDS"],
        retry_ms=config["LIVE_RETRY_MS"],
        max_seconds=max_seconds,
        wanted=wanted,
        gone=_gone_check() if threaded else None,
    )
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _gone_check():
    """A check for the browser having left, where the server hands the app its socket."""
    sock = request.environ.get("gunicorn.socket")
    return (lambda: client_gone(sock)) if sock is not None else None


def _variant_filter(text: str | None):
    """`variants=1,2,3` → a filter for stock events naming one of them; None for all."""
    if not text:
        return None
    ids = set()
    for part in text.split(",")[:MAX_VARIANT_FILTER]:
        if part.isdigit() and int(part) <= MAX_ID:
            ids.add(int(part))
    if not ids:
        return None
    return lambda event: bool(ids.intersection(event.data.get("variants", ())))


@bp.get("/stock")
def stock():
    """The store's public stock channel: product pages, the cart and checkout (no sign-in)."""
    return event_stream(
        stock_channel(current_store().id), _variant_filter(request.args.get("variants"))
    )


stock.permission = "public"  # for the role matrix (tests/web/test_roles.py)


def order_for_listener(number: int) -> Order:
    """This store's order, for the holder of its signed link, the shopper who placed it, or
    the store's staff; 404 for anyone else."""
    store = current_store()
    found = store_order_or_404(number)
    if opens_as_shopper(found):
        return found
    # The store's staff; a platform admin's support access needs a second factor, as in /admin.
    member = role_in_store(current_user, store) is not None
    if can(current_user, store, "orders.view") and (member or has_second_factor(current_user)):
        return found
    abort(404)


@bp.get("/orders/<int:number>")
def order(number: int):
    """One order's channel: its status page moves on the moment the payment is applied."""
    return event_stream(order_channel(order_for_listener(number).id))


order.permission = "the order's link or shopper, or orders.view"


@bp.get("/admin")
@require_store_permission("dashboard.view")
def admin():
    """The store's dashboard channel: new orders, stock, stock sync and jobs (members only)."""
    return event_stream(admin_channel(g.store.id))


@console_bp.get("/")
@require_superuser
def console():
    """The console's channel: the overview's counters (platform admins only)."""
    return event_stream(CONSOLE)


def live_url(endpoint: str, **values) -> str:
    """A stream's URL for the page being rendered, resuming from just before its request."""
    return url_for(endpoint, since=page_since(), **values)
