"""The stock sync's rules: upload, preview, apply in batches, undo, resume, cancel.

Stock in a file is the count on hand; what the store sells from (`Variant.stock`) is that count
less what open orders (placed, not yet shipped) already hold. A row that would leave less on
hand than open orders hold is flagged and not applied.

Apply and undo work through the run's rows in id order, BATCH rows per transaction. Each batch
first locks the run's row and re-reads how far it got, so a second copy of the job (a retry, the
sweep) can never apply a batch twice; then it locks the batch's variants in id order, works out
each change against the stock *now*, and writes the stock, the `sync` movements tagged
`import:<run id>`, the product summaries, the rows' outcome and the run's progress together. A
worker killed mid-batch loses only that batch's uncommitted work, and the run resumes after the
last committed batch.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext
from sqlalchemy import case, delete, func, insert, select, update

from app.audit.service import record
from app.background import enqueue
from app.catalog import cache as catalog_cache
from app.catalog.models import Product, Variant
from app.database import analyze, utcnow
from app.extensions import db
from app.inventory import alerts
from app.inventory.models import StockMovement
from app.live import availability_changed, jobs_changed
from app.orders import states
from app.orders.models import Order, OrderLine
from app.stocksync import messages as said
from app.stocksync import parsing
from app.stocksync.models import WORKING, ImportRow, ImportRun
from app.stored_messages import NOTE_SEPARATOR, english
from tenants.models import Store
from tenants.query import scoped_select

log = logging.getLogger(__name__)

BATCH = 500
PREVIEW_CHUNK = 2_000
OPEN_ORDER_STATUSES = (states.PENDING_PAYMENT, states.PAID)
PHASE_JOBS = {
    "preview": "jobs.stock_sync.preview_stock_file",
    "apply": "jobs.stock_sync.apply_stock_file",
    "undo": "jobs.stock_sync.undo_stock_file",
}
STALE_AFTER = timedelta(minutes=10)


class SyncError(Exception):
    """A request about a run that can't be done now; the message is for the vendor."""

    status = 409

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


@dataclass(frozen=True)
class AlreadyApplied(Exception):
    """The same file (by content) was applied before, and the vendor didn't insist."""

    run: ImportRun


def reference(run_id: int) -> str:
    return f"import:{run_id}"


def committed(store_id: int, variant_ids) -> dict[int, int]:
    """Units of each variant held by the store's open orders (placed, not yet shipped)."""
    if not variant_ids:
        return {}
    return dict(
        db.session.execute(
            select(OrderLine.variant_id, func.sum(OrderLine.quantity))
            .join(Order, Order.id == OrderLine.order_id)
            .where(
                Order.store_id == store_id,
                Order.status.in_(OPEN_ORDER_STATUSES),
                OrderLine.variant_id.in_(list(variant_ids)),
            )
            .group_by(OrderLine.variant_id)
        ).all()
    )


def variant_names(store_id: int, variant_ids) -> dict[int, tuple[str, str]]:
    """Each variant's product title and variant title ("M / Red"), in one query, for showing
    beside the SKUs of a page of rows."""
    ids = {i for i in variant_ids if i}
    if not ids:
        return {}
    rows = db.session.execute(
        select(Variant.id, Product.title, Variant.option1, Variant.option2, Variant.option3)
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.store_id == store_id, Variant.id.in_(ids))
    ).all()
    return {
        row.id: (row.title, " / ".join(o for o in (row.option1, row.option2, row.option3) if o))
        for row in rows
    }


# Upload ----------------------------------------------------------------------------------------


def create_run(store: Store, user, filename: str, data: bytes, *, force: bool = False) -> ImportRun:
    """Check the file and record a run waiting for its preview (the caller commits, then
    enqueues `build_preview`). Raises parsing.FileRefused or AlreadyApplied."""
    parsing.check_file(data)
    digest = hashlib.sha256(data).hexdigest()
    if not force:
        earlier = db.session.scalar(
            scoped_select(ImportRun, store)
            .where(ImportRun.content_hash == digest, ImportRun.status == "applied")
            .order_by(ImportRun.id.desc())
            .limit(1)
        )
        if earlier is not None:
            raise AlreadyApplied(earlier)
    run = ImportRun(
        store_id=store.id,
        filename=(filename or "stock.csv")[-255:],
        content=data,
        content_hash=digest,
        status="queued",
        phase="preview",
        forced=force,
        created_by_id=getattr(user, "id", None),
    )
    db.session.add(run)
    db.session.flush()
    record("stock_sync.uploaded", actor=user, store=store, target=run, filename=run.filename)
    return run


