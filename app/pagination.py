"""Pages of a list: the page number from the query string, the page's rows and the links' maths.

Every paged list in Pasar (dashboard, console, storefront, account) answers with a `Page`, and
templates draw it with the one pager macro (`templates/_partials/pager.html`). A page number
typed into the address bar is never an error: junk, zero or a negative number means the first
page, and a page past the end shows the last page (`past_the_end` says so).
"""

import base64
import binascii
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from babel.numbers import format_decimal
from flask import g, url_for
from flask_babel import ngettext
from sqlalchemy import Select, func, select

from app.extensions import db

MAX_PAGE = 1_000_000  # beyond any real list; keeps OFFSET arithmetic sane for junk input


def parse_page(raw: Any) -> int:
    """A page number from user input: anything that isn't a positive integer is page 1."""
    try:
        page = int(str(raw).strip()[:20])
    except (TypeError, ValueError):
        return 1
    return min(max(page, 1), MAX_PAGE)


@dataclass
class Page:
    """One page of a list: its rows, where it is, and how many rows the whole list has."""

    items: list
    page: int
    per_page: int
    total: int
    requested: int = 0  # the page that was asked for, before it was clamped to the last one

    def __post_init__(self):
        self.requested = self.requested or self.page

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None

    @property
    def past_the_end(self) -> bool:
        """True when a page after the last was asked for (and the last is shown instead)."""
        return self.requested > self.pages

    @property
    def first_index(self) -> int:
        """The position of the page's first row in the whole list (1-based; 0 when empty)."""
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * self.per_page, self.total)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def locate(requested: Any, total: int, per_page: int) -> Page:
    """An empty page for `requested` (parsed and clamped to the last page) of `total` rows.

    For lists that fetch their rows their own way (the storefront listing's tuned query): they
    read `offset` and `per_page`, then set `items`.
    """
    asked = parse_page(requested)
    pages = max(1, math.ceil(total / per_page))
    return Page(items=[], page=min(asked, pages), per_page=per_page, total=total, requested=asked)


def count_of(stmt: Select) -> int:
    """How many rows `stmt` returns (counted over it as a subquery, its ordering dropped)."""
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def paginate(
    stmt: Select,
    page: Any,
    per_page: int,
    *,
    count: Select | int | None = None,
    scalars: bool = False,
) -> Page:
    """The requested page of `stmt` (which must already be ordered), in two queries.

    `count` is a cheaper statement that counts the same rows, or the count itself; by default
    `stmt` is counted as a subquery. `scalars` returns the first column of each row (a list of
    models) instead of rows.
    """
    if count is None:
        total = count_of(stmt)
    elif isinstance(count, int):
        total = count
    else:
        total = db.session.scalar(count)
    found = locate(page, total or 0, per_page)
    window = stmt.limit(per_page).offset(found.offset)
    result = db.session.scalars(window) if scalars else db.session.execute(window)
    found.items = list(result.all())
    return found


def _counted(noun: str, total: int, count: str) -> str:
    """'0 orders': one plural-aware message per kind of row (a variable msgid could not be
    extracted, and each language inflects its own nouns)."""
    if noun == "order":
        return ngettext("%(count)s order", "%(count)s orders", total, count=count)
    if noun == "product":
        return ngettext("%(count)s product", "%(count)s products", total, count=count)
    if noun == "row":
        return ngettext("%(count)s row", "%(count)s rows", total, count=count)
    if noun == "movement":
        return ngettext("%(count)s movement", "%(count)s movements", total, count=count)
    if noun == "entry":
        return ngettext("%(count)s entry", "%(count)s entries", total, count=count)
    if noun == "email":
        return ngettext("%(count)s email", "%(count)s emails", total, count=count)
    if noun == "open store":
        return ngettext("%(count)s open store", "%(count)s open stores", total, count=count)
    if noun == "delivery":
        return ngettext("%(count)s delivery", "%(count)s deliveries", total, count=count)
    raise ValueError(f"the pager can't count {noun!r}: add it to app.pagination")


