"""Live updates (app/live/): who may listen to which channel, and what a stream carries.

The publish → stream tests run on the app's own backend: real Redis when TEST_REDIS_URL is set,
the embedded SQLite events table otherwise (`test_embedded_mode_*` always uses the latter).
"""

import time

import pytest

from app.catalog.service import VariantData
from app.extensions import db
from app.inventory.service import apply_movement
from app.live import (
    CONSOLE,
    admin_channel,
    availability_changed,
    live,
    order_channel,
    publish,
    stock_channel,
)
from app.orders.links import order_key
from app.orders.models import Order
from tests.accounts_helpers import sign_in_with_factor
from tests.conftest import BACKENDS, make_app, sign_in_as
from tests.factories import add_member, make_store, make_user
from tests.web.order_helpers import make_order, make_variant, owner_of

# One backend for who may listen and what a stream says: HTTP and Redis, not SQL.
pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture
def quick(app, monkeypatch):
    """Streams with a short heartbeat that end by themselves after a few seconds."""
    monkeypatch.setitem(app.config, "LIVE_HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setitem(app.config, "LIVE_MAX_SECONDS", 5)
    monkeypatch.setitem(app.config, "LIVE_MAX_STREAMS", 0)
    monkeypatch.setattr("app.live._paused_until", 0.0)  # an earlier outage test's pause
    return app


@pytest.fixture
def as_store(app):
    """Run domain code for one store outside a request (row-level security on PostgreSQL)."""
    from tenants.context import store_context

    return lambda store: store_context(store.id)


def opened(client, path, **kwargs):
    """Open a stream (unbuffered): the response, and an iterator over its text chunks."""
    response = client.get(path, buffered=False, **kwargs)
    return response, (chunk.decode() for chunk in response.response)


def read_until(chunks, wanted, limit=100):
    """Chunks up to and including the first that contains `wanted` (all of them if none)."""
    seen = []
    for chunk in chunks:
        seen.append(chunk)
        if wanted in chunk or len(seen) >= limit:
            break
    return seen


def order_of(app, store, number):
    with app.app_context():
        found = db.session.query(Order).filter_by(store_id=store.id, number=number).one()
        return found.id, order_key(found)


@pytest.fixture
def order_a(app, store_a):
    """A pending order in store A: (number, id, key)."""
    number = make_order(app, store_a, make_variant(store_a, "LAMP", 4500), quantity=1)["number"]
    order_id, key = order_of(app, store_a, number)
    return number, order_id, key


# Who may listen: (client kind, path) -> status. A store's stock is public; an order is its
# shopper's (or the link holder's) and its store's staff's; the dashboard is the store's members';
# the console is the platform admins', on the platform host only.
@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 200), ("other_owner", 200)],
)
def test_the_stock_channel_is_public(quick, client_for, store_a, who, expected):
    client = client_for(store_a)
    if who == "other_owner":
        sign_in_as(client, owner_of(quick, make_store("bravo")))
    response = client.get("/live/stock?variants=1,2", buffered=False)
    assert response.status_code == expected
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    response.close()