# Preview ---------------------------------------------------------------------------------------


def build_preview(run_id: int) -> str | None:
    """Read the run's file and work out each row against the store; returns the final status.

    Safe to run again: a preview that was cut off starts over.
    """
    claimed = db.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id, ImportRun.status.in_(("queued", "previewing")))
        .values(status="previewing", phase="preview", processed_rows=0, updated_at=utcnow())
    ).rowcount
    if not claimed:
        db.session.rollback()
        return None
    db.session.execute(delete(ImportRow).where(ImportRow.run_id == run_id))
    db.session.commit()
    run = db.session.get(ImportRun, run_id)
    store = db.session.get(Store, run.store_id)
    try:
        rows = list(parsing.read_rows(parsing.decode(run.content), store.currency))
    except parsing.FileRefused as refused:
        run.status, run.message = "failed", refused.message
        db.session.commit()
        return run.status
    run.total_rows = len(rows)
    run.changes = run.unchanged = run.errors = run.flagged = 0
    db.session.commit()
    for start in range(0, len(rows), PREVIEW_CHUNK):
        chunk = rows[start : start + PREVIEW_CHUNK]
        values = _preview_chunk(store, run_id, chunk)
        if values:
            db.session.execute(insert(ImportRow), values)
        counts = {"change": 0, "unchanged": 0, "error": 0, "flagged": 0}
        for value in values:
            counts[value["status"]] += 1
        db.session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(
                processed_rows=ImportRun.processed_rows + len(chunk),
                changes=ImportRun.changes + counts["change"],
                unchanged=ImportRun.unchanged + counts["unchanged"],
                errors=ImportRun.errors + counts["error"],
                flagged=ImportRun.flagged + counts["flagged"],
                updated_at=utcnow(),
            )
        )
        jobs_changed(store.id, run_id=run_id)  # the progress bar moves without polling
        db.session.commit()
    jobs_changed(store.id, run_id=run_id)
    db.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id, ImportRun.status == "previewing")
        .values(status="previewed", updated_at=utcnow())
    )
    db.session.commit()
    analyze(db.session, "import_rows")
    return "previewed"


def _preview_chunk(store: Store, run_id: int, chunk: list[parsing.ParsedRow]) -> list[dict]:
    skus = [row.sku for row in chunk if not row.error]
    variants = (
        {
            v.sku: v
            for v in db.session.execute(
                select(
                    Variant.id,
                    Variant.sku,
                    Variant.stock,
                    Variant.price,
                    Variant.compare_at_price,
                    Variant.track_inventory,
                ).where(Variant.store_id == store.id, Variant.sku.in_(skus))
            ).all()
        }
        if skus
        else {}
    )
    held = committed(store.id, [v.id for v in variants.values()])
    values = []
    for row in chunk:
        value = {
            "store_id": store.id,
            "run_id": run_id,
            "line": row.line,
            "sku": row.sku,
            "variant_id": None,
            "status": "error",
            "message": row.error,
            "new_on_hand": row.on_hand,
            "new_price": row.price,
            "new_compare_at": row.compare_at,
            "old_on_hand": None,
            "committed": None,
            "old_price": None,
            "old_compare_at": None,
        }
        values.append(value)
        if row.error:
            continue
        variant = variants.get(row.sku)
        if variant is None:
            value["message"] = said.NO_SUCH_SKU
            continue
        hold = held.get(variant.id, 0)
        value.update(
            variant_id=variant.id,
            old_on_hand=variant.stock + hold,
            committed=hold,
            old_price=variant.price,
            old_compare_at=variant.compare_at_price,
        )
        status, message = classify(variant, hold, row.on_hand, row.price, row.compare_at)
        value.update(status=status, message=message)
    return values


def classify(variant, hold: int, on_hand, price, compare_at) -> tuple[str, str]:
    """("change" | "unchanged" | "error" | "flagged", why) for a row against a variant now."""
    if on_hand is not None and not variant.track_inventory:
        return "error", said.NOT_TRACKED
    new_price = variant.price if price is None else price
    new_compare = _wanted_compare(compare_at, variant.compare_at_price)
    if new_compare is not None and new_compare <= new_price:
        return "error", said.COMPARE_NOT_HIGHER
    if on_hand is not None and on_hand < hold:
        return "flagged", english(said.HELD_BY_ORDERS, hold=f"{hold:,}", on_hand=f"{on_hand:,}")
    stock_changes = on_hand is not None and on_hand - hold != variant.stock
    if stock_changes or new_price != variant.price or new_compare != variant.compare_at_price:
        return "change", ""
    return "unchanged", ""


