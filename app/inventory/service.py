"""Changing stock: a conditional UPDATE per variant plus a ledger row, in the caller's transaction.

`apply_movement` is the way a variant's stock changes: orders, cancellations, refunds, the
adjust form, variant edits, opening stock and reconciliation all call it. The one other writer
is the bulk stock sync (`app.stocksync.service._write`), which applies a batch of up to 500
rows in one executemany UPDATE with its `sync` movements and `alerts.after_bulk`, under the
variants' row locks; keep the two in step.

Stock never goes negative: the UPDATE only matches while enough stock is left (and the schema's
CHECK (stock >= 0) is the backstop). Variants are always updated in id order so that two
orders touching the same variants lock them in the same order and cannot deadlock.
"""

from collections import defaultdict
from functools import cache

from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.catalog import cache as catalog_cache
from app.catalog.models import Variant
from app.catalog.service import MAX_STOCK
from app.extensions import db
from app.inventory import alerts, holds
from app.inventory.models import MOVEMENT_KINDS, StockMovement
from app.live import availability_changed


class InsufficientStock(Exception):
    """Not enough stock for a variant; `variant_id`, `wanted` and `available` say how short."""

    def __init__(self, variant_id: int, wanted: int, available: int):
        super().__init__(f"variant {variant_id}: wanted {wanted}, {available} left")
        self.variant_id = variant_id
        self.wanted = wanted
        self.available = available


class StockChanged(Exception):
    """The stock wasn't `expected` any more (someone else moved it); `current` is what it is."""

    def __init__(self, variant_id: int, expected: int, current: int):
        super().__init__(f"variant {variant_id}: expected {expected} in stock, {current} now")
        self.variant_id = variant_id
        self.expected = expected
        self.current = current


class StockLimit(Exception):
    """Adding would take a variant's stock above MAX_STOCK; `available` is what it has."""

    def __init__(self, variant_id: int, available: int, adding: int):
        super().__init__(f"variant {variant_id}: {available} + {adding} is above {MAX_STOCK}")
        self.variant_id = variant_id
        self.available = available


def apply_movement(
    store_id: int,
    variant_id: int,
    quantity: int,
    kind: str,
    *,
    reason: str = "",
    reference: str | None = None,
    user_id: int | None = None,
    expected_stock: int | None = None,
    record: bool = True,
) -> int:
    """Add `quantity` (negative to take) to a variant's stock and record it; returns the new stock.

    Raises InsufficientStock if taking would go below zero, StockLimit above MAX_STOCK,
    StockChanged if `expected_stock` is given and the stock isn't that any more, LookupError for
    a variant that isn't the store's. A fall to the low-stock threshold queues its alert (see
    app.inventory.alerts). Does not commit: the caller's transaction decides. `record=False`
    leaves the ledger row to the caller (see take_stock, and reconcile, whose ledger is already
    the truth). The only other writer of `Variant.stock` is the bulk stock sync (see above).
    """
    if kind not in MOVEMENT_KINDS:
        raise ValueError(f"unknown movement kind {kind!r}")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity == 0:
        raise ValueError("a movement changes stock by a non-zero whole number")
    if quantity > MAX_STOCK:
        raise StockLimit(variant_id, 0, quantity)
    session = db.session()
    if session.autoflush:
        session.flush()  # as the ORM's own UPDATE would: a variant still pending is written first
    params = {"variant": variant_id, "store": store_id, "quantity": quantity}
    if expected_stock is not None:
        params["expected"] = expected_stock
    # A sale can't take units that live stock holds keep for other carts (a cart's own hold
    # was converted just before: app.inventory.holds.convert_for_order); the vendor's own
    # counts and adjustments record what is on the shelf whatever is held.
    result = session.execute(
        _movement_update(quantity < 0, expected_stock is not None, kind == "sale"), params
    ).first()
    if result is None:
        available = db.session.scalar(
            select(Variant.stock).where(Variant.id == variant_id, Variant.store_id == store_id)
        )
        if available is None:
            raise LookupError(f"variant {variant_id} is not in store {store_id}")
        if expected_stock is not None and available != expected_stock:
            raise StockChanged(variant_id, expected_stock, available)
        if quantity > 0:
            raise StockLimit(variant_id, available, quantity)
        if kind == "sale":
            held = db.session.scalar(select(Variant.held).where(Variant.id == variant_id))
            available = max(0, available - (held or 0))
        raise InsufficientStock(variant_id, -quantity, available)
    _sync_loaded(variant_id, result.stock)
    catalog_cache.touch(store_id)  # stock shows on cached storefront pages
    availability_changed(store_id, [variant_id])  # open pages hear it once this commits
    if record:
        db.session.add(
            StockMovement(
                store_id=store_id,
                variant_id=variant_id,
                kind=kind,
                quantity=quantity,
                stock_after=result.stock,
                reason=reason[:300],
                reference=reference,
                user_id=user_id,
            )
        )
    alerts.after_movement(store_id, variant_id, quantity, result)
    return result.stock


