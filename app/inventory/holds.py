"""Stock holds: a cart's units kept for it while the shopper checks out, for the store's hold time.

The rule every page uses: a variant's units for a shopper are its stock on hand (open orders
have already taken theirs) minus the live holds of *other* carts (`available_for`). A shopper's
own hold counts as theirs.

Writing follows the discipline of sales (app/inventory/service.py): `Variant.held` is the sum of
the variant's active holds, changed only by one conditional UPDATE
(`held = held + n WHERE stock - held >= n`), so holds never take more than is on hand and never
go negative (CHECK held >= 0 is the backstop); variants are locked in id order, always before
the hold rows, so two carts (or a cart and the sweep) can't deadlock. A hold that runs out is
released by the periodic sweep (`release_expired` from jobs.maintenance) and, lazily, by every
write that takes a hold or sells the variant, so an expired hold never stops a buyer; reads
ignore expired rows outright. Placing the order turns the cart's holds into the sale in the
same transaction (`convert_for_order`). Holds are not stock movements: the ledger stays equal
to the stock.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context
from flask_babel import gettext
from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy.orm.util import identity_key

from app.cart.models import Cart, CartItem
from app.catalog import cache as catalog_cache
from app.catalog.models import Variant
from app.checkout.models import HOLD_MINUTES_DEFAULT, CheckoutSettings
from app.database import utcnow
from app.extensions import db
from app.inventory.models import StockHold
from app.live import availability_changed
from tenants.models import Store

MAX_EXTENSIONS = 2
EXTEND_WINDOW = timedelta(minutes=2)  # "I need more time" shows when less than this is left


class HoldError(Exception):
    """A hold change that can't be made; `message` is for the shopper."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Shortfall:
    """A cart line that couldn't be held in full."""

    variant_id: int
    wanted: int
    held: int


@dataclass
class HoldStatus:
    """A cart's holds as the checkout shows them."""

    expires_at: datetime | None = None  # when the live holds run out; None: nothing held
    extensions: int = 0
    expired: bool = False  # the cart's last hold ran out (and nothing is held now)
    short: list[Shortfall] = field(default_factory=list)

    def seconds_left(self, now: datetime | None = None) -> int:
        if self.expires_at is None:
            return 0
        return max(0, int((self.expires_at - (now or utcnow())).total_seconds()))

    def clock(self, now: datetime | None = None) -> str:
        """The time left as the countdown starts it: "9:41"."""
        minutes, seconds = divmod(self.seconds_left(now), 60)
        return f"{minutes}:{seconds:02d}"

    def can_extend(self, now: datetime | None = None) -> bool:
        return (
            self.expires_at is not None
            and self.extensions < MAX_EXTENSIONS
            and self.seconds_left(now) > 0
        )


def hold_minutes(store: Store) -> int:
    """The store's hold time in minutes (the default until it saves checkout settings)."""
    minutes = db.session.scalar(
        select(CheckoutSettings.hold_minutes).where(CheckoutSettings.store_id == store.id)
    )
    return minutes or HOLD_MINUTES_DEFAULT


def holds_on_add(store: Store) -> bool:
    """Whether the store holds units as soon as they go in the cart (else when checkout starts)."""
    return (
        db.session.scalar(
            select(CheckoutSettings.hold_on).where(CheckoutSettings.store_id == store.id)
        )
        == "cart"
    )


def available_for(variants, cart: Cart | int | None = None, *, now=None) -> dict[int, int]:
    """Units each variant has for this shopper: on hand minus other carts' live holds.

    One query for any number of variants. Sets `held_by_others` on each (ORM variants and
    listing cards alike), so `Variant.available` and `Variant.units_left` answer by the same
    rule. `cart` is the shopper's cart (its own holds count as theirs), or None for a page that
    every shopper shares (a cached product page or listing).
    """
    variants = list(variants)
    tracked = {v.id for v in variants if v.track_inventory}
    others: dict[int, int] = {}
    if tracked:
        query = (
            select(
                StockHold.variant_id, func.sum(StockHold.quantity), func.min(StockHold.expires_at)
            )
            .where(
                StockHold.variant_id.in_(sorted(tracked)),
                StockHold.status == "active",
                StockHold.expires_at > (now or utcnow()),
            )
            .group_by(StockHold.variant_id)
        )
        cart_id = cart.id if isinstance(cart, Cart) else cart
        if cart_id is not None:
            query = query.where(StockHold.cart_id != cart_id)
        rows = db.session.execute(query).all()
        others = {vid: total for vid, total, _ in rows}
        note_page_holds([first for _, _, first in rows])
    result = {}
    for variant in variants:
        variant.held_by_others = int(others.get(variant.id, 0))
        result[variant.id] = variant.units_left if variant.track_inventory else None
    return result


