"""The exports page: the catalog (one row per variant) and orders in a date range, as CSV.

Managers and owners only (`stock.sync`, which covers CSV sync and exports): orders carry
customers' emails and names. The files are built and streamed by app.reports.exports.
"""

from flask import render_template, request
from flask_login import current_user

from app.accounts.permissions import require_store_permission
from app.audit.service import record
from app.dashboard import bp
from app.extensions import db
from app.reports.exports import (
    ExportError,
    csv_response,
    order_rows,
    parse_range,
    product_rows,
)
from tenants.context import current_store


def _page(status: int = 200, error: str | None = None, values: dict | None = None):
    store = current_store()
    period = parse_range(store, None, None)
    defaults = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    return render_template(
        "admin/exports/index.html", error=error, values={**defaults, **(values or {})}
    ), status


@bp.get("/exports/")
@require_store_permission("stock.sync")
def export_index():
    """The exports page: download the catalog, or the orders of a date range."""
    return _page()


@bp.get("/exports/products.csv")
@require_store_permission("stock.sync")
def export_products():
    """Every variant of every product, with stock, as a CSV download."""
    store = current_store()
    filename = f"{store.slug}-products-{store.today()}.csv"
    record("export.products", actor=current_user, store=store)
    # Nothing is read between this commit and the first batch: no transaction waits on the client.
    db.session.commit()
    return csv_response(filename, product_rows(store))


@bp.get("/exports/orders.csv")
@require_store_permission("stock.sync")
def export_orders():
    """The orders placed between two dates (in the store's time zone) as a CSV download."""
    store = current_store()
    values = {"from": request.args.get("from", ""), "to": request.args.get("to", "")}
    try:
        period = parse_range(store, values["from"], values["to"])
    except ExportError as exc:
        return _page(422, str(exc), values)
    filename = f"{store.slug}-orders-{period.start}-to-{period.end}.csv"
    record(
        "export.orders",
        actor=current_user,
        store=store,
        date_from=period.start.isoformat(),
        date_to=period.end.isoformat(),
    )
    db.session.commit()
    return csv_response(filename, order_rows(store, period))
