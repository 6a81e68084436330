"""Stock holds: held units are nobody else's, never more than stock, released when they run out,
turned into the sale when the order is placed; races on PostgreSQL hold exactly what there is."""

import random
import secrets
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.cart import service as cart_service
from app.cart.models import Cart, CartItem
from app.catalog.models import Variant
from app.catalog.service import VariantData
from app.database import utcnow
from app.extensions import db
from app.inventory import holds
from app.inventory.models import StockHold
from app.inventory.service import apply_movement, ledger_total
from app.orders.pricing import ShippingRate, TaxRule
from app.orders.service import Checkout, SoldOut, place_order
from tenants.context import store_context
from tests.factories import make_product


def drop(store, stock=10, sku="DROP"):
    product = make_product(store, f"Drop {sku}", variants=[VariantData(sku, 9900, stock=stock)])
    return product.variants[0].id


def make_cart(app, store, lines) -> int:
    """A guest cart with these (variant_id, quantity) lines; its id."""
    with app.app_context():
        cart = Cart(store_id=store.id, token=secrets.token_urlsafe(32))
        db.session.add(cart)
        db.session.flush()
        for variant_id, quantity in lines:
            db.session.add(
                CartItem(
                    store_id=store.id,
                    cart_id=cart.id,
                    variant_id=variant_id,
                    quantity=quantity,
                    price_seen=9900,
                )
            )
        db.session.commit()
        return cart.id


def hold(app, store, cart_id, **kwargs) -> holds.HoldStatus:
    with app.app_context(), store_context(store.id) as current:
        result = holds.hold_cart(current, db.session.get(Cart, cart_id), **kwargs)
        db.session.commit()
        return result


def counts(app, variant_id):
    """(stock, held, units in active hold rows, ledger) of a variant."""
    with app.app_context():
        variant = db.session.get(Variant, variant_id)
        rows = db.session.scalar(
            select(func.coalesce(func.sum(StockHold.quantity), 0)).where(
                StockHold.variant_id == variant_id, StockHold.status == "active"
            )
        )
        return variant.stock, variant.held, rows, ledger_total(variant_id)


def available(app, variant_id, cart_id=None) -> int:
    with app.app_context():
        variant = db.session.get(Variant, variant_id)
        return holds.available_for([variant], cart_id)[variant_id]


def order(store, variant_id, quantity=1) -> Checkout:
    return Checkout(
        email="sam@example.com",
        lines=[(variant_id, quantity)],
        idempotency_key=uuid.uuid4().hex,
        shipping_address={
            "full_name": "Sam",
            "line1": "1 Market St",
            "city": "San Francisco",
            "region": "US-CA",
            "postal_code": "94105",
            "country": "US",
        },
        shipping=ShippingRate(flat=0, free_over=None),
        tax=TaxRule(rate_basis_points=0),
    )


def test_a_hold_keeps_units_from_everyone_else_but_not_from_its_own_cart(app, store_a):
    variant = drop(store_a, stock=3)
    mine = make_cart(app, store_a, [(variant, 2)])
    result = hold(app, store_a, mine)
    assert result.expires_at is not None and result.short == []
    assert 9 * 60 < result.seconds_left() <= 10 * 60  # the default hold time
    assert counts(app, variant) == (3, 2, 2, 3)  # held, not moved: ledger still equals stock
    assert available(app, variant) == 1
    assert available(app, variant, mine) == 3


def test_holds_never_take_more_than_is_on_hand(app, store_a):
    variant = drop(store_a, stock=3)
    first = make_cart(app, store_a, [(variant, 2)])
    second = make_cart(app, store_a, [(variant, 2)])
    third = make_cart(app, store_a, [(variant, 1)])
    hold(app, store_a, first)
    partly = hold(app, store_a, second)
    assert [(s.wanted, s.held) for s in partly.short] == [(2, 1)]
    nothing = hold(app, store_a, third)
    assert nothing.expires_at is None and [(s.wanted, s.held) for s in nothing.short] == [(1, 0)]
    assert counts(app, variant) == (3, 3, 3, 3)
    assert available(app, variant) == 0


