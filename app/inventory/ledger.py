"""Reading the stock ledger: one variant's movements, newest first, a page at a time."""

from dataclasses import dataclass

from sqlalchemy import func

from app.accounts.models import User
from app.extensions import db
from app.i18n import N_
from app.inventory.models import StockMovement
from app.orders.models import Order
from app.pagination import Page, paginate
from tenants.models import Store
from tenants.query import scoped_select

PAGE_SIZE = 25
KIND_LABELS = {
    "receive": N_("Received"),
    "sale": N_("Sale"),
    "return": N_("Return"),
    "adjust": N_("Adjustment"),
    "sync": N_("Stock sync"),
    "cancellation": N_("Cancellation"),
}


@dataclass(frozen=True)
class LedgerRow:
    movement: StockMovement
    user: str | None  # the name or email of who made it
    order_number: int | None  # for a movement of an order ("order:<id>")


def order_id_of(reference: str | None) -> int | None:
    """The order id in a reference like "order:17", else None."""
    kind, _, value = (reference or "").partition(":")
    if kind != "order" or not value.isdigit() or len(value) > 10:
        return None
    return int(value)


def history(store: Store, variant_id: int, page=1) -> Page:
    """A page of a variant's movements (LedgerRows), newest first (three queries: count, page,
    orders)."""
    base = scoped_select(StockMovement, store).where(StockMovement.variant_id == variant_id)
    found = paginate(
        base.add_columns(func.coalesce(func.nullif(User.name, ""), User.email))
        .outerjoin(User, User.id == StockMovement.user_id)
        .order_by(StockMovement.id.desc()),
        page,
        PAGE_SIZE,
        count=base.with_only_columns(func.count()),
    )
    order_ids = {order_id_of(m.reference) for m, _ in found.items} - {None}
    numbers = {}
    if order_ids:
        numbers = dict(
            db.session.execute(
                scoped_select(Order, store)
                .with_only_columns(Order.id, Order.number)
                .where(Order.id.in_(order_ids))
            ).all()
        )
    found.items = [
        LedgerRow(m, who, numbers.get(order_id_of(m.reference))) for m, who in found.items
    ]
    return found
