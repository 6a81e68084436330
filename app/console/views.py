"""The platform admins' console on the platform host, under /console."""

from flask import render_template, request
from sqlalchemy import func, select

from app.accounts.models import User
from app.accounts.permissions import require_superuser
from app.audit.models import AuditLog
from app.console import overview
from app.console import session as console_session
from app.dashboard.reports import bar_chart
from app.database import utcnow
from app.extensions import db
from tenants.context import platform_blueprint
from tenants.models import Store

bp = platform_blueprint("console", __name__, url_prefix="/console")
bp.after_request(console_session.after_console_request)


@bp.get("/")
@require_superuser
def home():
    """Platform KPIs for a period against the one before, a chart by day, latest activity."""
    today = utcnow().date()
    error = None
    try:
        period = overview.parse_range(request.args, today)
    except overview.RangeError as refused:
        error = str(refused)
        period = overview.parse_range({}, today)
    now, before = overview.kpis(period), overview.kpis(period.previous)
    currencies = sorted(now.gmv, key=lambda cur: -now.orders_by_currency.get(cur, 0)) or ["USD"]
    currency = request.args.get("currency", "").upper()
    if currency not in currencies:
        currency = currencies[0]
    series = overview.daily(period, currency)
    stores = dict(
        db.session.execute(
            select(Store.status, func.count())
            .where(Store.deleted_at.is_(None))
            .group_by(Store.status)
        ).all()
    )
    entries = db.session.execute(
        select(AuditLog, User.email, Store.slug)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .outerjoin(Store, Store.id == AuditLog.store_id)
        .order_by(AuditLog.id.desc())
        .limit(15)
    ).all()
    return render_template(
        "console/home.html",
        period=period,
        presets=overview.PRESETS,
        now=now,
        before=before,
        change=overview.change,
        currency=currency,
        currencies=currencies,
        series=series,
        chart=bar_chart(series),
        stores=stores,
        entries=entries,
        error=error,
    ), (422 if error else 200)


# The stores pages join this blueprint.
from app.console import audit as _audit  # noqa: E402, F401
from app.console import operations as _operations  # noqa: E402, F401
from app.console import payouts as _payouts  # noqa: E402, F401
from app.console import stores as _stores  # noqa: E402, F401
from app.console import users as _users  # noqa: E402, F401
