"""Payout reports: what a store sold, refunded, paid in commission and is owed, per month.

Periods are calendar months in UTC (payouts are a platform matter, settled the same way for
every store). Sums come from the commission ledger with one grouped query; a report's rows are
its entries with their orders' numbers.
"""

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from babel.dates import format_date
from flask_babel import gettext
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app.audit.service import record
from app.database import utcnow
from app.extensions import db
from app.i18n import format_locale
from app.money import to_decimal
from app.orders.models import Order
from app.payouts.models import CommissionEntry, Payout
from tenants.models import Store

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


class PayoutError(Exception):
    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive

    @property
    def key(self) -> str:
        return self.start.strftime("%Y-%m")

    @property
    def label(self) -> str:
        """The month as the spoken language names it ("October 2026", "Oktober 2026")."""
        return format_date(self.start, "LLLL yyyy", locale=format_locale())

    @property
    def previous(self) -> "Period":
        return month_of(self.start.toordinal() - 1)

    def bounds(self) -> tuple[datetime, datetime]:
        return (
            datetime(self.start.year, self.start.month, 1, tzinfo=UTC),
            datetime(self.end.year, self.end.month, 1, tzinfo=UTC),
        )


def month_of(day) -> Period:
    day = date.fromordinal(day) if isinstance(day, int) else day
    start = date(day.year, day.month, 1)
    last = calendar.monthrange(day.year, day.month)[1]
    end = date.fromordinal(date(day.year, day.month, last).toordinal() + 1)
    return Period(start, end)


