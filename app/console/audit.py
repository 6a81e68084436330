"""The platform's audit log: every entry, filterable by store, user, kind of action and dates."""

import math
from datetime import UTC, date, datetime, timedelta

from flask import render_template, request
from sqlalchemy import func, select

from app.accounts.models import User
from app.accounts.permissions import require_superuser
from app.audit.models import AuditLog
from app.catalog.browse import clean
from app.console.views import bp
from app.extensions import db
from tenants.models import Store

PAGE_SIZE = 50


def _day(raw: str | None):
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@bp.get("/audit")
@require_superuser
def audit():
    """Audit entries newest first; `store` (subdomain), `user` (email), `action` (a prefix such
    as "store." or a whole action), `from`/`to` dates (UTC)."""
    store_slug = clean(request.args.get("store"), 63).strip().lower()
    email = clean(request.args.get("user"), 254).strip().lower()
    action = clean(request.args.get("action"), 64).strip()
    start, end = _day(request.args.get("from")), _day(request.args.get("to"))
    conditions, notes = [], []
    if store_slug:
        store_id = db.session.scalar(select(Store.id).where(Store.slug == store_slug))
        conditions.append(AuditLog.store_id == (store_id or -1))
        if store_id is None:
            notes.append(f"No store has the subdomain {store_slug}.")
    if email:
        user_id = db.session.scalar(select(User.id).where(func.lower(User.email) == email))
        conditions.append(AuditLog.actor_id == (user_id or -1))
        if user_id is None:
            notes.append(f"No account has the address {email}.")
    if action:
        conditions.append(AuditLog.action.startswith(action, autoescape=True))
    if start:
        conditions.append(AuditLog.created_at >= datetime.combine(start, datetime.min.time(), UTC))
    if end:
        until = datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=1)
        conditions.append(AuditLog.created_at < until)
    total = db.session.scalar(select(func.count()).select_from(AuditLog).where(*conditions))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    try:
        page = min(max(int(request.args.get("page", 1)), 1), pages)
    except ValueError:
        page = 1
    entries = db.session.execute(
        select(AuditLog, User.email, Store.slug)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .outerjoin(Store, Store.id == AuditLog.store_id)
        .where(*conditions)
        .order_by(AuditLog.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    kinds = sorted(
        {a.split(".")[0] + "." for a in db.session.scalars(select(AuditLog.action).distinct())}
    )
    return render_template(
        "console/audit.html",
        entries=entries,
        total=total,
        page=page,
        pages=pages,
        kinds=kinds,
        notes=notes,
        filters={
            "store": store_slug,
            "user": email,
            "action": action,
            "from": request.args.get("from", "")[:10],
            "to": request.args.get("to", "")[:10],
        },
    )
