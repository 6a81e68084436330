"""The platform's audit log: every entry, filterable by store, user, kind of action and dates."""

from datetime import date

from flask import render_template, request

from app.accounts.permissions import require_superuser
from app.catalog.browse import clean
from app.console import bp, queries

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
    conditions, notes = queries.audit_filters(store_slug, email, action, start, end)
    entries = queries.audit_page(conditions, request.args.get("page"), PAGE_SIZE)
    return render_template(
        "console/audit.html",
        entries=entries,
        kinds=queries.audit_kinds(),
        notes=notes,
        filters={
            "store": store_slug,
            "user": email,
            "action": action,
            "from": request.args.get("from", "")[:10],
            "to": request.args.get("to", "")[:10],
        },
    )