# Apply and undo --------------------------------------------------------------------------------


def start(run: ImportRun, phase: str, user) -> None:
    """Move a previewed run to applying, or an applied one to undoing (the caller commits and
    enqueues the job). Raises SyncError when the run isn't in the state for it."""
    wanted = {"apply": ("previewed", "applying"), "undo": ("applied", "undoing")}[phase]
    busy = db.session.scalar(
        select(ImportRun.id)
        .where(
            ImportRun.store_id == run.store_id,
            ImportRun.status.in_(("applying", "undoing")),
            ImportRun.id != run.id,
        )
        .limit(1)
    )
    if busy is not None:
        raise SyncError(
            gettext("Stock sync #%(id)s is still running: wait for it to finish.", id=busy)
        )
    if phase == "apply" and run.status == "previewed" and not run.changes:
        raise SyncError(
            gettext("This sync has nothing to apply: every row matches or has a problem.")
        )
    total = run.changes if phase == "apply" else run.updated
    moved = db.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run.id, ImportRun.status == wanted[0])
        .values(
            status=wanted[1],
            phase=phase,
            processed_rows=0,
            total_rows=total,
            done_through_row_id=0,
            message="",
            updated_at=utcnow(),
        )
    ).rowcount
    if not moved:
        db.session.rollback()
        if phase == "apply":
            refusal = gettext(
                "This sync can't be applied now: it is %(status)s.", status=run.status
            )
        else:
            refusal = gettext("This sync can't be undone now: it is %(status)s.", status=run.status)
        raise SyncError(refusal)
    record(f"stock_sync.{phase}", actor=user, store=db.session.get(Store, run.store_id), target=run)
    jobs_changed(run.store_id, run_id=run.id)


def resume(run: ImportRun, user) -> str:
    """Carry on a failed or stalled run from its last committed batch; returns the phase."""
    stalled = run.status in WORKING and run.updated_at < utcnow() - STALE_AFTER
    if run.status != "failed" and not stalled:
        raise SyncError(gettext("Only a failed or stalled sync can be resumed."))
    status = {"preview": "previewing", "apply": "applying", "undo": "undoing"}[run.phase]
    if run.phase == "preview":
        status = "queued"
    run.status, run.message = status, ""
    record("stock_sync.resumed", actor=user, store=db.session.get(Store, run.store_id), target=run)
    jobs_changed(run.store_id, run_id=run.id)
    return run.phase


def cancel(run: ImportRun, user) -> None:
    """Discard a run that hasn't been applied (queued, previewing, previewed or failed preview)."""
    allowed = ("queued", "previewing", "previewed")
    if run.status not in allowed and not (run.status == "failed" and run.phase == "preview"):
        raise SyncError(
            gettext("This sync can't be discarded: it is %(status)s.", status=run.status)
        )
    run.status, run.message = "cancelled", said.DISCARDED
    store = db.session.get(Store, run.store_id)
    record("stock_sync.cancelled", actor=user, store=store, target=run)
    jobs_changed(run.store_id, run_id=run.id)


def fail(run_id: int, message: str) -> None:
    """Mark a run whose job gave up; it can be resumed from where it stopped."""
    db.session.rollback()
    store_id = db.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id, ImportRun.status.in_(WORKING))
        .values(status="failed", message=message[:2000], updated_at=utcnow())
        .returning(ImportRun.store_id)
    ).scalar()
    if store_id is not None:
        jobs_changed(store_id, run_id=run_id)
    db.session.commit()


def apply_run(run_id: int) -> str | None:
    """Apply the run's changes batch by batch; returns the final status (None: not applying)."""
    return _work(run_id, "applying", "applied", _apply_batch)


def undo_run(run_id: int) -> str | None:
    """Reverse an applied run batch by batch with compensating movements."""
    return _work(run_id, "undoing", "undone", _undo_batch)


def _work(run_id: int, status: str, done: str, batch) -> str | None:
    while True:
        run = db.session.scalar(select(ImportRun).where(ImportRun.id == run_id).with_for_update())
        if run is None or run.status != status:
            db.session.rollback()
            return None
        more = batch(run)
        jobs_changed(run.store_id, run_id=run_id)
        db.session.commit()
        if not more:
            break
    run = db.session.scalar(select(ImportRun).where(ImportRun.id == run_id).with_for_update())
    if run.status == status:
        run.status = done
        now = utcnow()
        if done == "applied":
            run.applied_at = now
        else:
            run.undone_at = now
        record(
            f"stock_sync.{done}",
            store=db.session.get(Store, run.store_id),
            target=run,
            updated=run.updated,
            reverted=run.reverted,
        )
    jobs_changed(run.store_id, run_id=run_id)
    db.session.commit()
    analyze(db.session, "variants", "products", "stock_movements", "import_rows")
    return run.status


