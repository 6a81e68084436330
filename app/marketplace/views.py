"""The platform's own pages: the marketplace home with its store directory, cross-store search."""

from flask import request

from app.catalog.browse import search_marketplace
from app.marketplace import directory
from app.rendering import is_htmx, render_page_or_fragment
from tenants.context import platform_blueprint
from tenants.rls import allow_all_stores

bp = platform_blueprint("marketplace", __name__)


def home():
    """The marketplace home: newly opened stores and a page of the searchable store directory."""
    filters = directory.parse_directory_filters(request.args)
    stores = directory.store_directory(filters)
    # The newest stores only where the directory's first page can't show every store.
    browsing = not filters.active and filters.page == 1 and stores.pages > 1
    return render_page_or_fragment(
        "marketplace/home.html",
        "store_list",
        filters=filters,
        stores=stores,
        newest=directory.newest_stores() if browsing and not is_htmx() else [],
        currencies=[] if is_htmx() else directory.store_currencies(),
    )


def search():
    """Products of every open store matching the query (GET /search on the platform host)."""
    q = (request.args.get("q") or "")[:2000].strip()
    allow_all_stores("marketplace search across stores")
    results = search_marketplace(q, request.args.get("page"))
    return render_page_or_fragment("marketplace/search.html", "results", q=q, results=results)