def held_by_others_column(cart_id=None):
    """The same rule as `available_for`, as a correlated subquery for a query that selects
    variants (listing cards, the cart's lines): units other carts' live holds keep of the row's
    variant. `cart_id` is the shopper's cart (a column or value), None for a shared page; the
    time is the bound parameter `now`."""
    conditions = [
        StockHold.variant_id == Variant.id,
        StockHold.status == "active",
        StockHold.expires_at > bindparam("now"),
    ]
    if cart_id is not None:
        conditions.append(StockHold.cart_id != cart_id)
    return (
        select(func.coalesce(func.sum(StockHold.quantity), 0))
        .where(*conditions)
        .correlate(Variant, *([cart_id.table] if hasattr(cart_id, "table") else []))
        .scalar_subquery()
    )


def note_page_holds(expiries) -> None:
    """Tell the page cache (app.storefront.page_cache) when the first of the holds a page
    counted runs out, so a cached page never shows held units as gone for longer."""
    expiries = [e for e in expiries if e is not None]
    if not expiries or not has_request_context():
        return
    first = min(expiries)
    known = g.get("stock_holds_until")
    g.stock_holds_until = first if known is None else min(known, first)


def note_page_holds_of(variant_ids) -> None:
    """note_page_holds for these variants' live holds (one query; none without variants)."""
    if not variant_ids or not has_request_context():
        return
    note_page_holds(
        [
            db.session.scalar(
                select(func.min(StockHold.expires_at)).where(
                    StockHold.variant_id.in_(sorted(set(variant_ids))),
                    StockHold.status == "active",
                    StockHold.expires_at > utcnow(),
                )
            )
        ]
    )


def status(cart: Cart | None, *, now=None) -> HoldStatus:
    """The cart's hold as it stands (reads only): when it runs out, or that it ran out."""
    if cart is None:
        return HoldStatus()
    now = now or utcnow()
    rows = db.session.execute(
        select(StockHold.expires_at, StockHold.extensions, StockHold.status)
        .where(StockHold.cart_id == cart.id)
        .order_by(StockHold.id.desc())
        .limit(100)
    ).all()
    live = [(expires, ext) for expires, ext, state in rows if state == "active" and expires > now]
    if live:
        return HoldStatus(
            expires_at=min(expires for expires, _ in live),
            extensions=max(ext for _, ext in live),
        )
    # Only the cart's latest hold says whether time ran out (not one from an earlier order).
    latest = rows[0] if rows else None
    return HoldStatus(expired=latest is not None and latest.status in ("active", "expired"))


def hold_cart(store: Store, cart: Cart, *, start: bool = True, now=None) -> HoldStatus:
    """Hold the cart's lines (tracked variants), up to the per-variant and per-cart caps.

    A running hold keeps its timer: lines added meanwhile join it, changed quantities are held
    or let go. With nothing held yet, `start=True` starts a hold for the store's hold time;
    `start=False` only adjusts a running one (a cart change outside checkout). Lines with too
    little left are held in part (`short`); the rest can still be bought at placing if it is
    there then. Does not commit.
    """
    now = now or utcnow()
    _lock_cart(cart)
    held_before = _active_holds(cart)
    if not start and not any(h.expires_at > now for h in held_before.values()):
        return HoldStatus()  # nothing running to adjust (two queries for every cart change)
    wanted = dict(
        db.session.execute(
            select(CartItem.variant_id, CartItem.quantity)
            .join(Variant, Variant.id == CartItem.variant_id)
            .where(
                CartItem.cart_id == cart.id,
                CartItem.store_id == store.id,
                Variant.track_inventory.is_(True),
            )
        ).all()
    )
    ids = sorted(set(wanted) | set(held_before))
    if not ids:
        return HoldStatus()
    counts = _lock_variants(ids)
    if release_expired(store.id, ids, now=now, locked=True):
        counts = _lock_variants(ids)  # held went down: read it again (still locked)
    live = {vid: h for vid, h in _active_holds(cart).items() if h.expires_at > now}
    if not live and not start:
        return HoldStatus()
    if live:
        expires_at = min(h.expires_at for h in live.values())
        extensions = max(h.extensions for h in live.values())
    else:
        expires_at, extensions = now + timedelta(minutes=hold_minutes(store)), 0
    per_variant = current_app.config["HOLD_MAX_PER_VARIANT"]
    budget = current_app.config["HOLD_MAX_PER_CART"]
    short, changed, added = [], [], False
    for vid in ids:
        hold = live.get(vid)
        current = hold.quantity if hold is not None else 0
        want = wanted.get(vid, 0)
        target = min(want, per_variant, max(budget, 0))
        new = current
        if target > current:
            stock, held = counts.get(vid, (0, 0))
            give = min(target - current, max(0, stock - held))
            if give and _change_held(vid, give):
                new = current + give
        elif target < current:
            _change_held(vid, target - current)
            new = target
        budget -= new
        if new < want:
            short.append(Shortfall(vid, want, new))
        if new == current:
            continue
        changed.append(vid)
        if hold is not None and new == 0:
            hold.status, hold.released_at = "released", now
        elif hold is not None:
            hold.quantity = new
        else:
            added = True
            db.session.add(
                StockHold(
                    store_id=store.id,
                    variant_id=vid,
                    cart_id=cart.id,
                    quantity=new,
                    expires_at=expires_at,
                    extensions=extensions,
                )
            )
    db.session.flush()
    _changed(store.id, changed)
    if not added and not any(h.status == "active" for h in live.values()):
        return HoldStatus(short=short)
    return HoldStatus(expires_at=expires_at, extensions=extensions, short=short)


