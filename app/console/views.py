"""The console's front page: platform KPIs, a chart by day, the latest activity."""

from flask import render_template, request

from app.accounts.permissions import require_superuser
from app.console import bp, overview, queries
from app.database import utcnow
from app.extensions import db
from app.i18n import N_
from app.reports.sales import bar_chart

# Statuses the console shows as `_(status)`: stores (display_status) and emails.
STATUS_NAMES = (
    N_("active"),
    N_("suspended"),
    N_("deleted"),
    N_("queued"),
    N_("sending"),
    N_("sent"),
    N_("logged"),
    N_("failed"),
    N_("processing"),
)


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
    stores = queries.stores_by_status()
    entries = db.session.execute(queries.audit_entries().limit(15)).all()
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
