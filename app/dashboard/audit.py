"""The store's audit log: who did what to its products, prices, stock, settings and staff.

Owners and managers (`audit.view`). Only entries with the store's id are ever read; filters by
member and by kind of action (an action prefix); newest first, a page at a time, two queries.
The products and variants Pasar itself created (the demo seed, with no person behind them) are
left out unless "everything" is asked for.
"""

from flask import render_template, request
from sqlalchemy import func, or_, select

from app.accounts.models import Membership, User
from app.accounts.permissions import require_store_permission
from app.audit.labels import not_noise
from app.audit.models import AuditLog
from app.dashboard import bp
from app.extensions import db
from app.pagination import paginate
from tenants.context import current_store

PAGE_SIZE = 50
# Kinds of action a vendor filters by: label, and the action prefixes they cover.
KINDS = {
    "products": ("Products", ("product.",)),
    "prices": ("Variants and prices", ("variant.",)),
    "stock": ("Stock", ("stock.", "stock_sync.")),
    "orders": ("Orders", ("order.", "refund.", "payment.")),
    "settings": ("Settings", ("store.", "checkout.", "webhook.")),
    "staff": ("Staff", ("staff.", "invite.", "role.", "membership.")),
    "exports": ("Exports and emails", ("export.", "email.")),
}
MONEY_FIELDS = ("price", "compare_at_price", "shipping_flat", "shipping_free_over")


def _filters(store):
    user_id = request.args.get("user", "")
    kind = request.args.get("kind", "")
    everything = request.args.get("all") == "1"
    conditions = [AuditLog.store_id == store.id]
    if not everything:
        conditions.append(not_noise())
    if kind in KINDS:
        conditions.append(or_(*(AuditLog.action.startswith(p) for p in KINDS[kind][1])))
    else:
        kind = ""
    if user_id.isdigit() and len(user_id) < 10:
        conditions.append(AuditLog.actor_id == int(user_id))
    else:
        user_id = ""
    return conditions, user_id, kind, everything


@bp.get("/audit")
@require_store_permission("audit.view")
def audit_log():
    """The store's audit entries, newest first, filterable by member and kind."""
    store = current_store()
    conditions, user_id, kind, everything = _filters(store)
    entries = paginate(
        select(AuditLog, User.email, User.name)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .where(*conditions)
        .order_by(AuditLog.id.desc()),
        request.args.get("page"),
        PAGE_SIZE,
        count=select(func.count()).select_from(AuditLog).where(*conditions),
    )
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
        everything=everything,
        money_fields=MONEY_FIELDS,
    )
