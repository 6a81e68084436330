"""The console's search box: stores, users and orders of every store on one results page.

Stores and users reuse their lists' searches (name, subdomain or owner email; email or name).
Orders are found by number ("1001", "#1001", or "acme#1001" for one store's) or by the full
email they were placed with (an indexed equality: the console spans every store's orders).
"""

import re
from dataclasses import dataclass, field

from flask import render_template, request
from sqlalchemy import select

from app.accounts.permissions import require_superuser
from app.catalog.browse import clean
from app.console import bp, queries
from app.extensions import db
from app.orders.models import Order
from app.pagination import Page
from tenants.models import Store
from tenants.query import MAX_ID

SHOWN = 5  # stores and users; "all N" links to their lists with the same search
ORDERS_SHOWN = 10
_ORDER_NUMBER = re.compile(r"(?:([a-z0-9][a-z0-9-]*)\s*[#\s]\s*)?#?\s*(\d{1,10})")


@dataclass
class ConsoleResults:
    q: str
    stores: Page | None = None
    users: Page | None = None
    orders: list = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.stores.total or self.users.total or self.orders)


def find_orders(q: str) -> list[tuple[Order, Store]]:
    """(order, store) for an order number (in one store with "slug#number") or a full email,
    newest first; nothing for anything else."""
    q = q.strip().lower()
    if "@" in q:
        conditions = [Order.email == q]
    else:
        number = _ORDER_NUMBER.fullmatch(q)
        if number is None or int(number.group(2)) > MAX_ID:
            return []
        conditions = [Order.number == int(number.group(2))]
        if number.group(1):
            conditions.append(Store.slug == number.group(1))
    return db.session.execute(
        select(Order, Store)
        .join(Store, Store.id == Order.store_id)
        .where(*conditions)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(ORDERS_SHOWN)
    ).all()


def search_platform(q: str) -> ConsoleResults:
    """Stores, users and orders matching `q` (at most 120 characters, whitespace folded)."""
    q = " ".join(clean(q, 120).split())
    if not q:
        return ConsoleResults(q="")
    return ConsoleResults(
        q=q,
        stores=queries.stores(q, "all", 1, SHOWN),
        users=queries.users(q.lower(), 1, SHOWN),
        orders=find_orders(q),
    )


@bp.get("/search")
@require_superuser
def search():
    """Search every store, account and order from the console's search box."""
    results = search_platform(request.args.get("q", ""))
    return render_template("console/search.html", results=results, shown=SHOWN)