def test_one_cart_can_hold_only_so_much(app, store_a):
    app.config.update(HOLD_MAX_PER_VARIANT=2, HOLD_MAX_PER_CART=3)
    big, other = drop(store_a, stock=50, sku="BIG"), drop(store_a, stock=50, sku="OTHER")
    cart = make_cart(app, store_a, [(big, 10), (other, 10)])
    result = hold(app, store_a, cart)
    assert {(s.variant_id, s.held) for s in result.short} == {(big, 2), (other, 1)}
    assert counts(app, big)[1] == 2 and counts(app, other)[1] == 1


def test_holding_again_keeps_the_timer_and_follows_the_cart(app, store_a):
    variant = drop(store_a, stock=10)
    cart = make_cart(app, store_a, [(variant, 2)])
    start = utcnow()
    first = hold(app, store_a, cart, now=start)
    with app.app_context():
        db.session.execute(update(CartItem).where(CartItem.cart_id == cart).values(quantity=4))
        db.session.commit()
    again = hold(app, store_a, cart, now=start + timedelta(minutes=5))
    assert again.expires_at == first.expires_at  # re-entering checkout doesn't reset it
    assert counts(app, variant)[:3] == (10, 4, 4)


def test_removing_a_line_or_changing_its_quantity_releases_what_it_held(app, store_a):
    variant = drop(store_a, stock=10)
    cart = make_cart(app, store_a, [(variant, 3)])
    hold(app, store_a, cart)
    with app.app_context(), store_context(store_a.id) as store:
        item = db.session.scalar(select(CartItem).where(CartItem.cart_id == cart))
        cart_service.update_quantity(store, db.session.get(Cart, cart), item, "1")
        db.session.commit()
    assert counts(app, variant)[:3] == (10, 1, 1)
    with app.app_context(), store_context(store_a.id) as store:
        item = db.session.scalar(select(CartItem).where(CartItem.cart_id == cart))
        cart_service.remove_item(store, db.session.get(Cart, cart), item)
        db.session.commit()
    assert counts(app, variant)[:3] == (10, 0, 0)


