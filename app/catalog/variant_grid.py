"""The bulk variant editor: price, compare-at price, stock and SKU of every variant at once.

One grid, one transaction: every cell is checked before anything is written, and a refused
cell refuses the whole grid (`GridErrors` carries a message per variant and field), so the
vendor fixes it and saves again with everything they typed still there. Stock moves only
through `inventory.apply_movement`, against the count the grid was loaded with: a count that
changed meanwhile (an order, another edit) is reported on its cell, never overwritten.
"""

import re
from dataclasses import dataclass

from flask_babel import gettext
from sqlalchemy import select

from app.catalog.editing import parse_prices, parse_whole
from app.catalog.models import Product, Variant
from app.catalog.service import MAX_STOCK, CatalogError, refresh_summary
from app.database import utcnow
from app.extensions import db
from app.i18n import number
from app.inventory.service import StockChanged, StockLimit, apply_movement
from tenants.models import Store

FIELDS = ("sku", "price", "compare_at_price", "stock")
REASON = "Edited in the variant grid"


@dataclass
class GridRow:
    """One variant's row as typed: text, parsed by `save_grid`. `loaded_stock` is the count the
    form showed (a hidden field), so a change made meanwhile by someone else is noticed."""

    variant_id: int
    sku: str = ""
    price: str = ""
    compare_at_price: str = ""
    stock: str = ""
    loaded_stock: str = ""


class GridErrors(CatalogError):
    """Cells of the grid were refused: `cells` maps variant id -> {field: message}; `current`
    holds the stock now in the database for rows whose stock changed since they were loaded."""

    def __init__(self, cells: dict[int, dict[str, str]], current: dict[int, int] | None = None):
        count = sum(len(fields) for fields in cells.values())
        verb = "needs" if count == 1 else "need"
        super().__init__(None, f"{count} cell{'s' if count != 1 else ''} {verb} a look.")
        self.cells = cells
        self.current = current or {}


def _parse_row(row: GridRow, currency: str) -> tuple[dict, dict[str, str]]:
    """The row's values parsed, and its refused cells."""
    parsed: dict = {}
    errors: dict[str, str] = {}
    sku = (row.sku or "").strip()
    if not sku or len(sku) > 64 or any(not ch.isprintable() for ch in sku):
        errors["sku"] = gettext("A SKU needs 1 to 64 printable characters.")
    parsed["sku"] = sku
    parse_prices(row.price, row.compare_at_price, currency, parsed, errors)
    raw_stock = (row.stock or "").strip()
    if re.fullmatch(r"-\s*\d[\d,_]*", raw_stock):
        errors["stock"] = gettext("Stock can't be negative.")
    else:
        try:
            parsed["stock"] = parse_whole(row.stock, "stock", gettext("Stock"), MAX_STOCK)
        except CatalogError as exc:
            errors["stock"] = exc.message
    loaded = (row.loaded_stock or "").strip()
    if not re.fullmatch(r"\d{1,10}", loaded):
        errors.setdefault(
            "stock", gettext("This row is out of date. Reload the page and try again.")
        )
    else:
        parsed["loaded_stock"] = int(loaded)
    return parsed, errors


def save_grid(product: Product, rows: list[GridRow], *, user_id: int | None = None) -> int:
    """Apply the grid to `product`'s variants, all or nothing; returns how many changed.

    `rows` must name variants of this product only (the view answers 404 otherwise). Raises
    GridErrors with every refused cell; the caller rolls back then. Doesn't commit.
    """
    variants = {v.id: v for v in product.variants}
    unknown = [row.variant_id for row in rows if row.variant_id not in variants]
    if unknown:
        raise LookupError(f"variants {unknown} are not variants of product {product.id}")
    currency = db.session.get(Store, product.store_id).currency
    cells: dict[int, dict[str, str]] = {}
    parsed: dict[int, dict] = {}
    for row in rows:
        values, errors = _parse_row(row, currency)
        parsed[row.variant_id] = values
        if errors:
            cells[row.variant_id] = errors

    _check_skus(product, parsed, cells)
    current: dict[int, int] = {}
    for variant_id, values in parsed.items():
        variant = variants[variant_id]
        if "stock" in values and "loaded_stock" in values:
            wants_change = values["stock"] != values["loaded_stock"]
            if wants_change and variant.stock != values["loaded_stock"]:
                current[variant_id] = variant.stock
                cells.setdefault(variant_id, {})["stock"] = _changed_message(
                    values["loaded_stock"], variant.stock
                )
    if cells:
        raise GridErrors(cells, current)

    changed = _write(product, variants, parsed, user_id)
    refresh_summary(product)
    if changed:
        product.updated_at = utcnow()
    return changed