def parse_period(raw: str | None, today: date | None = None) -> Period:
    """A "YYYY-MM" month; empty means last month. PayoutError (422) for anything else."""
    today = today or utcnow().date()
    if not raw:
        return month_of(today).previous
    match = _PERIOD.fullmatch(raw.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2100:
        raise PayoutError(gettext("Choose a month like 2026-10."), 422)
    return month_of(date(int(match.group(1)), int(match.group(2)), 1))


@dataclass
class Totals:
    currency: str
    gross: int = 0
    refunds: int = 0
    commission: int = 0
    net: int = 0
    orders: int = 0


@dataclass
class StoreReport:
    store: Store
    period: Period
    totals: list[Totals]
    rows: list = field(default_factory=list)  # (entry, order number)
    payouts: dict = field(default_factory=dict)  # currency -> Payout


def _sums(where) -> list:
    charged = func.sum(func.coalesce(CommissionEntry.gross, 0)).filter(
        CommissionEntry.kind == "charge"
    )
    refunded = func.sum(func.coalesce(CommissionEntry.gross, 0)).filter(
        CommissionEntry.kind == "refund"
    )
    orders = func.count(CommissionEntry.id).filter(CommissionEntry.kind == "charge")
    return db.session.execute(
        select(
            CommissionEntry.store_id,
            CommissionEntry.currency,
            func.coalesce(charged, 0),
            func.coalesce(refunded, 0),
            func.sum(CommissionEntry.commission),
            func.sum(CommissionEntry.net),
            orders,
        )
        .where(*where)
        .group_by(CommissionEntry.store_id, CommissionEntry.currency)
        .order_by(CommissionEntry.store_id, CommissionEntry.currency)
    ).all()


def _in(period: Period):
    """The entries that count in `period`: a test order's (recorded before they were left
    out of the ledger) never do."""
    since, until = period.bounds()
    tested = aliased(Order)  # its own name: the rows' query joins Order too
    test_order = exists().where(tested.id == CommissionEntry.order_id, tested.is_test)
    return [CommissionEntry.created_at >= since, CommissionEntry.created_at < until, ~test_order]


def store_report(store: Store, period: Period, *, with_rows: bool = True) -> StoreReport:
    totals = [
        Totals(currency, int(g), int(r), int(c), int(n), int(o))
        for _, currency, g, r, c, n, o in _sums(
            [CommissionEntry.store_id == store.id, *_in(period)]
        )
    ]
    report = StoreReport(store, period, totals)
    if with_rows:
        report.rows = db.session.execute(
            select(CommissionEntry, Order.number)
            .join(Order, Order.id == CommissionEntry.order_id)
            .where(CommissionEntry.store_id == store.id, *_in(period))
            .order_by(CommissionEntry.created_at, CommissionEntry.id)
        ).all()
    report.payouts = {
        p.currency: p
        for p in db.session.scalars(
            select(Payout).where(Payout.store_id == store.id, Payout.period_start == period.start)
        )
    }
    return report


def platform_report(period: Period) -> list[tuple[Store, Totals, Payout | None]]:
    """Every store with entries in the period: its totals per currency and payout, if any."""
    sums = _sums(_in(period))
    stores = {
        s.id: s for s in db.session.scalars(select(Store).where(Store.id.in_({r[0] for r in sums})))
    }
    payouts = {
        (p.store_id, p.currency): p
        for p in db.session.scalars(select(Payout).where(Payout.period_start == period.start))
    }
    return [
        (stores[sid], Totals(cur, int(g), int(r), int(c), int(n), int(o)), payouts.get((sid, cur)))
        for sid, cur, g, r, c, n, o in sums
    ]


def mark_paid(store: Store, period: Period, *, actor=None, reference: str = "") -> list[Payout]:
    """Record the period's payout (per currency) with the report's figures now; PayoutError if
    it was marked already, or there is nothing to pay."""
    if period.end > utcnow().date():
        raise PayoutError(gettext("A month can be paid out once it has ended."), 422)
    report = store_report(store, period, with_rows=False)
    if report.payouts:
        raise PayoutError(_already_paid(store, period))
    if not report.totals:
        raise PayoutError(
            gettext(
                "%(store)s has nothing to pay out for %(period)s.",
                store=store.name,
                period=period.label,
            ),
            422,
        )
    made = []
    for totals in report.totals:
        payout = Payout(
            store_id=store.id,
            period_start=period.start,
            period_end=period.end,
            currency=totals.currency,
            gross=totals.gross,
            refunds=totals.refunds,
            commission=totals.commission,
            net=totals.net,
            reference=(reference or "").strip()[:120],
            marked_by_id=getattr(actor, "id", None),
        )
        db.session.add(payout)
        made.append(payout)
        record(
            "payout.marked_paid",
            actor=actor,
            store=store,
            period=period.key,
            currency=totals.currency,
            net=totals.net,
            reference=payout.reference,
        )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise PayoutError(_already_paid(store, period)) from None
    return made


def _already_paid(store: Store, period: Period) -> str:
    return gettext(
        "%(period)s was already marked paid for %(store)s.", period=period.label, store=store.name
    )


def csv_rows(report: StoreReport):
    """The report as CSV rows: the entries, then the totals."""

    yield ["date (UTC)", "order", "kind", "currency", "gross", "commission", "net", "rate %"]
    for entry, number in report.rows:
        yield [
            entry.created_at.strftime("%Y-%m-%d %H:%M"),
            number,
            entry.kind,
            entry.currency,
            to_decimal(entry.gross, entry.currency),
            to_decimal(entry.commission, entry.currency),
            to_decimal(entry.net, entry.currency),
            entry.rate_bps / 100,
        ]
    for totals in report.totals:
        for label, value in [
            ("gross", totals.gross),
            ("refunds", totals.refunds),
            ("commission", totals.commission),
            ("net payout", totals.net),
        ]:
            yield [
                "total",
                "",
                label,
                totals.currency,
                to_decimal(value, totals.currency),
                "",
                "",
                "",
            ]


def csv_download(report: StoreReport):
    """The report as a CSV download (formula-safe cells, a BOM for Excel)."""
    from flask import Response

    from app.reports.exports import csv_chunks

    response = Response("".join(csv_chunks(csv_rows(report))), mimetype="text/csv")
    name = f"{report.store.slug}-payout-{report.period.key}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