def extend(store: Store, cart: Cart, *, now=None) -> HoldStatus:
    """Give the cart's running hold the store's hold time again (at most twice, near its end)."""
    now = now or utcnow()
    _lock_cart(cart)
    live = [h for h in _active_holds(cart).values() if h.expires_at > now]
    if not live:
        raise HoldError(gettext("Your hold has run out. Try again to hold your items."))
    extensions = max(h.extensions for h in live)
    if extensions >= MAX_EXTENSIONS:
        raise HoldError(gettext("You've had all the extra time we can give."))
    if min(h.expires_at for h in live) - now > EXTEND_WINDOW:
        raise HoldError(gettext("You can ask for more time in the last two minutes."))
    expires_at = now + timedelta(minutes=hold_minutes(store))
    for hold in live:
        hold.expires_at, hold.extensions = expires_at, extensions + 1
    db.session.flush()
    return HoldStatus(expires_at=expires_at, extensions=extensions + 1)


def release_cart(store: Store, cart: Cart, variant_ids=None, *, now=None) -> int:
    """Let go of the cart's holds (of these variants, or all); returns how many rows."""
    now = now or utcnow()
    holds = _active_holds(cart)
    if variant_ids is not None:
        holds = {vid: h for vid, h in holds.items() if vid in set(variant_ids)}
    if not holds:
        return 0
    _lock_variants(sorted(holds))
    for vid in sorted(holds):
        hold = holds[vid]
        if hold.status != "active":
            continue
        _change_held(vid, -hold.quantity)
        hold.status, hold.released_at = "released", now
    db.session.flush()
    _changed(store.id, sorted(holds))
    return len(holds)


def convert_for_order(store: Store, cart: Cart, variant_ids, *, now=None) -> int:
    """Turn the cart's live holds of these variants into the sale being placed.

    Call in the order's transaction, before its stock is taken: the held units stop counting
    as held here, and the sale's own conditional UPDATE takes them (held by nobody else now).
    Expired holds of these variants (anyone's) are released first. Returns the units converted.
    """
    now = now or utcnow()
    ids = sorted(set(variant_ids))
    mine = _active_holds(cart)
    if not mine:
        return 0  # the sale releases other carts' expired holds itself (take_stock)
    _lock_cart(cart)
    _lock_variants(ids)
    if release_expired(store.id, ids, now=now, locked=True):
        mine = _active_holds(cart)
    converted = 0
    for vid, hold in sorted(mine.items()):
        if vid not in ids or hold.expires_at <= now:
            continue
        _change_held(vid, -hold.quantity)
        hold.status, hold.released_at = "converted", now
        converted += hold.quantity
    db.session.flush()
    return converted


def release_expired(store_id=None, variant_ids=None, *, now=None, locked=False) -> int:
    """Release active holds whose time has run out (of a store's variants, or everyone's).

    Safe to run twice and alongside anything else: each row is released by the one statement
    that flips it from active, and its units come off `held` in that transaction. `locked`
    says the caller holds these variants' locks already. Returns how many holds.
    """
    now = now or utcnow()
    query = select(StockHold.id, StockHold.variant_id).where(
        StockHold.status == "active", StockHold.expires_at <= now
    )
    if store_id is not None:
        query = query.where(StockHold.store_id == store_id)
    if variant_ids is not None:
        ids = sorted(set(variant_ids))
        if not ids:
            return 0
        query = query.where(StockHold.variant_id.in_(ids))
    found = db.session.execute(query.order_by(StockHold.id).limit(5000)).all()
    if not found:
        return 0
    if not locked:
        # All the variants asked about, not just those with expired holds: a caller (a sale)
        # goes on to lock the rest, and locks must be taken in id order.
        _lock_variants(ids if variant_ids is not None else {vid for _, vid in found})
    holds = StockHold.__table__
    released = db.session.execute(
        update(holds)
        .where(
            holds.c.id.in_([hid for hid, _ in found]),
            holds.c.status == "active",
            holds.c.expires_at <= now,
        )
        .values(status="expired", released_at=now)
        .returning(holds.c.store_id, holds.c.variant_id, holds.c.quantity)
    ).all()
    by_variant: dict[int, int] = defaultdict(int)
    stores: dict[int, set] = defaultdict(set)
    for sid, vid, quantity in released:
        by_variant[vid] += quantity
        stores[sid].add(vid)
    for vid in sorted(by_variant):
        _change_held(vid, -by_variant[vid])
    for sid, vids in stores.items():
        _changed(sid, sorted(vids))
    # The session's copies of these rows (if any) are stale now.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, StockHold) and obj.variant_id in by_variant:
            db.session.expire(obj)
    return len(released)