def test_the_order_channel_opens_with_the_orders_key_only(quick, client_for, store_a, order_a):
    number, _, key = order_a
    client = client_for(store_a)
    response = client.get(f"/live/orders/{number}?key={key}", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    response.close()
    assert client.get(f"/live/orders/{number}").status_code == 404
    assert client.get(f"/live/orders/{number}?key=junk").status_code == 404
    assert client.get(f"/live/orders/{number + 1}?key={key}").status_code == 404


@pytest.mark.backends(*BACKENDS)  # another store's order
def test_another_stores_order_key_opens_nothing_here(quick, client_for, store_a, store_b):
    """Store B's order and key, asked of store A's host (same number): 404."""
    number_b = make_order(quick, store_b, make_variant(store_b, "B-LAMP", 100), quantity=1)
    _, key_b = order_of(quick, store_b, number_b["number"])
    make_order(quick, store_a, make_variant(store_a, "A-LAMP", 100), quantity=1)
    client = client_for(store_a)
    assert client.get(f"/live/orders/{number_b['number']}?key={key_b}").status_code == 404


@pytest.mark.backends(*BACKENDS)  # another store's owner
def test_the_order_channel_is_open_to_the_stores_staff_not_to_other_vendors(
    quick, client_for, store_a, order_a
):
    number, _, _ = order_a
    staff = make_user("staff@example.com")
    add_member(store_a, staff, "staff")
    member = client_for(store_a)
    sign_in_as(member, staff)
    response = member.get(f"/live/orders/{number}", buffered=False)
    assert response.status_code == 200
    response.close()
    stranger = client_for(store_a)
    sign_in_as(stranger, owner_of(quick, make_store("bravo")))
    assert stranger.get(f"/live/orders/{number}").status_code == 404
    shopper = client_for(store_a)
    sign_in_as(shopper, make_user("someone@example.com"))
    assert shopper.get(f"/live/orders/{number}").status_code == 404


@pytest.mark.backends(*BACKENDS)  # another store's owner
def test_the_dashboard_channel_is_for_the_stores_members(quick, client_for, store_a, store_b):
    owner = client_for(store_a)
    sign_in_as(owner, owner_of(quick, store_a))
    response = owner.get("/live/admin", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    response.close()
    # Store B's owner, on store A's host: 404, as for every other dashboard URL of store A.
    vendor_b = client_for(store_a)
    sign_in_as(vendor_b, owner_of(quick, store_b))
    assert vendor_b.get("/live/admin").status_code == 404
    anonymous = client_for(store_a)
    assert anonymous.get("/live/admin").status_code == 302


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_the_console_channel_is_for_platform_admins_on_the_platform_host(
    quick, client_for, store_a
):
    vendor = client_for(None)
    sign_in_as(vendor, owner_of(quick, store_a))
    assert vendor.get("/console/live/").status_code == 404
    # A vendor's own store host has no console at all.
    on_store = client_for(store_a)
    sign_in_as(on_store, owner_of(quick, store_a))
    assert on_store.get("/console/live/").status_code == 404
    admin = client_for(None)
    sign_in_with_factor(admin, make_user("root@example.com", superuser=True))
    response = admin.get("/console/live/", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    # An open console tab reconnects its stream by itself: that is not the admin at work, so
    # it must not slide the console cookie's idle expiry (the tab would keep it alive forever).
    assert not any("pasar_console=" in c for c in response.headers.getlist("Set-Cookie"))
    response.close()
    assert client_for(None).get("/console/live/").status_code == 302  # anonymous: sign in


@pytest.mark.backends(*BACKENDS)  # stock writes, commit and rollback
def test_a_stock_movement_reaches_an_open_stream_after_its_commit(
    quick, as_store, client_for, store_a, store_b
):
    """The publish → stream path through the app's backend (Redis, or embedded SQLite)."""
    variant = make_variant(store_a, "LAMP", 100, stock=5)
    other = make_variant(store_b, "LAMP-B", 100, stock=5)
    response, chunks = opened(client_for(store_a), "/live/stock")
    assert next(chunks) == "retry: 3000\n\n"  # subscribed by now
    with quick.app_context(), as_store(store_b):
        apply_movement(store_b.id, other, -1, "adjust")  # another store's: not heard here
        db.session.commit()
    with quick.app_context(), as_store(store_a):
        apply_movement(store_a.id, variant, -1, "adjust")
        db.session.rollback()  # rolled back: never published
        apply_movement(store_a.id, variant, -2, "adjust")
        db.session.commit()
    seen = read_until(chunks, "event: stock")
    response.close()
    events = [chunk for chunk in seen if chunk.startswith("id: ")]
    assert len(events) == 1
    assert "event: stock" in events[0] and f'"variants": [{variant}]' in events[0]


def test_a_product_page_hears_only_its_own_variants(quick, client_for, store_a):
    mine = make_variant(store_a, "MINE", 100, stock=5)
    theirs = make_variant(store_a, "THEIRS", 100, stock=5)
    response, chunks = opened(client_for(store_a), f"/live/stock?variants={mine}")
    next(chunks)
    with quick.app_context():
        publish(stock_channel(store_a.id), "stock", {"variants": [theirs]})
        publish(stock_channel(store_a.id), "stock", {"variants": [mine]})
    seen = read_until(chunks, "event: stock")
    response.close()
    events = [chunk for chunk in seen if chunk.startswith("id: ")]
    assert len(events) == 1 and f"[{mine}]" in events[0]


@pytest.mark.backends(*BACKENDS)  # one transaction's events
def test_the_order_page_hears_paid_and_the_dashboard_hears_the_order(quick, client_for, store_a):
    """Placing an order and its payment publish to the order, the dashboard and the console."""
    variant = make_variant(store_a, "LAMP", 4500)
    with quick.app_context():
        backend = live().backend
        admin_since = backend.last_id(admin_channel(store_a.id))
        console_since = backend.last_id(CONSOLE)
    number = make_order(quick, store_a, variant, quantity=1)["number"]
    order_id, key = order_of(quick, store_a, number)
    with quick.app_context():
        placed = [e.name for e in backend.history(admin_channel(store_a.id), admin_since)]
        assert sorted(placed) == ["orders", "stock"]  # one of each for the whole transaction
        assert [e.name for e in backend.history(CONSOLE, console_since)] == ["counters"]
        since = backend.last_id(order_channel(order_id))
    response, chunks = opened(client_for(store_a), f"/live/orders/{number}?key={key}&since={since}")
    next(chunks)
    with quick.app_context():
        from app.orders.service import transition

        transition(db.session.get(Order, order_id), "paid", note="test")
        db.session.commit()
    seen = read_until(chunks, "event: status")
    response.close()
    assert 'data: {"status": "paid"}' in seen[-1]


def test_last_event_id_resumes_with_what_was_missed(quick, client_for, store_a):
    channel = stock_channel(store_a.id)
    with quick.app_context():
        ids = [publish(channel, "stock", {"variants": [n]}) for n in (1, 2, 3)]
    response, chunks = opened(client_for(store_a), "/live/stock", headers={"Last-Event-ID": ids[0]})
    assert next(chunks).startswith("retry: ")
    replayed = [next(chunks), next(chunks)]
    response.close()
    assert [chunk.splitlines()[0] for chunk in replayed] == [f"id: {ids[1]}", f"id: {ids[2]}"]
    assert '"variants": [3]' in replayed[1]
    # `since` (the page's render) works the same; an unknown id replays nothing.
    response, chunks = opened(client_for(store_a), f"/live/stock?since={ids[1]}")
    next(chunks)
    assert next(chunks).splitlines()[0] == f"id: {ids[2]}"
    response.close()
    response, chunks = opened(client_for(store_a), "/live/stock?since=junk")
    next(chunks)
    assert next(chunks) == ": heartbeat\n\n"
    response.close()


def test_a_quiet_stream_sends_heartbeats_and_ends_when_its_time_is_up(
    quick, client_for, store_a, monkeypatch
):
    monkeypatch.setitem(quick.config, "LIVE_MAX_SECONDS", 1)
    started = time.monotonic()
    response, chunks = opened(client_for(store_a), "/live/stock")
    seen = list(chunks)
    response.close()
    assert seen[0] == "retry: 3000\n\n"
    assert seen[1:] and set(seen[1:]) == {": heartbeat\n\n"}
    assert time.monotonic() - started < 10  # it ended by itself (the browser reconnects)
    with quick.app_context():
        assert live().hub.count() == 0  # and let go of its subscription


def test_a_full_process_answers_204_so_the_page_keeps_polling(quick, client_for, store_a):
    quick.config["LIVE_MAX_STREAMS"] = 1
    first, chunks = opened(client_for(store_a), "/live/stock")
    next(chunks)  # subscribed now
    assert client_for(store_a).get("/live/stock").status_code == 204
    first.close()
    again = client_for(store_a).get("/live/stock", buffered=False)
    assert again.status_code == 200
    again.close()


def test_availability_changed_publishes_for_stock_holds(quick, store_a):
    """The hook stock holds call: the store's stock channel and its dashboard hear it."""
    with quick.app_context():
        since = live().backend.last_id(stock_channel(store_a.id))
        availability_changed(store_a.id, [7, 3, 7])
        assert live().backend.history(stock_channel(store_a.id), since) == []  # not yet
        db.session.commit()
        heard = live().backend.history(stock_channel(store_a.id), since)
        assert [(e.name, e.data) for e in heard] == [("stock", {"variants": [3, 7]})]
        assert live().backend.history(admin_channel(store_a.id), since)[-1].data == {
            "variants": [3, 7]
        }


@pytest.mark.backends("sqlite")
def test_embedded_mode_carries_events_between_processes(database_urls, tmp_path):
    """Without Redis: two apps (two gunicorn processes) share the SQLite events table."""
    shared = str(tmp_path / "shared.sqlite")
    one = make_app(database_urls("sqlite"), None, SHARED_STATE_PATH=shared)
    two = make_app(database_urls("sqlite"), None, SHARED_STATE_PATH=shared)
    with one.app_context():
        hub = live().hub
        subscription = hub.subscribe("store:1:stock")
    with two.app_context():
        sent = publish("store:1:stock", "stock", {"variants": [5]})
    heard = subscription.get(timeout=5)
    hub.unsubscribe(subscription)
    hub.close()
    assert heard is not None and heard.id == sent and heard.data == {"variants": [5]}


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_the_pages_listen_where_they_show_what_changes(quick, client_for, store_a, order_a):
    """Each page connects to its channel (starting after its latest event) and names the panels
    that refresh on its events; the old polls stay only as the fallback."""
    from tests.factories import make_product

    product = make_product(store_a, "Mug", variants=[VariantData("MUG-1", 1200, stock=3)])
    variant_id = product.variants[0].id
    shopper = client_for(store_a)
    page = shopper.get(f"/products/{product.slug}").text
    assert 'sse-connect="/live/stock?since=' in page and f"variants={variant_id}" in page
    assert 'id="buy-box"' in page and 'hx-trigger="sse:stock"' in page
    shopper.post("/cart/items", data={"variant_id": variant_id, "quantity": "1"})
    cart = shopper.get("/cart").text
    assert f"variants={variant_id}" in cart and 'hx-select="#cart-lines"' in cart
    number, _, key = order_a
    status = shopper.get(f"/orders/{number}?key={key}").text
    assert f'sse-connect="/live/orders/{number}?since=' in status
    assert 'hx-trigger="sse:status, every 2s" data-live-poll' in status
    owner = client_for(store_a)
    sign_in_as(owner, owner_of(quick, store_a))
    home = owner.get("/admin/").text
    assert 'sse-connect="/live/admin?since=' in home
    assert 'hx-trigger="sse:orders, every 10s" data-live-poll' in home
    assert 'id="low-stock" hx-get="/admin/low-stock" hx-trigger="sse:stock"' in home
    fragment = owner.get("/admin/low-stock", headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith('<div id="low-stock"') and "<html" not in fragment


@pytest.mark.parametrize("state", ["suspended", "unpublished"])
def test_a_closed_stores_stock_is_not_public_but_its_dashboard_stream_stays(
    quick, client_for, store_a, state
):
    """Like its pages: a suspended (503) or unpublished (404) store's stock channel is closed to
    shoppers; its members' dashboard, and so its stream, still work."""
    from tenants.models import Store

    with quick.app_context():
        row = db.session.get(Store, store_a.id)
        if state == "suspended":
            row.status = "suspended"
        else:
            row.published_at = None
        db.session.commit()
    assert client_for(store_a).get("/live/stock").status_code == (
        503 if state == "suspended" else 404
    )
    owner = client_for(store_a)
    sign_in_as(owner, owner_of(quick, store_a))
    response = owner.get("/live/admin", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    response.close()


def test_two_redis_databases_on_one_server_do_not_hear_each_other(redis_url):
    """Pub/sub channels are server-wide: a deployment on database n+1 (another site, another
    test worker) must not refresh this one's pages."""
    import threading

    from app.live.backends import RedisBackend

    if redis_url is None:
        pytest.skip("needs a real Redis server (TEST_REDIS_URL)")
    base, _, number = redis_url.rpartition("/")
    ours = RedisBackend(redis_url)
    theirs = RedisBackend(f"{base}/{(int(number or 0) + 1) % 16}")
    heard, stopping, ready = [], threading.Event(), threading.Event()
    listener = threading.Thread(target=ours.listen, args=(heard.append, stopping, ready.set))
    listener.start()
    try:
        assert ready.wait(5)
        theirs.publish("stock:1", "stock", {"variants": [9]})
        ours.publish("stock:1", "stock", {"variants": [1]})
        deadline = time.monotonic() + 5
        while not heard and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        stopping.set()
        listener.join(5)
    assert [(e.channel, e.data) for e in heard] == [("stock:1", {"variants": [1]})]


@pytest.mark.parametrize(
    "path, headers",
    [
        ("/live/stock?variants=x,,-1,99999999999999999999999999,%20", {}),
        ("/live/stock?since=99999999999999999999999999-0", {}),
        ("/live/stock?since=-5", {}),
        ("/live/stock", {"Last-Event-ID": "18446744073709551616-18446744073709551616"}),
        ("/live/stock", {"Last-Event-ID": "1-2-3"}),
    ],
    ids=["variants", "huge-since", "negative-since", "huge-last-event-id", "three-parts"],
)
def test_hostile_stream_parameters_get_a_stream_from_now_not_an_error(
    quick, client_for, store_a, path, headers
):
    """Ids and filters come from the browser: anything that isn't an id the backend could have
    given starts the stream from now, and junk variant ids are ignored."""
    response, chunks = opened(client_for(store_a), path, headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert next(chunks).startswith("retry: ")
    assert next(chunks) == ": heartbeat\n\n"  # nothing replayed, nothing raised
    response.close()


@pytest.mark.backends(*BACKENDS)  # an id past any integer
def test_an_order_number_past_any_id_is_404_not_an_error(quick, client_for, store_a):
    client = client_for(store_a)
    assert client.get("/live/orders/99999999999999999999999").status_code == 404
    assert client.get("/live/orders/0").status_code == 404


def test_ids_no_backend_could_have_given_are_not_ids():
    from app.live.backends import RedisBackend, SqliteBackend

    assert RedisBackend.sort_key("1733500000000-3") == (1733500000000, 3)
    for junk in ("", "junk", "-5", "1-2-3", f"{2**64}-0", f"0-{2**64}"):
        assert RedisBackend.sort_key(junk) is None, junk
    assert SqliteBackend.sort_key("42") == 42
    for junk in ("", "junk", "-5", str(2**63)):
        assert SqliteBackend.sort_key(junk) is None, junk


def test_a_stream_whose_history_cant_be_read_ends_cleanly(quick, client_for, store_a, monkeypatch):
    """Redis gone between the view's check and the replay: the stream ends after its retry hint
    (the browser reconnects later, the page polls meanwhile) rather than breaking mid-answer."""
    from app.live import live

    channel = stock_channel(store_a.id)
    with quick.app_context():
        since = publish(channel, "stock", {"variants": [1]})
        backend = live().backend

    def unreachable(*args, **kwargs):
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(backend, "history", unreachable)
    response, chunks = opened(client_for(store_a), f"/live/stock?since={since}")
    assert response.status_code == 200
    assert list(chunks) == ["retry: 3000\n\n"]
    response.close()


def test_a_listener_that_loses_its_connection_ends_the_open_streams_so_they_resume():
    """Pub/sub keeps nothing: events published while a process's listener reconnects would
    never reach its open streams. Losing the connection ends them as if they fell behind, and
    each browser resumes from its last id through the history."""
    import threading

    from app.live import Hub

    attempts = []
    stopping = threading.Event()

    class FlakyBackend:
        def listen(self, deliver, stop, ready=lambda: None):
            attempts.append(1)
            if len(attempts) == 1:
                ready()
                raise ConnectionError("Redis went away")
            ready()
            stopping.wait(5)

    hub = Hub(FlakyBackend())
    hub._stopping = stopping
    first = hub.subscribe("live:1:admin:1")
    try:
        for _ in range(100):
            if len(attempts) >= 2:
                break
            threading.Event().wait(0.05)
        assert first.overflowed, "an open stream was left to miss what came meanwhile"
        later = hub.subscribe("live:1:admin:1")
        assert not later.overflowed  # a stream opened after the listener is back reads on
    finally:
        stopping.set()
