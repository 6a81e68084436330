"""The dashboard's orders list: filters, search and pages in a fixed two queries."""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, case, exists, func, or_, select

from app.extensions import db
from app.i18n import N_
from app.orders import states
from app.orders.models import Order, OrderEvent, OrderLine
from app.pagination import Page, paginate
from tenants.models import Store
from tenants.query import MAX_ID, scoped_select

PAGE_SIZE = 25
STATUS_FILTERS = ("all", *states.STATUSES)
PAYMENT_FILTERS = ("all", "paid", "unpaid", "refunded")
# Where the goods are, apart from the money: never shipped (and still to ship), shipped,
# delivered, or closed without shipping (cancelled, or refunded in full before it went out).
FULFILMENT_STATES = ("unfulfilled", "shipped", "delivered", "closed")
FULFILMENT_FILTERS = ("all", *FULFILMENT_STATES)
_NUMBER_RE = re.compile(r"#?\s*(\d{1,10})")


@dataclass
class OrderFilters:
    """What the orders list was asked for, made safe (and the notes about what was fixed)."""

    q: str = ""
    status: str = "all"
    payment: str = "all"
    fulfilment: str = "all"
    start: date | None = None
    end: date | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def date_from(self) -> str:
        return self.start.isoformat() if self.start else ""

    @property
    def date_to(self) -> str:
        return self.end.isoformat() if self.end else ""

    @property
    def filtered(self) -> bool:
        choices = (self.status, self.payment, self.fulfilment)
        return bool(self.q or self.start or self.end or choices != ("all", "all", "all"))

    def query_args(self, **changes) -> dict:
        """The list's query string as url_for arguments (defaults left out)."""
        args = {
            "q": self.q or None,
            "status": self.status if self.status != "all" else None,
            "payment": self.payment if self.payment != "all" else None,
            "fulfilment": self.fulfilment if self.fulfilment != "all" else None,
            "from": self.date_from or None,
            "to": self.date_to or None,
        }
        args.update(changes)
        return {k: v for k, v in args.items() if v is not None}


def order_filters(
    q: str | None = "",
    status: str | None = "all",
    payment: str | None = "all",
    date_from: str | None = "",
    date_to: str | None = "",
    fulfilment: str | None = "all",
) -> OrderFilters:
    """The filters from what was typed: unknown choices mean all, a bad date is left out with a
    note, and dates in the wrong order are swapped."""
    errors: list[str] = []
    start = _parse_date(date_from, N_("The “from” date must look like 2026-01-31."), errors)
    end = _parse_date(date_to, N_("The “to” date must look like 2026-01-31."), errors)
    if start and end and end < start:
        errors.append(N_("The “to” date was before the “from” date, so the two were swapped."))
        start, end = end, start
    return OrderFilters(
        q=" ".join((q or "").split())[:200],
        status=status if status in STATUS_FILTERS else "all",
        payment=payment if payment in PAYMENT_FILTERS else "all",
        fulfilment=fulfilment if fulfilment in FULFILMENT_FILTERS else "all",
        start=start,
        end=end,
        errors=errors,
    )


def _parse_date(text: str | None, refusal: str, errors: list[str]) -> date | None:
    raw = (text or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(refusal)
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


def _reached(status: str):
    return exists().where(OrderEvent.order_id == Order.id, OrderEvent.to_status == status)


def fulfilment_state():
    """The order's fulfilment state as a SQL expression (one of FULFILMENT_STATES): the order's
    history decides, because a partly refunded order may or may not have been shipped."""
    return case(
        (_reached(states.DELIVERED), "delivered"),
        (_reached(states.FULFILLED), "shipped"),
        (Order.status.in_((states.CANCELLED, states.REFUNDED)), "closed"),
        else_="unfulfilled",
    )


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


def list_orders(store: Store, filters: OrderFilters, page=1) -> Page:
    """A page of the store's orders (rows of order, item count and fulfilment state), newest
    first: a count and one page query, nothing more."""
    stmt = filtered_orders(store, filters)
    item_count = (
        select(func.coalesce(func.sum(OrderLine.quantity), 0))
        .where(OrderLine.order_id == Order.id)
        .scalar_subquery()
    )
    return paginate(
        stmt.add_columns(item_count, fulfilment_state()).order_by(
            Order.placed_at.desc(), Order.id.desc()
        ),
        page,
        PAGE_SIZE,
        count=select(func.count()).select_from(stmt.subquery()),
    )


def filtered_orders(store: Store, filters: OrderFilters):
    """`SELECT orders` of the store that match the filters (the dashboard list and the API)."""
    stmt = scoped_select(Order, store)
    if filters.status != "all":
        stmt = stmt.where(Order.status == filters.status)
    if filters.payment != "all":
        stmt = stmt.where(_payment_condition(filters.payment))
    if filters.fulfilment != "all":
        stmt = stmt.where(fulfilment_state() == filters.fulfilment)
    if filters.start:
        stmt = stmt.where(Order.placed_at >= store.day_start(filters.start))
    if filters.end:
        stmt = stmt.where(Order.placed_at < store.day_start(filters.end + timedelta(days=1)))
    if filters.q:
        stmt = stmt.where(search_condition(filters.q))
    return stmt


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
