"""The store's audit log: who did what to its products, prices, stock, settings and staff.

Owners and managers (`audit.view`). Only entries with the store's id are ever read; filters by
member and by kind of action (an action prefix); newest first, a page at a time, two queries.
"""

import math

from flask import render_template, request
from sqlalchemy import func, or_, select

from app.accounts.models import Membership, User
from app.accounts.permissions import require_store_permission
from app.audit.models import AuditLog
from app.dashboard.views import bp
from app.extensions import db
from tenants.context import current_store

PAGE_SIZE = 50
# Kinds of action a vendor filters by: label, and the action prefixes they cover.
KINDS = {
    "products": ("Products", ("product.",)),
    "prices": ("Variants and prices", ("variant.",)),
    "stock": ("Stock", ("stock.", "stock_sync.")),
    "orders": ("Orders", ("order.", "refund.", "payment.")),
    "settings": ("Settings", ("store.", "checkout.")),
    "staff": ("Staff", ("staff.", "invite.", "role.", "membership.")),
    "exports": ("Exports and emails", ("export.", "email.")),
}
MONEY_FIELDS = ("price", "compare_at_price", "shipping_flat", "shipping_free_over")


def _filters(store):
    user_id = request.args.get("user", "")
    kind = request.args.get("kind", "")
    conditions = [AuditLog.store_id == store.id]
    if kind in KINDS:
        conditions.append(or_(*(AuditLog.action.startswith(p) for p in KINDS[kind][1])))
    else:
        kind = ""
    if user_id.isdigit() and len(user_id) < 10:
        conditions.append(AuditLog.actor_id == int(user_id))
    else:
        user_id = ""
    return conditions, user_id, kind


def _page_number(raw) -> int:
    try:
        return min(max(int(raw or 1), 1), 100_000)
    except (TypeError, ValueError):
        return 1


@bp.get("/audit")
@require_store_permission("audit.view")
def audit_log():
    """The store's audit entries, newest first, filterable by member and kind."""
    store = current_store()
    conditions, user_id, kind = _filters(store)
    total = db.session.scalar(select(func.count()).select_from(AuditLog).where(*conditions))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(_page_number(request.args.get("page")), pages)
    entries = db.session.execute(
        select(AuditLog, User.email, User.name)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .where(*conditions)
        .order_by(AuditLog.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    members = db.session.execute(
        select(User.id, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.store_id == store.id)
        .order_by(User.email)
    ).all()
    return render_template(
        "admin/audit.html",
        entries=entries,
        members=members,
        kinds=KINDS,
        user_id=user_id,
        kind=kind,
        page=page,
        pages=pages,
        total=total,
        money_fields=MONEY_FIELDS,
    )