def test_an_expired_hold_never_stops_a_buyer_and_the_sweep_releases_the_rest(app, store_a):
    variant = drop(store_a, stock=1)
    lapsed = make_cart(app, store_a, [(variant, 1)])
    hold(app, store_a, lapsed)
    with app.app_context(), store_context(store_a.id) as store, pytest.raises(SoldOut):
        place_order(store, order(store, variant))
    with app.app_context():
        db.session.execute(update(StockHold).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert available(app, variant) == 1  # reads ignore an expired hold at once
    with app.app_context(), store_context(store_a.id) as store:
        place_order(store, order(store, variant))  # releases it lazily, then sells
    assert counts(app, variant) == (0, 0, 0, 0)
    with app.app_context():
        assert db.session.scalar(select(StockHold.status)) == "expired"
        status = holds.status(db.session.get(Cart, lapsed))
        assert status.expired and status.expires_at is None

    other = drop(store_a, stock=5, sku="OTHER")
    cart = make_cart(app, store_a, [(other, 2)])
    hold(app, store_a, cart)
    with app.app_context():
        later = utcnow() + timedelta(minutes=11)
        assert holds.release_expired(now=later) == 1
        assert holds.release_expired(now=later) == 0  # twice is harmless
        db.session.commit()
    assert counts(app, other) == (5, 0, 0, 5)


def test_placing_the_order_turns_the_hold_into_the_sale(app, store_a):
    variant = drop(store_a, stock=2)
    cart = make_cart(app, store_a, [(variant, 2)])
    hold(app, store_a, cart)
    with app.app_context(), store_context(store_a.id) as store:
        holds.convert_for_order(store, db.session.get(Cart, cart), [variant])
        place_order(store, order(store, variant, 2))
    assert counts(app, variant) == (0, 0, 0, 0)
    with app.app_context():
        assert db.session.scalar(select(StockHold.status)) == "converted"


def test_a_refused_order_keeps_its_hold(app, store_a):
    variant = drop(store_a, stock=2)
    cart = make_cart(app, store_a, [(variant, 1)])
    hold(app, store_a, cart)
    with app.app_context(), store_context(store_a.id) as store:
        holds.convert_for_order(store, db.session.get(Cart, cart), [variant])
        with pytest.raises(SoldOut):
            place_order(store, order(store, variant, 3))
    assert counts(app, variant) == (2, 1, 1, 2)


def test_more_time_at_most_twice_and_only_near_the_end(app, store_a):
    variant = drop(store_a)
    cart = make_cart(app, store_a, [(variant, 1)])
    start = utcnow()
    hold(app, store_a, cart, now=start)
    with app.app_context(), store_context(store_a.id) as store:
        the_cart = db.session.get(Cart, cart)
        with pytest.raises(holds.HoldError, match="last two minutes"):
            holds.extend(store, the_cart, now=start + timedelta(minutes=1))
        first = holds.extend(store, the_cart, now=start + timedelta(minutes=9))
        assert first.extensions == 1
        assert first.expires_at == start + timedelta(minutes=19)
        second = holds.extend(store, the_cart, now=start + timedelta(minutes=18))
        assert second.extensions == 2
        with pytest.raises(holds.HoldError, match="all the extra time"):
            holds.extend(store, the_cart, now=start + timedelta(minutes=27))
        with pytest.raises(holds.HoldError, match="run out"):
            holds.extend(store, the_cart, now=start + timedelta(minutes=29))


def test_the_vendor_can_count_stock_below_what_is_held_and_sales_stop(app, store_a):
    variant = drop(store_a, stock=3)
    cart = make_cart(app, store_a, [(variant, 2)])
    hold(app, store_a, cart)
    with app.app_context():
        apply_movement(store_a.id, variant, -2, "adjust", reason="broken")
        db.session.commit()
    assert counts(app, variant) == (1, 2, 2, 1)
    assert available(app, variant) == 0
    with app.app_context(), store_context(store_a.id) as store, pytest.raises(SoldOut):
        place_order(store, order(store, variant))


@pytest.mark.backends("postgresql")
def test_two_hundred_shoppers_racing_for_ten_units_get_exactly_ten_holds(app, store_a):
    variant = drop(store_a, stock=10)
    carts = [make_cart(app, store_a, [(variant, 1)]) for _ in range(200)]
    barrier = threading.Barrier(200, timeout=60)
    held, errors = [], []

    def shopper(cart_id):
        barrier.wait()
        try:
            with app.app_context(), store_context(store_a.id) as store:
                result = holds.hold_cart(store, db.session.get(Cart, cart_id))
                db.session.commit()
                if result.expires_at is not None:
                    held.append(cart_id)
                db.session.remove()
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=shopper, args=(c,)) for c in carts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(held) == 10
    assert counts(app, variant) == (10, 10, 10, 10)
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(StockHold).where(StockHold.status == "active")
            )
            == 10
        )


