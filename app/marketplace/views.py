"""The platform's own pages: the marketplace home with its store directory."""

from sqlalchemy import select

from app.extensions import db
from app.rendering import render_page_or_fragment
from tenants.context import platform_blueprint
from tenants.models import Store

bp = platform_blueprint("marketplace", __name__)


def home():
    """The marketplace home: every active store, with a link to its subdomain."""
    stores = db.session.scalars(
        select(Store).where(Store.status == "active").order_by(Store.name, Store.id)
    ).all()
    return render_page_or_fragment("marketplace/home.html", "store_list", stores=stores)
