"""The shell's search box: one store's orders, products and customers on one results page."""

from dataclasses import dataclass

from flask import render_template, request
from sqlalchemy import func

from app.accounts.permissions import require_store_permission
from app.catalog.editing import list_products, product_filters
from app.dashboard import bp
from app.extensions import db
from app.orders.listing import list_orders, order_filters, search_condition
from app.orders.models import Order
from app.pagination import Page
from tenants.context import current_store
from tenants.models import Store
from tenants.query import scoped_select

SHOWN = 5  # of each kind; "all N" links to the full list with the same search
CUSTOMERS_SHOWN = 10


@dataclass
class Customer:
    """A customer is the email on their orders (guests have no account)."""

    email: str
    orders: int
    last_order_at: object


@dataclass
class SearchResults:
    q: str
    orders: Page | None = None
    products: Page | None = None
    customers: list[Customer] | None = None

    @property
    def empty(self) -> bool:
        return not (self.orders.total or self.products.total or self.customers)


def search_store(store: Store, q: str) -> SearchResults:
    """Orders (the orders list's search), products (the product list's) and customers (distinct
    order emails whose order matches) of `store` for `q`."""
    q = " ".join((q or "").split())[:200]
    if not q:
        return SearchResults(q="")
    orders = list_orders(store, order_filters(q), 1)
    products = list_products(store, product_filters(q), 1)
    email = func.lower(Order.email)
    customers = db.session.execute(
        scoped_select(Order, store)
        .where(search_condition(q))
        .with_only_columns(email, func.count(Order.id), func.max(Order.placed_at))
        .group_by(email)
        .order_by(func.max(Order.placed_at).desc(), email)
        .limit(CUSTOMERS_SHOWN)
    ).all()
    return SearchResults(
        q=q,
        orders=orders,
        products=products,
        customers=[Customer(e, n, last) for e, n, last in customers],
    )


@bp.get("/search")
@require_store_permission("orders.view")
def search():
    """Search the store's orders, products and customers from the shell's search box."""
    results = search_store(current_store(), request.args.get("q", ""))
    return render_template("admin/search.html", results=results, shown=SHOWN)
