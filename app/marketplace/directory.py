"""The platform's store directory: what the marketplace home lists, a page at a time.

Nothing here grows with the number of stores: the home shows a few newly opened stores and one
page of the directory (searchable by name, filtered by currency), never every store at once.
"""

from dataclasses import dataclass

from sqlalchemy import Select, func, select

from app.extensions import db
from app.pagination import Page, paginate, parse_page
from tenants.models import Store

DIRECTORY_PAGE = 24
NEWEST_LIMIT = 6
CURRENCY_LIMIT = 40  # the currency menu lists at most this many, the most common first


@dataclass
class DirectoryFilters:
    """The directory's filters as a visitor gave them, already made safe."""

    q: str = ""
    currency: str = ""
    page: int = 1

    @property
    def active(self) -> bool:
        return bool(self.q or self.currency)

    def as_args(self) -> dict[str, str]:
        return {"q": self.q, "currency": self.currency}


def parse_directory_filters(args) -> DirectoryFilters:
    """Filters from query arguments; junk is dropped, never an error."""

    def text(name: str, limit: int) -> str:
        value = args.get(name)
        return value.replace("\x00", "")[:limit].strip() if isinstance(value, str) else ""

    currency = text("currency", 3).upper()
    return DirectoryFilters(
        q=text("q", 120),
        currency=currency if len(currency) == 3 and currency.isalpha() else "",
        page=parse_page(args.get("page", 1)),
    )


def open_stores() -> Select:
    """Stores a visitor may see: active, published and not deleted."""
    return select(Store).where(
        Store.status == "active", Store.published_at.is_not(None), Store.deleted_at.is_(None)
    )


def newest_stores(limit: int = NEWEST_LIMIT) -> list[Store]:
    """The stores that opened most recently."""
    return db.session.scalars(
        open_stores().order_by(Store.published_at.desc(), Store.id.desc()).limit(limit)
    ).all()


def store_directory(filters: DirectoryFilters, per_page: int = DIRECTORY_PAGE) -> Page:
    """One page of open stores by name, matching the name search and currency."""
    stmt = open_stores()
    if filters.q:
        words = filters.q.lower().replace("%", "").replace("_", "")
        stmt = stmt.where(func.lower(Store.name).contains(words, autoescape=True))
    if filters.currency:
        stmt = stmt.where(Store.currency == filters.currency)
    stmt = stmt.order_by(Store.name, Store.id)
    # The page and the total in one query (a window count); only a page past the end, which
    # finds no rows, needs paginate's separate count to show the last page instead.
    total = func.count().over().label("total")
    offset = (filters.page - 1) * per_page
    rows = db.session.execute(stmt.add_columns(total).limit(per_page).offset(offset)).all()
    if rows or filters.page == 1:
        return Page(
            items=[store for store, _ in rows],
            page=filters.page,
            per_page=per_page,
            total=rows[0].total if rows else 0,
        )
    return paginate(stmt, filters.page, per_page, scalars=True)


def store_currencies(limit: int = CURRENCY_LIMIT) -> list[str]:
    """The currencies open stores sell in, for the directory's filter (alphabetical)."""
    count = func.count()
    rows = db.session.execute(
        open_stores()
        .with_only_columns(Store.currency, count)
        .group_by(Store.currency)
        .order_by(count.desc(), Store.currency)
        .limit(limit)
    ).all()
    return sorted(currency for currency, _ in rows)