def repair_held() -> list[int]:
    """Make every variant's `held` the sum of its active holds again; returns the variants fixed.

    Nothing in the app lets them differ, but rows deleted by hand (or by a cascade) would keep
    units held for ever. Each variant is locked first (in id order, as every hold writer does),
    so the sum read then is the committed truth. Runs with the hourly stock reconciliation.
    """
    active = (
        select(func.coalesce(func.sum(StockHold.quantity), 0))
        .where(StockHold.variant_id == Variant.id, StockHold.status == "active")
        .correlate(Variant)
        .scalar_subquery()
    )
    drifting = db.session.scalars(
        select(Variant.id).where(Variant.held != active).order_by(Variant.id)
    ).all()
    fixed = []
    for variant_id in drifting:
        _lock_variants([variant_id])
        total = db.session.scalar(
            select(func.coalesce(func.sum(StockHold.quantity), 0)).where(
                StockHold.variant_id == variant_id, StockHold.status == "active"
            )
        )
        done = db.session.execute(
            update(_VARIANTS)
            .where(_VARIANTS.c.id == variant_id, _VARIANTS.c.held != total)
            .values(held=total)
        ).rowcount
        if done:
            fixed.append(variant_id)
    db.session.commit()
    return fixed


def held_now(variant_ids) -> dict[int, int]:
    """Units live holds keep of each variant now (for the vendor's stock pages)."""
    ids = sorted(set(variant_ids))
    if not ids:
        return {}
    return {
        vid: int(total)
        for vid, total in db.session.execute(
            select(StockHold.variant_id, func.sum(StockHold.quantity))
            .where(
                StockHold.variant_id.in_(ids),
                StockHold.status == "active",
                StockHold.expires_at > utcnow(),
            )
            .group_by(StockHold.variant_id)
        ).all()
    }


def _active_holds(cart: Cart) -> dict[int, StockHold]:
    return {
        hold.variant_id: hold
        for hold in db.session.scalars(
            select(StockHold).where(StockHold.cart_id == cart.id, StockHold.status == "active")
        )
    }


def _lock_cart(cart: Cart) -> None:
    """Serialise hold changes of one cart (FOR UPDATE on PostgreSQL; SQLite locks on write)."""
    db.session.execute(select(Cart.id).where(Cart.id == cart.id).with_for_update())


def _lock_variants(ids) -> dict[int, tuple[int, int]]:
    """Lock the variants in id order (the order every stock writer uses); their (stock, held)."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(Variant.id, Variant.stock, Variant.held)
        .where(Variant.id.in_(sorted(ids)))
        .order_by(Variant.id)
        .with_for_update()
    ).all()
    return {vid: (stock, held) for vid, stock, held in rows}


_VARIANTS = Variant.__table__
_TAKE_HOLD = (
    update(_VARIANTS)
    .where(
        _VARIANTS.c.id == bindparam("variant", type_=Integer),
        _VARIANTS.c.stock - _VARIANTS.c.held >= bindparam("n", type_=Integer),
    )
    .values(held=_VARIANTS.c.held + bindparam("n", type_=Integer))
)
_LET_GO = (
    update(_VARIANTS)
    .where(
        _VARIANTS.c.id == bindparam("variant", type_=Integer),
        _VARIANTS.c.held >= bindparam("n", type_=Integer),
    )
    .values(held=_VARIANTS.c.held - bindparam("n", type_=Integer))
)


def _change_held(variant_id: int, delta: int) -> bool:
    """Add `delta` held units to a variant, only while stock covers them (or held does, for a
    release); True when it was changed."""
    if delta == 0:
        return True
    statement = _TAKE_HOLD if delta > 0 else _LET_GO
    done = db.session.execute(statement, {"variant": variant_id, "n": abs(delta)}).rowcount == 1
    if done:
        variant = db.session.identity_map.get(identity_key(Variant, variant_id))
        if variant is not None:
            db.session.expire(variant, ["held"])
    return done


def _changed(store_id: int, variant_ids) -> None:
    if variant_ids:
        catalog_cache.touch(store_id)  # what's for sale shows on cached storefront pages
        availability_changed(store_id, list(variant_ids))