@pytest.mark.backends("postgresql")
def test_holds_sales_and_expiry_interleaved_keep_stock_whole(app, store_a):
    variant = drop(store_a, stock=20)
    carts = [make_cart(app, store_a, [(variant, random.randint(1, 3))]) for _ in range(40)]
    stop = threading.Event()
    seen, errors = [], []

    def watch():
        # Committed state, read again and again while everything runs: never oversold.
        with app.app_context():
            while not stop.is_set():
                stock, held = db.session.execute(
                    select(Variant.stock, Variant.held).where(Variant.id == variant)
                ).one()
                seen.append((stock, held))
                db.session.rollback()

    def shopper(n, cart_id):
        try:
            with app.app_context(), store_context(store_a.id) as store:
                cart = db.session.get(Cart, cart_id)
                # Some holds are made already past their time, so the sweep and sales release them.
                now = utcnow() - (timedelta(minutes=30) if n % 3 == 0 else timedelta(0))
                holds.hold_cart(store, cart, now=now)
                db.session.commit()
                if n % 2 == 0:
                    try:
                        holds.convert_for_order(store, cart, [variant])
                        quantity = db.session.scalar(
                            select(CartItem.quantity).where(CartItem.cart_id == cart_id)
                        )
                        place_order(store, order(store, variant, quantity))
                    except SoldOut:
                        db.session.rollback()
                elif n % 5 == 1:
                    holds.release_expired()
                    db.session.commit()
                db.session.remove()
        except Exception as exc:
            errors.append(repr(exc))

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=shopper, args=(n, c)) for n, c in enumerate(carts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    with app.app_context():
        holds.release_expired(now=utcnow() + timedelta(hours=1))
        db.session.commit()
    stop.set()
    watcher.join(timeout=30)
    assert errors == []
    assert seen and all(stock >= held >= 0 for stock, held in seen)
    stock, held, in_rows, ledger = counts(app, variant)
    assert stock == ledger and held == in_rows == 0
    assert 0 <= stock < 20  # some sold


def test_the_periodic_job_releases_every_stores_expired_holds(app, store_a, store_b):
    from jobs.maintenance import release_expired_holds_job

    ours, theirs = drop(store_a, stock=2), drop(store_b, stock=2, sku="B-DROP")
    hold(app, store_a, make_cart(app, store_a, [(ours, 1)]))  # still running
    an_hour_ago = utcnow() - timedelta(hours=1)
    hold(app, store_a, make_cart(app, store_a, [(ours, 1)]), now=an_hour_ago)
    hold(app, store_b, make_cart(app, store_b, [(theirs, 2)]), now=an_hour_ago)
    with app.app_context():
        assert release_expired_holds_job() == 2
        assert release_expired_holds_job() == 0
    assert counts(app, ours) == (2, 1, 1, 2) and counts(app, theirs) == (2, 0, 0, 2)


def test_embedded_mode_releases_expired_holds_itself_and_tells_open_pages(
    app, store_a, monkeypatch
):
    """No cron runs without Redis: each web process's sweep releases what ran out, and the
    store's stock channel (open product pages) hears it; in production mode cron does it."""
    import threading

    from app.background import embedded_sweep
    from app.live import live, stock_channel

    variant = drop(store_a, stock=1)
    hold(app, store_a, make_cart(app, store_a, [(variant, 1)]), now=utcnow() - timedelta(hours=1))
    with app.app_context():
        since = live().backend.last_id(stock_channel(store_a.id))
    monkeypatch.setattr(embedded_sweep, "_started_in", None)
    monkeypatch.setitem(app.config, "EMBEDDED_HOLD_SWEEP_SECONDS", 0.05)
    monkeypatch.setitem(app.config, "EMBEDDED", False)
    assert embedded_sweep.start(app) is None  # production mode: `flask cron` runs the job
    monkeypatch.setitem(app.config, "EMBEDDED", True)
    assert embedded_sweep.start(app) is None  # the tests' own apps don't sweep behind them
    stopping = threading.Event()
    app.testing = False  # as a served app (only for starting: the harness reads as TESTING)
    try:
        thread = embedded_sweep.start(app, stopping)
        assert embedded_sweep.start(app, stopping) is None  # one per process
    finally:
        app.testing = True
    try:
        for _ in range(200):
            if counts(app, variant) == (1, 0, 0, 1):
                break
            stopping.wait(0.05)
    finally:
        stopping.set()
        thread.join(5)
    assert counts(app, variant) == (1, 0, 0, 1)
    with app.app_context():
        heard = live().backend.history(stock_channel(store_a.id), since)
        assert embedded_sweep.sweep_once(app) == 0  # safe to run again
    assert [(e.name, e.data) for e in heard] == [("stock", {"variants": [variant]})]


def test_the_hourly_repair_puts_held_back_to_what_the_holds_say(app, store_a):
    from jobs.maintenance import reconcile_stock_job

    variant, other = drop(store_a, stock=5), drop(store_a, stock=5, sku="OTHER")
    cart = make_cart(app, store_a, [(variant, 2)])
    hold(app, store_a, make_cart(app, store_a, [(other, 1)]))
    hold(app, store_a, cart)
    with app.app_context():
        db.session.execute(update(StockHold).where(StockHold.cart_id == cart).values(quantity=1))
        db.session.execute(update(Variant).where(Variant.id == other).values(held=3))
        db.session.commit()
        assert reconcile_stock_job() == 2
        assert reconcile_stock_job() == 0
    assert counts(app, variant)[:3] == (5, 1, 1) and counts(app, other)[:3] == (5, 1, 1)
