"""The store's payout reports: a month's sales, refunds, commission and what is paid out."""

from flask import render_template, request

from app.accounts.permissions import require_store_permission
from app.dashboard import bp
from app.i18n import N_
from app.payouts import reports
from app.payouts.ledger import platform_rate
from tenants.context import current_store

# A commission entry's kind as the report shows it, translated there (`_(entry.kind)`).
ENTRY_KINDS = (N_("charge"), N_("refund"))


def _period():
    try:
        return reports.parse_period(request.args.get("period")), None
    except reports.PayoutError as error:
        return reports.parse_period(None), error.message


@bp.get("/payouts")
@require_store_permission("payouts.view")
def payout_report():
    """A month's payout report for this store (last month unless another is chosen)."""
    store = current_store()
    period, error = _period()
    rate = store.commission_rate_bps if store.commission_rate_bps is not None else platform_rate()
    return render_template(
        "admin/payouts.html", report=reports.store_report(store, period), error=error, rate=rate
    ), (422 if error else 200)


@bp.get("/payouts.csv")
@require_store_permission("payouts.view")
def payout_report_csv():
    period, _ = _period()
    return reports.csv_download(reports.store_report(current_store(), period))
