"""The console's commissions and payouts: every store's month, one store's report, mark paid,
and each store's commission rate."""

import re
from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from app.accounts.permissions import require_superuser
from app.accounts.stepup import requires_recent_factor
from app.audit.service import record
from app.console import bp
from app.console.stores import _store_or_404
from app.extensions import db
from app.payouts import reports
from app.payouts.ledger import platform_rate

RATE = re.compile(r"\d{1,2}(\.\d{1,2})?")
RATE_HELP = "Use a percent from 0 to 50, like 7.5; or leave it empty for the default."


def _period():
    """The requested month, or last month with the reason if the request named a bad one."""
    try:
        return reports.parse_period(request.args.get("period")), None
    except reports.PayoutError as error:
        return reports.parse_period(None), error.message


@bp.get("/payouts/")
@require_superuser
def payouts():
    """Every store's gross, refunds, commission and net for a month, and whether it's paid."""
    period, error = _period()
    rows = reports.platform_report(period)
    totals: dict[str, reports.Totals] = {}
    for _, row, _ in rows:
        total = totals.setdefault(row.currency, reports.Totals(row.currency))
        for name in ("gross", "refunds", "commission", "net", "orders"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return render_template(
        "console/payouts/list.html",
        period=period,
        rows=rows,
        totals=list(totals.values()),
        error=error,
        default_rate=platform_rate(),
    ), (422 if error else 200)


@bp.get("/payouts/<int:store_id>")
@require_superuser
def payout_store(store_id: int):
    """One store's month: totals, every entry, mark paid."""
    store = _store_or_404(store_id)
    period, error = _period()
    return render_template(
        "console/payouts/store.html",
        report=reports.store_report(store, period),
        shop=store,
        error=error,
    ), (422 if error else 200)


@bp.get("/payouts/<int:store_id>.csv")
@require_superuser
def payout_store_csv(store_id: int):
    store = _store_or_404(store_id)
    period, _ = _period()
    return reports.csv_download(reports.store_report(store, period))


@bp.post("/payouts/<int:store_id>/mark-paid")
@require_superuser
@requires_recent_factor
def payout_mark_paid(store_id: int):
    """Record the month's payout to the store with the report's figures now."""
    store = _store_or_404(store_id)
    try:
        period = reports.parse_period(request.form.get("period") or "")
        if not request.form.get("period"):
            raise reports.PayoutError("Choose a month like 2026-10.", 422)
        made = reports.mark_paid(
            store, period, actor=current_user, reference=request.form.get("reference", "")
        )
    except reports.PayoutError as error:
        db.session.rollback()
        flash(error.message, "error")
        target = url_for(".payout_store", store_id=store.id, period=request.form.get("period"))
        return redirect(target, 303)
    flash(
        ngettext(
            "%(period)s: payout to %(name)s recorded (%(num)s currency).",
            "%(period)s: payout to %(name)s recorded (%(num)s currencies).",
            len(made),
            period=period.label,
            name=store.name,
        ),
        "success",
    )
    return redirect(url_for(".payout_store", store_id=store.id, period=period.key), 303)


@bp.post("/stores/<int:store_id>/commission")
@require_superuser
@requires_recent_factor
def store_commission(store_id: int):
    """Set the store's commission rate as a percent (e.g. 7.5), or clear it for the default."""
    store = _store_or_404(store_id)
    raw = (request.form.get("rate") or "").strip().rstrip("%").strip()
    if raw:
        bps = int(Decimal(raw) * 100) if RATE.fullmatch(raw) else -1
        if not 0 <= bps <= 5000:
            flash(RATE_HELP, "error")
            return redirect(url_for(".store_detail", store_id=store.id), 303)
    else:
        bps = None
    if bps != store.commission_rate_bps:
        record(
            "store.commission_changed",
            actor=current_user,
            store=store,
            target=store,
            changes={"commission_rate_bps": [store.commission_rate_bps, bps]},
        )
        store.commission_rate_bps = bps
        db.session.commit()
    shown = f"{bps / 100:g} %" if bps is not None else f"the default ({platform_rate() / 100:g} %)"
    flash(
        gettext("%(name)s now pays %(shown)s on new sales.", name=store.name, shown=shown),
        "success",
    )
    return redirect(url_for(".store_detail", store_id=store.id), 303)