@cache
def _movement_update(taking: bool, expecting: bool, selling: bool = False):
    """The conditional UPDATE of a movement, built once per shape with bound parameters.

    On the table, not the mapped class: placing an order runs one per variant, and building
    the statement and the ORM's bookkeeping around it cost several times the round trip.
    RETURNING says what changed (see _sync_loaded for the session's copy).
    """
    table = Variant.__table__
    stock, quantity = table.c.stock, bindparam("quantity", type_=Integer)
    conditions = [
        table.c.id == bindparam("variant", type_=Integer),
        table.c.store_id == bindparam("store", type_=Integer),
        stock + quantity >= 0 if taking else stock <= MAX_STOCK - quantity,
    ]
    if taking and selling:
        conditions.append(stock - table.c.held + quantity >= 0)
    if expecting:
        conditions.append(stock == bindparam("expected", type_=Integer))
    return (
        update(table)
        .where(*conditions)
        .values(stock=stock + quantity)
        .returning(
            stock, table.c.track_inventory, table.c.low_stock_threshold, table.c.low_stock_alerted
        )
    )


def _sync_loaded(variant_id: int, stock: int) -> None:
    """Give the session's copy of the variant, if it has one, the stock the UPDATE returned."""
    variant = db.session.identity_map.get(identity_key(Variant, variant_id))
    if variant is not None:
        set_committed_value(variant, "stock", stock)
        db.session.expire(variant, ["updated_at"])


def take_stock(
    store_id: int,
    quantities: list[tuple[int, int]],
    *,
    kind: str = "sale",
    reference: str | None = None,
    user_id: int | None = None,
    tracked: set[int] | None = None,
    record: bool = True,
) -> list[StockMovement]:
    """Take stock for several (variant_id, quantity) lines, all or nothing, in id order.

    Lines of the same variant are added up first. Variants that don't track inventory are
    skipped (`tracked`, when the caller has just read them, saves reading them again). On
    InsufficientStock the caller must roll back its transaction. Returns the ledger rows;
    with `record=False` they aren't added to the session yet, so a caller can take the stock
    before the row its `reference` names exists (placing an order takes stock first, to hold
    the store's order counter as briefly as it can).
    """
    wanted: dict[int, int] = defaultdict(int)
    for variant_id, quantity in quantities:
        if not isinstance(quantity, int) or quantity <= 0:
            raise ValueError("quantities are positive whole numbers")
        wanted[variant_id] += quantity
    if tracked is None:
        tracked = set(
            db.session.scalars(
                select(Variant.id).where(
                    Variant.store_id == store_id,
                    Variant.id.in_(wanted),
                    Variant.track_inventory.is_(True),
                )
            )
        )
    # Still one conditional UPDATE per variant in id order, but the ledger rows wait for the
    # next flush and go in one INSERT rather than one before each UPDATE.
    if kind == "sale":
        # An expired hold never stops a buyer: release those of these variants first.
        holds.release_expired(store_id, [v for v in wanted if v in tracked])
    movements = []
    with db.session.no_autoflush:
        for variant_id in sorted(wanted):
            if variant_id in tracked:
                stock_after = apply_movement(
                    store_id,
                    variant_id,
                    -wanted[variant_id],
                    kind,
                    reference=reference,
                    user_id=user_id,
                    record=False,
                )
                movements.append(
                    StockMovement(
                        store_id=store_id,
                        variant_id=variant_id,
                        kind=kind,
                        quantity=-wanted[variant_id],
                        stock_after=stock_after,
                        reason="",
                        reference=reference,
                        user_id=user_id,
                    )
                )
    if record:
        db.session.add_all(movements)
    return movements


def ledger_total(variant_id: int) -> int:
    """The sum of a variant's movements (which must equal its stock)."""
    return db.session.scalar(
        select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
            StockMovement.variant_id == variant_id
        )
    )
