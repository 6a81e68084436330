"""CSV exports: the catalog (one row per variant) and orders in a date range (one row per order).

Both files are streamed: a generator reads the store's rows in keyset-paginated batches and
yields the CSV a chunk at a time, so a store with 100,000 products never has its file in
memory. They open cleanly in Excel (UTF-8 with a BOM), and a cell a vendor or shopper typed
that starts with = + - @ is prefixed with ' so no spreadsheet runs it. `csv_response` and
`csv_chunks` serve every CSV download (payout reports, the stock sync's files). The pages are
in app.dashboard.exports.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import Response, stream_with_context

from app.catalog.models import Category, Product, ProductCategory, ProductTag, Variant
from app.extensions import db
from app.money import to_decimal
from app.orders.models import Order, OrderLine
from tenants.models import Store
from tenants.query import scoped_select

BATCH_SIZE = 500
FLUSH_AT = 64 * 1024  # characters of CSV gathered before a chunk is sent
# Spreadsheets treat these first characters as a formula (tab and CR too, per OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"

PRODUCT_HEADER = [
    "Product",
    "Slug",
    "Status",
    "SKU",
    "Options",
    "Price",
    "Compare-at price",
    "Currency",
    "Stock",
    "Track inventory",
    "Categories",
    "Tags",
]


class ExportError(ValueError):
    """The export can't be made as asked; the message says why."""


@dataclass(frozen=True)
class DateRange:
    """Whole days in the store's time zone, and the UTC instants that bound them."""

    start: date
    end: date
    since: datetime
    until: datetime  # exclusive: midnight after `end`


def _parse_day(raw: str | None, label: str, default: date) -> date:
    raw = (raw or "").strip()
    if not raw:
        return default
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ExportError(f"The “{label}” date must look like 2026-01-31.") from None
    if not 1970 <= day.year <= 9998:
        raise ExportError(f"The “{label}” date must be between 1970 and 9998.")
    return day


def parse_range(store: Store, date_from: str | None, date_to: str | None, now=None) -> DateRange:
    """The range two form dates name (empty: this month so far), or ExportError."""
    today = store.today(now)
    start = _parse_day(date_from, "from", today.replace(day=1))
    end = _parse_day(date_to, "to", today)
    if end < start:
        raise ExportError("The “to” date is before the “from” date.")
    return DateRange(start, end, store.day_start(start), store.day_start(end + timedelta(days=1)))


def safe_cell(value):
    """A cell's text for CSV: formulas neutralised, numbers as typed, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(rows: Iterable[list]) -> Iterator[str]:
    """CSV text (BOM first) in chunks of about FLUSH_AT characters."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        if buffer.tell() >= FLUSH_AT:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _money(amount: int | None, currency: str):
    return None if amount is None else to_decimal(amount, currency)


def _keyset(stmt, model, batch_size: int | None) -> Iterator[list]:
    """Batches of `stmt`'s rows in id order, each batch one query after the last id seen."""
    last_id = 0
    while True:
        batch = list(
            db.session.scalars(
                stmt.where(model.id > last_id).order_by(model.id).limit(batch_size or BATCH_SIZE)
            )
        )
        if not batch:
            _end_read()
            return
        last_id = batch[-1].id
        yield batch


def _end_read() -> None:
    """End the read transaction between batches, before the rows go out to a slow client.

    On SQLite every transaction takes the write lock (BEGIN IMMEDIATE), so an export held open
    for a whole download would stop the store's checkouts; on PostgreSQL it would pin one
    snapshot for minutes. Nothing is pending here: the view committed its audit entry.
    """
    db.session.rollback()


