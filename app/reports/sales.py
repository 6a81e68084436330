"""The numbers on the dashboard's home: sales today and this month, 30 days of daily sales,
low stock and the latest orders. Plain functions over one or two queries each.

Sales are what shoppers paid on orders that were paid (paid, shipped, delivered or refunded
later), counted on the day the order was placed in the store's time zone, minus what was
refunded on them: a refund lowers the day of its order, so a month's total is its net takings.
Test orders (placed or paid on the test gateway) never count.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from app.catalog.models import Product, Variant
from app.extensions import db
from app.inventory.alerts import DEFAULT_THRESHOLD
from app.orders import states
from app.orders.models import Order
from app.payments.models import Payment
from tenants.models import Store
from tenants.query import scoped_select

SOLD = (
    states.PAID,
    states.FULFILLED,
    states.DELIVERED,
    states.PARTIALLY_REFUNDED,
    states.REFUNDED,
)


@dataclass(frozen=True)
class Day:
    day: date
    total: int
    orders: int


@dataclass(frozen=True)
class Summary:
    today: int
    today_orders: int
    month: int
    month_orders: int

    @property
    def average(self) -> int:
        """The month's average order value, in minor units."""
        return round(self.month / self.month_orders) if self.month_orders else 0


def _sales_since(store: Store, start: datetime) -> list[tuple[datetime, int]]:
    """(placed_at, net amount) of every sold order placed since `start` (one query)."""
    refunds = (
        select(Payment.order_id, func.sum(Payment.amount).label("refunded"))
        .where(Payment.store_id == store.id, Payment.kind == "refund")
        .group_by(Payment.order_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Order.placed_at, Order.total, func.coalesce(refunds.c.refunded, 0))
        .outerjoin(refunds, refunds.c.order_id == Order.id)
        .where(
            Order.store_id == store.id,
            Order.status.in_(SOLD),
            Order.placed_at >= start,
            Order.is_test.is_(False),  # the test gateway's orders sold nothing
        )
    ).all()
    return [(placed, total + refunded) for placed, total, refunded in rows]


def daily_sales(store: Store, now: datetime, days: int = 30) -> list[Day]:
    """The last `days` days (today last) of net sales and order counts, zero-filled."""
    today = store.today(now)
    first = today - timedelta(days=days - 1)
    totals: dict[date, list[int]] = {first + timedelta(d): [0, 0] for d in range(days)}
    for placed, amount in _sales_since(store, store.day_start(first)):
        bucket = totals.get(store.today(placed))
        if bucket is not None:
            bucket[0] += amount
            bucket[1] += 1
    return [Day(day, total, count) for day, (total, count) in totals.items()]


def sales_summary(store: Store, now: datetime, series: list[Day] | None = None) -> Summary:
    """Today's and this month's net sales and orders, in the store's time zone."""
    today = store.today(now)
    month_start = today.replace(day=1)
    if series is None or series[0].day > month_start:
        sales = [(store.today(p), a) for p, a in _sales_since(store, store.day_start(month_start))]
        by_day = [Day(d, a, 1) for d, a in sales]
    else:
        by_day = series
    month = [d for d in by_day if d.day >= month_start]
    day = [d for d in by_day if d.day == today]
    return Summary(
        today=sum(d.total for d in day),
        today_orders=sum(d.orders for d in day),
        month=sum(d.total for d in month),
        month_orders=sum(d.orders for d in month),
    )


def low_stock(store: Store, limit: int = 10):
    """Tracked variants of live products at or below their low-stock threshold, fewest first.

    Rows are (variant, product title, product id, threshold); a variant without a threshold of
    its own uses the default.
    """
    default = DEFAULT_THRESHOLD if store.low_stock_default is None else store.low_stock_default
    threshold = func.coalesce(Variant.low_stock_threshold, default)
    return db.session.execute(
        scoped_select(Variant, store)
        .add_columns(Product.title, Product.id, threshold)
        .join(Product, Product.id == Variant.product_id)
        .where(
            Variant.track_inventory.is_(True),
            Variant.stock <= threshold,
            Product.status != "archived",
        )
        .order_by(Variant.stock, Variant.id)
        .limit(limit)
    ).all()


def latest_orders(store: Store, limit: int = 10) -> list[Order]:
    """The store's newest orders."""
    return list(
        db.session.scalars(
            scoped_select(Order, store)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: Day


@dataclass(frozen=True)
class Chart:
    """A bar chart's geometry in SVG units: bars, gridlines (y, value) and day labels (x, day)."""

    width: int
    height: int
    bars: list[Bar]
    gridlines: list[tuple[float, int]]
    labels: list[tuple[float, date]]
    top: int


def _nice_ceiling(value: int) -> int:
    """A round number at or above `value` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def bar_chart(series: list[Day], width: int = 720, height: int = 220) -> Chart:
    """Lay out one bar per day, with four gridlines at round amounts and a label every 5 days."""
    left, bottom, top_pad = 64, 24, 8
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    best = max((d.total for d in series), default=0)
    top = _nice_ceiling(best) or 1
    slot = plot_w / max(len(series), 1)
    bars = []
    for i, day in enumerate(series):
        h = plot_h * max(day.total, 0) / top
        bars.append(Bar(left + i * slot + slot * 0.15, top_pad + plot_h - h, slot * 0.7, h, day))
    if best <= 0:
        # No sales: the zero line alone, not an axis of "$0.00 $0.00 $0.01".
        gridlines = [(float(top_pad + plot_h), 0)]
    else:
        gridlines = []
        for k in range(5):
            value = round(top * k / 4)
            if not gridlines or value != gridlines[-1][1]:
                gridlines.append((top_pad + plot_h - plot_h * value / top, value))
    labels = [
        (left + i * slot + slot / 2, day.day)
        for i, day in enumerate(series)
        if (len(series) - 1 - i) % 5 == 0
    ]
    return Chart(width, height, bars, gridlines, labels, top)
