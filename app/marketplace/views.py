"""The platform's own pages: the marketplace home with its store directory, cross-store search."""

from flask import request
from sqlalchemy import select

from app.catalog.browse import parse_page, search_marketplace
from app.extensions import db
from app.rendering import render_page_or_fragment
from tenants.context import platform_blueprint
from tenants.models import Store

bp = platform_blueprint("marketplace", __name__)


def home():
    """The marketplace home: every open store, with a link to its subdomain."""
    stores = db.session.scalars(
        select(Store)
        .where(
            Store.status == "active", Store.published_at.is_not(None), Store.deleted_at.is_(None)
        )
        .order_by(Store.name, Store.id)
    ).all()
    return render_page_or_fragment("marketplace/home.html", "store_list", stores=stores)


def search():
    """Products of every open store matching the query (GET /search on the platform host)."""
    q = (request.args.get("q") or "")[:2000].strip()
    results = search_marketplace(q, parse_page(request.args.get("page", 1)))
    return render_page_or_fragment("marketplace/search.html", "results", q=q, results=results)