def _changed_message(loaded: int, now: int) -> str:
    return gettext(
        "Stock changed from %(loaded)s to %(now)s since you opened this page (an order or "
        "another edit). Your number was kept: check it and save again.",
        loaded=number(loaded),
        now=number(now),
    )


def _check_skus(product: Product, parsed: dict[int, dict], cells: dict) -> None:
    """A SKU typed twice in the grid, or used by another variant of the store, is a cell error
    (one query for the whole grid)."""
    seen: dict[str, int] = {}
    for variant_id, values in parsed.items():
        sku = values.get("sku")
        if not sku or "sku" in cells.get(variant_id, {}):
            continue
        if sku in seen:
            cells.setdefault(variant_id, {})["sku"] = gettext(
                "The SKU %(sku)s is in this grid twice.", sku=sku
            )
        else:
            seen[sku] = variant_id
    if not seen:
        return
    taken = db.session.execute(
        select(Variant.sku, Variant.id).where(
            Variant.store_id == product.store_id,
            Variant.sku.in_(list(seen)),
            Variant.id.not_in(list(parsed)),
        )
    ).all()
    for sku, _other in taken:
        cells.setdefault(seen[sku], {})["sku"] = gettext(
            "The SKU %(sku)s is already used by another variant in the store.", sku=sku
        )


def _write(product: Product, variants: dict[int, Variant], parsed: dict, user_id) -> int:
    """Write the checked grid: SKUs, prices, then stock through the ledger in id order."""
    changed: set[int] = set()
    renamed = {
        vid: values["sku"] for vid, values in parsed.items() if variants[vid].sku != values["sku"]
    }
    if set(renamed.values()) & {variants[vid].sku for vid in parsed}:
        # Two rows swapping SKUs would meet on the (store_id, sku) index mid-flush: park them.
        for vid in renamed:
            variants[vid].sku = f"~grid-{vid}"
        db.session.flush()
    for vid, values in parsed.items():
        variant = variants[vid]
        for name in ("sku", "price", "compare_at_price"):
            if getattr(variant, name) != values[name]:
                setattr(variant, name, values[name])
                changed.add(vid)
    db.session.flush()
    conflicts: dict[int, dict[str, str]] = {}
    current: dict[int, int] = {}
    # One conditional UPDATE per variant in id order (the lock order every writer keeps); the
    # ledger rows wait for the commit's flush and go in one INSERT.
    with db.session.no_autoflush:
        for vid in sorted(parsed):
            _move_stock(product.store_id, vid, parsed[vid], user_id, changed, conflicts, current)
    if conflicts:
        raise GridErrors(conflicts, current)
    if changed:
        from app.catalog.editing import emit_product_updated

        emit_product_updated(product)
    return len(changed)


def _move_stock(store_id, vid, values, user_id, changed, conflicts, current) -> None:
    delta = values["stock"] - values["loaded_stock"]
    if delta:
        try:
            apply_movement(
                store_id,
                vid,
                delta,
                "adjust",
                reason=REASON,
                reference="adjust",
                user_id=user_id,
                expected_stock=values["loaded_stock"],
            )
        except StockChanged as exc:
            current[vid] = exc.current
            conflicts[vid] = {"stock": _changed_message(values["loaded_stock"], exc.current)}
        except StockLimit:
            conflicts[vid] = {
                "stock": gettext(
                    "%(label)s must be a whole number from 0 to %(upper)s.",
                    label=gettext("Stock"),
                    upper=number(MAX_STOCK),
                )
            }
        else:
            changed.add(vid)