def _locked_variants(store_id: int, variant_ids) -> dict:
    return {
        v.id: v
        for v in db.session.execute(
            select(
                Variant.id,
                Variant.product_id,
                Variant.stock,
                Variant.price,
                Variant.compare_at_price,
                Variant.track_inventory,
                Variant.low_stock_threshold,
                Variant.low_stock_alerted,
            )
            .where(Variant.store_id == store_id, Variant.id.in_(sorted(variant_ids)))
            .order_by(Variant.id)
            .with_for_update()
        ).all()
    }


def _next_rows(run: ImportRun, *conditions) -> list[ImportRow]:
    """The run's next BATCH change rows after the last finished batch, in id order."""
    return db.session.scalars(
        select(ImportRow)
        .where(
            ImportRow.run_id == run.id,
            ImportRow.id > run.done_through_row_id,
            ImportRow.status == "change",
            *conditions,
        )
        .order_by(ImportRow.id)
        .limit(BATCH)
    ).all()


def _wanted_compare(asked: int | None, current: int | None) -> int | None:
    """The compare-at price a row asks for: unchanged (None), removed (0) or a new amount."""
    if asked is None:
        return current
    return None if asked == 0 else asked


def _apply_batch(run: ImportRun) -> bool:
    rows = _next_rows(run)
    if not rows:
        return False
    variants = _locked_variants(run.store_id, {r.variant_id for r in rows if r.variant_id})
    held = committed(run.store_id, variants.keys())
    changes, movements, moves, touched, updated = [], [], [], set(), 0
    for row in rows:
        variant = variants.get(row.variant_id)
        if variant is None:
            row.status, row.message = "error", said.DELETED_BEFORE_SYNC
            continue
        hold = held.get(variant.id, 0)
        status, message = classify(
            variant, hold, row.new_on_hand, row.new_price, row.new_compare_at
        )
        if status != "change":
            if status != "unchanged":
                row.status, row.message = status, message
            continue
        stock = variant.stock if row.new_on_hand is None else row.new_on_hand - hold
        price = variant.price if row.new_price is None else row.new_price
        compare = _wanted_compare(row.new_compare_at, variant.compare_at_price)
        delta = stock - variant.stock
        row.applied_delta = delta
        row.price_applied = price != variant.price or compare != variant.compare_at_price
        row.applied_old_price, row.applied_old_compare_at = variant.price, variant.compare_at_price
        changes.append(
            {"id": variant.id, "stock": stock, "price": price, "compare_at_price": compare}
        )
        touched.add(variant.product_id)
        updated += 1
        if delta:
            movements.append(
                _movement(run, variant.id, delta, stock, f"Stock sync #{run.id}, line {row.line}")
            )
            moves.append((variant, delta, stock))
    run.updated += updated
    return _finish_batch(run, rows, changes, movements, moves, touched, f"stock sync #{run.id}")


def _undo_batch(run: ImportRun) -> bool:
    rows = _next_rows(run, ImportRow.applied_delta.is_not(None))
    if not rows:
        return False
    variants = _locked_variants(run.store_id, {r.variant_id for r in rows if r.variant_id})
    changes, movements, moves, touched, reverted = [], [], [], set(), 0
    for row in rows:
        variant = variants.get(row.variant_id)
        if variant is None:
            row.message = said.NOT_UNDONE_DELETED
            continue
        take = -row.applied_delta
        notes = []
        if variant.stock + take < 0:
            notes.append(english(said.NOTE_SOLD, left=f"{variant.stock:,}", taken=f"{-take:,}"))
            take = -variant.stock
        stock = variant.stock + take
        price, compare = variant.price, variant.compare_at_price
        if row.price_applied:
            ours_price = row.new_price if row.new_price is not None else row.applied_old_price
            ours_compare = _wanted_compare(row.new_compare_at, row.applied_old_compare_at)
            if (price, compare) == (ours_price, ours_compare):
                price, compare = row.applied_old_price, row.applied_old_compare_at
            else:
                notes.append(said.NOTE_PRICE_KEPT)
        if stock == variant.stock and (price, compare) == (variant.price, variant.compare_at_price):
            row.message = (
                english(said.NOT_UNDONE, notes=NOTE_SEPARATOR.join(notes)) if notes else row.message
            )
            continue
        reverted += 1
        if notes:
            row.message = english(said.UNDONE_BUT, notes=NOTE_SEPARATOR.join(notes))[:300]
        changes.append(
            {"id": variant.id, "stock": stock, "price": price, "compare_at_price": compare}
        )
        touched.add(variant.product_id)
        if take:
            movements.append(
                _movement(
                    run, variant.id, take, stock, f"Undo of stock sync #{run.id}, line {row.line}"
                )
            )
            moves.append((variant, take, stock))
    run.reverted += reverted
    source = f"undoing stock sync #{run.id}"
    return _finish_batch(run, rows, changes, movements, moves, touched, source)


