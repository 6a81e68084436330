"""The vendor's dashboard on the store's own host, under /admin.

The blueprint and the rules that hold on every one of its pages are here; each module in the
list at the bottom adds its pages to the blueprint, and this list is the one place they are
imported (app/__init__.py registers `bp`).
"""

from flask import abort, g, request
from sqlalchemy import select

from app.extensions import db
from tenants.context import store_blueprint

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
bp = store_blueprint("dashboard", __name__, url_prefix="/admin")

READ_ONLY = (
    "This store is suspended by the platform: its dashboard is read-only until it is reactivated."
)


@bp.before_request
def _read_only_while_suspended():
    """A suspended store's members can look, but nothing in the store changes."""
    store = g.get("store")
    if store is not None and not store.is_active and request.method not in SAFE_METHODS:
        abort(403, description=READ_ONLY)


@bp.context_processor
def _suspension():
    """The reason shown on a suspended store's dashboard banner (one query, only then)."""
    store = g.get("store")
    if store is None or store.is_active:
        return {"suspension": None}
    from app.audit.models import AuditLog

    entry = db.session.scalar(
        select(AuditLog)
        .where(AuditLog.store_id == store.id, AuditLog.action == "store.suspended")
        .order_by(AuditLog.id.desc())
        .limit(1)
    )
    return {"suspension": (entry.details or {}).get("reason", "") if entry else ""}


# The pages, each module adding its own to `bp`.
from app.dashboard import (  # noqa: E402, F401
    api_keys,
    audit,
    catalog,
    checkout_settings,
    coupons,
    exports,
    inventory,
    job_centre,
    launch,
    orders,
    payouts,
    search,
    shell,
    staff,
    stock_sync,
    store_pages,
    variant_grid,
    views,
    webhooks,
)
