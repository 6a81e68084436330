"""Reading the stock ledger: one variant's movements, newest first, a page at a time."""

from dataclasses import dataclass

from sqlalchemy import func

from app.accounts.models import User
from app.catalog.browse import parse_page
from app.extensions import db
from app.inventory.models import StockMovement
from app.orders.models import Order
from tenants.models import Store
from tenants.query import scoped_select

PAGE_SIZE = 25
KIND_LABELS = {
    "receive": "Received",
    "sale": "Sale",
    "return": "Return",
    "adjust": "Adjustment",
    "sync": "Stock sync",
    "cancellation": "Cancellation",
}


@dataclass(frozen=True)
class LedgerRow:
    movement: StockMovement
    user: str | None  # the name or email of who made it
    order_number: int | None  # for a movement of an order ("order:<id>")


@dataclass(frozen=True)
class LedgerPage:
    rows: list[LedgerRow]
    total: int
    page: int
    pages: int

    @property
    def first_index(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * PAGE_SIZE, self.total)


def order_id_of(reference: str | None) -> int | None:
    """The order id in a reference like "order:17", else None."""
    kind, _, value = (reference or "").partition(":")
    if kind != "order" or not value.isdigit() or len(value) > 10:
        return None
    return int(value)


def history(store: Store, variant_id: int, page=1) -> LedgerPage:
    """A page of a variant's movements, newest first (three queries: count, page, orders)."""
    base = scoped_select(StockMovement, store).where(StockMovement.variant_id == variant_id)
    total = db.session.scalar(base.with_only_columns(func.count()))
    pages = max(1, -(-total // PAGE_SIZE))
    current = min(parse_page(page), pages)
    rows = db.session.execute(
        base.add_columns(func.coalesce(func.nullif(User.name, ""), User.email))
        .outerjoin(User, User.id == StockMovement.user_id)
        .order_by(StockMovement.id.desc())
        .limit(PAGE_SIZE)
        .offset((current - 1) * PAGE_SIZE)
    ).all()
    order_ids = {order_id_of(m.reference) for m, _ in rows} - {None}
    numbers = {}
    if order_ids:
        numbers = dict(
            db.session.execute(
                scoped_select(Order, store)
                .with_only_columns(Order.id, Order.number)
                .where(Order.id.in_(order_ids))
            ).all()
        )
    return LedgerPage(
        [LedgerRow(m, who, numbers.get(order_id_of(m.reference))) for m, who in rows],
        total,
        current,
        pages,
    )
