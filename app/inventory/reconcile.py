"""Stock reconciliation: a variant's stock is the sum of its movements; find and repair drift.

Drift can only come from outside the app's rules (a manual SQL fix, a restore of one table, a
bug): every change the app makes writes the stock and its movement in one transaction. The
periodic job first lets expired unpaid orders give back what they hold (so reservations are
current), then compares every variant's stock with its ledger in one grouped query, repairs each
drifting variant under its row lock through `apply_movement` without a new ledger row (the
ledger wins: it is the history), records the repair in
the store's audit log with before and after, and emails the store's owners and managers once.
"""

import logging
from dataclasses import dataclass

from flask_babel import lazy_ngettext
from sqlalchemy import func, select

from app.audit.service import record
from app.catalog.models import Product, Variant
from app.extensions import db
from app.inventory import alerts
from app.inventory.models import StockMovement
from app.inventory.service import StockLimit, apply_movement
from app.notifications.service import queue_email
from tenants.models import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Drift:
    variant_id: int
    sku: str
    stock: int  # what the variant said
    ledger: int  # the sum of its movements, which it now says


def drifting(store_id: int | None = None) -> list[tuple[int, int]]:
    """(store id, variant id) of every variant whose stock isn't the sum of its movements."""
    sums = (
        select(StockMovement.variant_id, func.sum(StockMovement.quantity).label("total"))
        .group_by(StockMovement.variant_id)
        .subquery()
    )
    stmt = (
        select(Variant.store_id, Variant.id)
        .outerjoin(sums, sums.c.variant_id == Variant.id)
        .where(Variant.stock != func.coalesce(sums.c.total, 0))
        .order_by(Variant.store_id, Variant.id)
    )
    if store_id is not None:
        stmt = stmt.where(Variant.store_id == store_id)
    return [tuple(row) for row in db.session.execute(stmt)]


def repair_store(store_id: int, variant_ids: list[int]) -> list[Drift]:
    """Set each drifting variant's stock to its ledger (re-checked under its lock); commits."""
    repaired = []
    for variant_id in sorted(variant_ids):
        variant = db.session.scalar(
            select(Variant)
            .where(Variant.id == variant_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        ledger = db.session.scalar(
            select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
                StockMovement.variant_id == variant_id
            )
        )
        if variant is None or variant.stock == ledger:
            continue
        if ledger < 0:
            log.error("variant %s: its ledger sums to %s; left for a person", variant_id, ledger)
            continue
        drift = Drift(variant.id, variant.sku, variant.stock, ledger)
        try:
            # The ledger already holds the history, so no movement is added (record=False).
            apply_movement(
                variant.store_id,
                variant.id,
                ledger - variant.stock,
                "adjust",
                expected_stock=variant.stock,
                record=False,
            )
        except StockLimit:
            log.error("variant %s: its ledger sums to %s; left for a person", variant_id, ledger)
            continue
        repaired.append(drift)
        product = db.session.get(Product, variant.product_id)
        product.in_stock = any(v.available for v in product.variants)
    if not repaired:
        db.session.commit()
        return []
    store = db.session.get(Store, store_id)
    record(
        "stock.reconciled",
        store=store,
        variants=[
            {"sku": d.sku, "id": d.variant_id, "before": d.stock, "after": d.ledger}
            for d in repaired[:200]
        ],
        count=len(repaired),
    )
    db.session.commit()
    for address, language in alerts.recipient_languages(store_id):
        queue_email(
            address,
            lazy_ngettext(
                "Stock corrected for %(num)d item at %(store)s",
                "Stock corrected for %(num)d items at %(store)s",
                len(repaired),
                store=store.name,
            ),
            "stock_reconciled",
            store=store,
            language=language,
            drifts=repaired[:50],
            more=max(0, len(repaired) - 50),
        )
    return repaired


def reconcile_all() -> dict[int, list[Drift]]:
    """Expire overdue unpaid orders, then repair every store's drift; returns the repairs."""
    from app.orders.service import expire_unpaid_orders

    expire_unpaid_orders()
    db.session.commit()
    by_store: dict[int, list[int]] = {}
    for store_id, variant_id in drifting():
        by_store.setdefault(store_id, []).append(variant_id)
    repairs = {}
    for store_id, variant_ids in by_store.items():
        fixed = repair_store(store_id, variant_ids)
        if fixed:
            repairs[store_id] = fixed
            log.warning("store %s: corrected the stock of %d variants", store_id, len(fixed))
    return repairs
