"""The console's overview: platform KPIs for a period, against the period before, and a chart.

GMV is the total of orders paid in the period (before refunds), per currency: stores sell in
different currencies and no exchange rate is applied. Days are UTC days. Test orders (the test
gateway's) never count.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask_babel import gettext
from sqlalchemy import func, select

from app.accounts.models import User
from app.extensions import db
from app.orders.models import Order
from app.reports.sales import Day
from tenants.models import Store

PRESETS = (7, 30, 90)
MAX_DAYS = 366


class RangeError(ValueError):
    pass


@dataclass(frozen=True)
class Range:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> "Range":
        return Range(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def bounds(self) -> tuple[datetime, datetime]:
        since = datetime.combine(self.start, datetime.min.time(), UTC)
        return since, since + timedelta(days=self.days)


def parse_range(args, today: date) -> Range:
    """`days` (7, 30, 90) or `from`/`to` dates; the last 30 days by default."""
    raw_from, raw_to = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    if raw_from or raw_to:
        try:
            start = date.fromisoformat(raw_from) if raw_from else today - timedelta(days=29)
            end = date.fromisoformat(raw_to) if raw_to else today
        except ValueError:
            raise RangeError(gettext("Use dates like 2026-11-01.")) from None
        if end < start:
            raise RangeError(gettext("The end date is before the start date."))
        if (end - start).days + 1 > MAX_DAYS:
            raise RangeError(gettext("Choose at most %(num)s days.", num=MAX_DAYS))
        if start.year < 2000 or end.year > 2100:
            raise RangeError(gettext("Use dates like 2026-11-01."))
        return Range(start, end)
    days = args.get("days", "30")
    days = int(days) if days in {str(p) for p in PRESETS} else 30
    return Range(today - timedelta(days=days - 1), today)


@dataclass
class Kpis:
    gmv: dict  # currency -> minor units
    orders: int
    orders_by_currency: dict
    new_stores: int
    new_users: int


def kpis(period: Range) -> Kpis:
    since, until = period.bounds()
    paid = [Order.paid_at >= since, Order.paid_at < until, Order.is_test.is_(False)]
    rows = db.session.execute(
        select(Order.currency, func.sum(Order.total), func.count())
        .where(*paid)
        .group_by(Order.currency)
        .order_by(func.count().desc(), Order.currency)
    ).all()
    gmv = {currency: total for currency, total, _ in rows}
    by_currency = {currency: n for currency, _, n in rows}
    orders = sum(by_currency.values())
    stores = db.session.scalar(
        select(func.count())
        .select_from(Store)
        .where(Store.created_at >= since, Store.created_at < until, Store.deleted_at.is_(None))
    )
    users = db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.created_at >= since, User.created_at < until)
    )
    return Kpis({k: int(v) for k, v in gmv.items()}, orders, by_currency, stores, users)


def daily(period: Range, currency: str | None) -> list[Day]:
    """One Day per day of the period: GMV in `currency` and paid orders (all currencies)."""
    since, until = period.bounds()
    day = func.date(Order.paid_at)
    rows = db.session.execute(
        select(
            day,
            func.count(),
            func.coalesce(func.sum(Order.total).filter(Order.currency == currency), 0),
        )
        .where(Order.paid_at >= since, Order.paid_at < until, Order.is_test.is_(False))
        .group_by(day)
    ).all()
    by_day = {str(d)[:10]: (int(total), n) for d, n, total in rows}
    series = []
    for offset in range(period.days):
        current = period.start + timedelta(days=offset)
        total, n = by_day.get(current.isoformat(), (0, 0))
        series.append(Day(current, total, n))
    return series


def change(now: int, before: int) -> str | None:
    """Change against the period before: "+12 %", a minus for a fall, "new", or None."""
    if not before:
        return "new" if now else None
    percent = round((now - before) * 100 / before)
    return f"+{percent} %" if percent >= 0 else f"−{-percent} %"