def _range(noun: str, total: int, **numbers: str) -> str:
    """'1-25 of 27 orders': whole phrases, so a language can decline the noun after "of"
    (German: "von 27 Produkten")."""
    if noun == "order":
        return ngettext(
            "%(first)s–%(last)s of %(count)s order",
            "%(first)s–%(last)s of %(count)s orders",
            total,
            **numbers,
        )
    if noun == "product":
        return ngettext(
            "%(first)s–%(last)s of %(count)s product",
            "%(first)s–%(last)s of %(count)s products",
            total,
            **numbers,
        )
    if noun == "row":
        return ngettext(
            "%(first)s–%(last)s of %(count)s row",
            "%(first)s–%(last)s of %(count)s rows",
            total,
            **numbers,
        )
    if noun == "movement":
        return ngettext(
            "%(first)s–%(last)s of %(count)s movement",
            "%(first)s–%(last)s of %(count)s movements",
            total,
            **numbers,
        )
    if noun == "entry":
        return ngettext(
            "%(first)s–%(last)s of %(count)s entry",
            "%(first)s–%(last)s of %(count)s entries",
            total,
            **numbers,
        )
    if noun == "email":
        return ngettext(
            "%(first)s–%(last)s of %(count)s email",
            "%(first)s–%(last)s of %(count)s emails",
            total,
            **numbers,
        )
    if noun == "open store":
        return ngettext(
            "%(first)s–%(last)s of %(count)s open store",
            "%(first)s–%(last)s of %(count)s open stores",
            total,
            **numbers,
        )
    if noun == "delivery":
        return ngettext(
            "%(first)s–%(last)s of %(count)s delivery",
            "%(first)s–%(last)s of %(count)s deliveries",
            total,
            **numbers,
        )
    raise ValueError(f"the pager can't count {noun!r}: add it to app.pagination")


def range_phrase(page: Page, noun: str, locale: str | None = None) -> str:
    """The pager's '1-25 of 27 orders' (or '0 orders') in the spoken language (a template
    global); numbers grouped for `locale`, by default the store's or the language's usual one."""
    from app.i18n import format_locale

    store = g.get("store")
    locale = locale or format_locale(store.locale if store is not None else None)
    count = format_decimal(page.total, locale=locale)
    if not page.total:
        return _counted(noun, page.total, count)
    return _range(
        noun,
        page.total,
        first=format_decimal(page.first_index, locale=locale),
        last=format_decimal(page.last_index, locale=locale),
        count=count,
    )


def page_url(target: str, args: Mapping[str, Any], page: int) -> str:
    """The link to `page` of a list (a template global, for the pager).

    `target` is an endpoint (its view arguments go in `args` too) or a path; `args` are the
    list's filters, which the link keeps; the first page's link has no `page` argument.
    """
    query = {k: v for k, v in args.items() if k != "page" and v is not None and v != ""}
    if page > 1:
        query["page"] = page
    if target.startswith("/"):
        return f"{target}?{urlencode(query)}" if query else target
    return url_for(target, **query)


# Cursor pages (the API) ---------------------------------------------------------------------
# An offset moves when rows are added while a client walks a list; a cursor (the last row's
# id, newest first) doesn't, and says nothing a client could build on: it is opaque text.


class BadCursor(ValueError):
    """A cursor that this server didn't hand out."""


@dataclass
class CursorPage:
    """Rows after a cursor, newest first, and the cursor of the next page (None at the end)."""

    items: list
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    """The opaque cursor that continues after the row with `last_id`."""
    raw = json.dumps({"before": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The row id a cursor continues after; None for no cursor; BadCursor for junk."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)["before"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise BadCursor(cursor) from None
    if not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise BadCursor(cursor)
    return value


def cursor_paginate(stmt: Select, id_column, cursor: str | None, limit: int) -> CursorPage:
    """Up to `limit` models from `stmt` (unordered) with ids below the cursor's, newest first."""
    before = decode_cursor(cursor)
    if before is not None:
        stmt = stmt.where(id_column < before)
    rows = list(db.session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return CursorPage(rows, encode_cursor(rows[-1].id) if more and rows else None)