def product_rows(store: Store, batch_size: int | None = None) -> Iterator[list]:
    """The header, then one row per variant of every product of the store."""
    yield PRODUCT_HEADER
    for products in _keyset(scoped_select(Product, store), Product, batch_size):
        ids = [product.id for product in products]
        variants = defaultdict(list)
        for variant in db.session.scalars(
            scoped_select(Variant, store)
            .where(Variant.product_id.in_(ids))
            .order_by(Variant.product_id, Variant.position, Variant.id)
        ):
            variants[variant.product_id].append(variant)
        categories = defaultdict(list)
        for link, name in db.session.execute(
            scoped_select(ProductCategory, store)
            .join(Category, Category.id == ProductCategory.category_id)
            .where(Category.store_id == store.id, ProductCategory.product_id.in_(ids))
            .add_columns(Category.name)
            .order_by(Category.position, Category.id)
        ):
            categories[link.product_id].append(name)
        tags = defaultdict(list)
        for tag in db.session.scalars(
            scoped_select(ProductTag, store)
            .where(ProductTag.product_id.in_(ids))
            .order_by(ProductTag.tag)
        ):
            tags[tag.product_id].append(tag.tag)
        rows = []
        for product in products:
            shared = {
                "categories": "; ".join(categories[product.id]),
                "tags": ", ".join(tags[product.id]),
            }
            for variant in variants[product.id] or [None]:
                rows.append(_product_row(store.currency, product, variant, **shared))
        _end_read()
        yield from rows


def _product_row(currency: str, product: Product, variant: Variant | None, *, categories, tags):
    if variant is None:
        variant_cells = [None] * 7
    else:
        options = " / ".join(
            f"{name}: {value}"
            for name, value in zip(product.option_names, variant.options, strict=False)
        )
        variant_cells = [
            variant.sku,
            options,
            _money(variant.price, currency),
            _money(variant.compare_at_price, currency),
            currency,
            variant.stock,
            variant.track_inventory,
        ]
    return [product.title, product.slug, product.status, *variant_cells, categories, tags]


def order_header(store: Store) -> list[str]:
    """The orders file's header; the time column names the zone its times are in."""
    return [
        "Order number",
        f"Placed at ({store.zone.key})",
        "Status",
        "Email",
        "Customer",
        "Currency",
        "Subtotal",
        "Discount",
        "Shipping",
        "Tax",
        "Total",
        "Coupon",
        "Item count",
        "Items",
        "Test order",  # paid on the test gateway: no money moved
    ]


def order_rows(store: Store, period: DateRange, batch_size: int | None = None) -> Iterator[list]:
    """The header, then one row per order placed in `period`, oldest first, items in a cell."""
    yield order_header(store)
    zone = store.zone
    stmt = scoped_select(Order, store).where(
        Order.placed_at >= period.since, Order.placed_at < period.until
    )
    for orders in _keyset(stmt, Order, batch_size):
        lines = defaultdict(list)
        for line in db.session.scalars(
            scoped_select(OrderLine, store)
            .where(OrderLine.order_id.in_([order.id for order in orders]))
            .order_by(OrderLine.order_id, OrderLine.id)
        ):
            lines[line.order_id].append(line)
        rows = [_order_row(order, lines[order.id], zone) for order in orders]
        _end_read()
        yield from rows


def _item(line: OrderLine) -> str:
    """One order line as text: quantity, title, variant and SKU."""
    variant = f" ({line.variant_title})" if line.variant_title not in ("", "Default") else ""
    return f"{line.quantity} × {line.product_title}{variant} [{line.sku}]"


def _order_row(order: Order, lines: list[OrderLine], zone) -> list:
    currency = order.currency
    items = "; ".join(_item(line) for line in lines)
    return [
        order.number,
        order.placed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        order.status,
        order.email,
        (order.shipping_address or {}).get("full_name", ""),
        currency,
        _money(order.subtotal, currency),
        _money(order.discount, currency),
        _money(order.shipping, currency),
        _money(order.tax, currency),
        _money(order.total, currency),
        order.coupon_code,
        sum(line.quantity for line in lines),
        items,
        "yes" if order.is_test else "",
    ]


def csv_response(filename: str, rows: Iterator[list]) -> Response:
    """Stream `rows` as a CSV download; the request context lives until the last chunk."""
    response = Response(stream_with_context(csv_chunks(rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
