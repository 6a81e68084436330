"""The dashboard's orders list: filters, search and pages in a fixed two queries."""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select

from app.catalog.editing import parse_page
from app.extensions import db
from app.orders import states
from app.orders.models import Order, OrderLine
from tenants.models import Store
from tenants.query import MAX_ID, scoped_select

PAGE_SIZE = 25
STATUS_FILTERS = ("all", *states.STATUSES)
PAYMENT_FILTERS = ("all", "paid", "unpaid", "refunded")
_NUMBER_RE = re.compile(r"#?\s*(\d{1,10})")


@dataclass
class OrderPage:
    """One page of the orders list, with what it was asked for."""

    rows: list  # (Order, item_count)
    total: int
    page: int
    pages: int
    requested_page: int
    q: str = ""
    status: str = "all"
    payment: str = "all"
    date_from: str = ""
    date_to: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def past_the_end(self) -> bool:
        return self.requested_page > self.pages

    @property
    def first_index(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * PAGE_SIZE, self.total)

    @property
    def filtered(self) -> bool:
        choices = (self.status, self.payment)
        return bool(self.q or self.date_from or self.date_to or choices != ("all", "all"))

    def query_args(self, **changes) -> dict:
        """The list's query string as url_for arguments (defaults left out)."""
        args = {
            "q": self.q or None,
            "status": self.status if self.status != "all" else None,
            "payment": self.payment if self.payment != "all" else None,
            "from": self.date_from or None,
            "to": self.date_to or None,
        }
        args.update(changes)
        return {k: v for k, v in args.items() if v is not None}


def _zone(store: Store):
    try:
        return ZoneInfo(store.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _parse_date(text: str | None, label: str, errors: list[str]) -> date | None:
    raw = (text or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"The {label} date must look like 2026-01-31.")
        return None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _payment_condition(payment: str):
    refunded = or_(
        Order.status.in_((states.PARTIALLY_REFUNDED, states.REFUNDED)),
        and_(Order.status == states.CANCELLED, Order.paid_at.is_not(None)),
    )
    if payment == "unpaid":
        return Order.paid_at.is_(None)
    if payment == "paid":
        return and_(
            Order.paid_at.is_not(None),
            Order.status.in_((states.PAID, states.FULFILLED, states.DELIVERED)),
        )
    return refunded


def search_condition(q: str):
    """Order number (1001 or #1001), or part of the email or the shipping name."""
    pattern = f"%{_escape_like(q.lower())}%"
    name = func.lower(Order.shipping_address["full_name"].as_string())
    matches = [
        func.lower(Order.email).like(pattern, escape="\\"),
        name.like(pattern, escape="\\"),
    ]
    number = _NUMBER_RE.fullmatch(q)
    if number and int(number.group(1)) <= MAX_ID:
        matches.append(Order.number == int(number.group(1)))
    return or_(*matches)


def list_orders(
    store: Store,
    *,
    q: str = "",
    status: str = "all",
    payment: str = "all",
    date_from: str = "",
    date_to: str = "",
    page=1,
) -> OrderPage:
    """A page of the store's orders, newest first: a count and one page query, nothing more."""
    errors: list[str] = []
    status = status if status in STATUS_FILTERS else "all"
    payment = payment if payment in PAYMENT_FILTERS else "all"
    q = " ".join((q or "").split())[:200]
    start = _parse_date(date_from, "from", errors)
    end = _parse_date(date_to, "to", errors)
    if start and end and end < start:
        errors.append("The “to” date was before the “from” date, so the two were swapped.")
        start, end = end, start
    stmt = scoped_select(Order, store)
    if status != "all":
        stmt = stmt.where(Order.status == status)
    if payment != "all":
        stmt = stmt.where(_payment_condition(payment))
    zone = _zone(store)
    if start:
        since = datetime.combine(start, time.min, zone).astimezone(UTC)
        stmt = stmt.where(Order.placed_at >= since)
    if end:
        after = datetime.combine(end + timedelta(days=1), time.min, zone).astimezone(UTC)
        stmt = stmt.where(Order.placed_at < after)
    if q:
        stmt = stmt.where(search_condition(q))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    requested = parse_page(page)
    current = min(requested, pages)
    item_count = (
        select(func.coalesce(func.sum(OrderLine.quantity), 0))
        .where(OrderLine.order_id == Order.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        stmt.add_columns(item_count)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(PAGE_SIZE)
        .offset((current - 1) * PAGE_SIZE)
    ).all()
    return OrderPage(
        rows=rows,
        total=total,
        page=current,
        pages=pages,
        requested_page=requested,
        q=q,
        status=status,
        payment=payment,
        date_from=start.isoformat() if start else "",
        date_to=end.isoformat() if end else "",
        errors=errors,
    )


def get_order_by_number(store: Store, number, *, lock: bool = False) -> Order | None:
    """The store's order with this number, or None (also for junk and out-of-range numbers)."""
    try:
        number = int(str(number).strip().lstrip("#"))
    except (TypeError, ValueError):
        return None
    if not 1 <= number <= MAX_ID:
        return None
    stmt = scoped_select(Order, store).where(Order.number == number)
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)