def _finish_batch(run, rows, changes, movements, moves, touched, source: str) -> bool:
    """Write a batch's outcome and progress; True if a full batch was done (more may follow)."""
    _write(changes, movements, touched, run.store_id)
    alerts.after_bulk(run.store_id, moves, source)
    run.done_through_row_id = rows[-1].id
    run.processed_rows += len(rows)
    run.updated_at = utcnow()
    return len(rows) == BATCH


def _movement(run, variant_id, quantity, stock_after, reason) -> dict:
    return {
        "store_id": run.store_id,
        "variant_id": variant_id,
        "kind": "sync",
        "quantity": quantity,
        "stock_after": stock_after,
        "reason": reason[:300],
        "reference": reference(run.id),
        "user_id": run.created_by_id,
        "created_at": utcnow(),
    }


def _write(changes: list[dict], movements: list[dict], product_ids: set, store_id: int) -> None:
    """The batch's variant values, movements and product summaries, in the open transaction.

    The one writer of `Variant.stock` besides `inventory.apply_movement`, which everything else
    goes through: a batch's counts go in one executemany UPDATE (one conditional UPDATE per row
    would make a 50,000-row file several times slower). It keeps the same rules by other means:
    the variants are locked in id order and their counts worked out under those locks, every
    change has its `sync` movement, a count never goes below zero (the schema's CHECK), and the
    caller runs `alerts.after_bulk` for the low-stock alerts.
    """
    if changes or product_ids:
        catalog_cache.touch(store_id)  # counts and prices show on cached storefront pages
    if changes:
        db.session.execute(update(Variant), changes)
        availability_changed(store_id, [change["id"] for change in changes])
    if movements:
        db.session.execute(insert(StockMovement), movements)
    if product_ids:
        refresh_products(store_id, product_ids)
    db.session.flush()


def refresh_products(store_id: int, product_ids) -> None:
    """Recompute the listing summary (price range, in stock) of these products: one grouped
    read of their variants, then one executemany UPDATE by primary key."""
    ids = sorted(product_ids)
    available = case((Variant.track_inventory.is_(False) | (Variant.stock > 0), 1), else_=0)
    summaries = db.session.execute(
        select(
            Variant.product_id,
            func.min(Variant.price),
            func.max(Variant.price),
            func.max(available),
        )
        .where(Variant.store_id == store_id, Variant.product_id.in_(ids))
        .group_by(Variant.product_id)
    ).all()
    if summaries:
        db.session.execute(
            update(Product),
            [
                {"id": pid, "min_price": low, "max_price": high, "in_stock": bool(stocked)}
                for pid, low, high, stocked in summaries
            ],
        )


# Housekeeping ----------------------------------------------------------------------------------


def enqueue_phase(run_id: int, phase: str):
    """Queue the job for a run's phase ("preview", "apply", "undo"); call after committing.

    If Redis can't take it, the run keeps its working status: the stalled-sync sweep marks it
    failed after STALE_AFTER and the vendor resumes it, so the request never fails for it.
    """
    try:
        return enqueue(
            PHASE_JOBS[phase],
            run_id,
            job_id=f"stock-sync-{run_id}-{phase}",
            retries=2,
            on_failure="jobs.stock_sync.on_sync_failure",
        )
    except Exception:
        log.exception("could not enqueue stock sync %s (%s); the sweep will flag it", run_id, phase)
        return None


def stalled_runs() -> list[int]:
    """Runs still marked working whose job hasn't written progress for STALE_AFTER."""
    return list(
        db.session.scalars(
            select(ImportRun.id).where(
                ImportRun.status.in_(WORKING), ImportRun.updated_at < utcnow() - STALE_AFTER
            )
        )
    )
