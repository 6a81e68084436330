"""The dashboard's stock sync pages: upload a CSV, watch the preview and the apply, undo.

Thin views on the dashboard blueprint (`stock.sync`: managers and owners); the rules are in
app.stocksync.service and the work in jobs.stock_sync. A run's page shows a progress bar that
htmx polls while a job works on it; when the job is done the poll answers `HX-Refresh` and the
page reloads with the outcome.
"""

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import func, select

from app.accounts.permissions import require_store_permission
from app.catalog.models import Product, Variant
from app.dashboard import bp
from app.database import utcnow
from app.extensions import db
from app.i18n import N_
from app.money import format_amount
from app.pagination import paginate
from app.rendering import is_htmx
from app.reports.exports import csv_response
from app.stocksync import messages as stock_sync_messages
from app.stocksync import parsing, service
from app.stocksync.models import ImportRow, ImportRun
from tenants.context import current_store
from tenants.models import local_time
from tenants.query import MAX_ID, get_for_store_or_404, scoped_select

ROWS_PER_PAGE = 50
RUNS_PER_PAGE = 20
SHOW = {
    "change": N_("Changes"),
    "flagged": N_("Flagged"),
    "error": N_("Errors"),
    "unchanged": N_("Unchanged"),
}


def _index(status: int = 200, error: str | None = None):
    store = current_store()
    runs = paginate(
        scoped_select(ImportRun).order_by(ImportRun.id.desc()),
        request.args.get("page"),
        RUNS_PER_PAGE,
        count=scoped_select(ImportRun).with_only_columns(func.count()),
        scalars=True,
    )
    return render_template(
        "admin/stock_sync/index.html",
        runs=runs,
        error=error,
        max_mb=parsing.MAX_BYTES // (1024 * 1024),
        store=store,
    ), status


@bp.get("/stock-sync/")
@require_store_permission("stock.sync")
def stock_sync_index():
    """Upload a stock file; the store's earlier syncs."""
    return _index()


@bp.post("/stock-sync/")
@require_store_permission("stock.sync")
def stock_sync_upload():
    """Check the file, record the run and queue its preview; then show the run."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _index(422, gettext("Choose a CSV file to upload."))
    data = upload.read(parsing.MAX_BYTES + 1)
    force = request.form.get("force") == "1"
    try:
        run = service.create_run(current_store(), current_user, upload.filename, data, force=force)
    except parsing.FileRefused as refused:
        db.session.rollback()
        return _index(422, stock_sync_messages.shown(refused.message, current_store()))
    except service.AlreadyApplied as already:
        db.session.rollback()
        when = local_time(already.run.applied_at, current_store())
        return _index(
            409,
            f"This file was already applied as stock sync #{already.run.id} on {when}. "
            "Applying it again changes nothing unless stock moved since; tick “Upload it "
            "anyway” to preview it again.",
        )
    db.session.commit()
    service.enqueue_phase(run.id, "preview")
    return redirect(url_for("dashboard.stock_sync_run", run_id=run.id), 303)


@bp.get("/stock-sync/current.csv")
@require_store_permission("stock.sync")
def stock_sync_template():
    """Every tracked SKU with its on-hand count and prices: a file to edit and upload back."""
    store = current_store()

    def rows():
        yield ["sku", "stock", "price", "compare_at_price", "product", "variant"]
        last = 0
        while True:
            batch = db.session.execute(
                scoped_select(Variant, store)
                .add_columns(Product.title)
                .join(Product, Product.id == Variant.product_id)
                .where(Variant.id > last)
                .order_by(Variant.id)
                .limit(500)
            ).all()
            if not batch:
                db.session.rollback()
                return
            last = batch[-1][0].id
            held = service.committed(store.id, [v.id for v, _ in batch])
            for variant, title in batch:
                yield [
                    variant.sku,
                    variant.stock + held.get(variant.id, 0) if variant.track_inventory else "",
                    format_amount(variant.price, store.currency),
                    format_amount(variant.compare_at_price, store.currency),
                    title,
                    variant.title,
                ]

    return csv_response(f"{store.slug}-stock.csv", rows())


def _run_or_404(run_id: int) -> ImportRun:
    if run_id > MAX_ID:
        abort(404)
    return get_for_store_or_404(ImportRun, run_id)


@bp.get("/stock-sync/<int:run_id>")
@require_store_permission("stock.sync")
def stock_sync_run(run_id: int):
    """A run: its progress while a job works, then the preview or the outcome."""
    run = _run_or_404(run_id)
    show = request.args.get("show") if request.args.get("show") in SHOW else None
    if show is None:
        show = (
            "change"
            if run.changes or not (run.errors or run.flagged)
            else ("error" if run.errors else "flagged")
        )
    base = select(ImportRow).where(ImportRow.run_id == run.id, ImportRow.status == show)
    rows = paginate(
        base.order_by(ImportRow.id),
        request.args.get("page"),
        ROWS_PER_PAGE,
        count=base.with_only_columns(func.count()),
        scalars=True,
    )
    counts = {
        "change": run.changes,
        "flagged": run.flagged,
        "error": run.errors,
        "unchanged": run.unchanged,
    }
    return render_template(
        "admin/stock_sync/run.html",
        run=run,
        rows=rows,
        names=service.variant_names(run.store_id, [row.variant_id for row in rows.items]),
        show=show,
        labels=SHOW,
        counts=counts,
        stalled=run.working and run.updated_at < utcnow() - service.STALE_AFTER,
    )


@bp.get("/stock-sync/<int:run_id>/progress")
@require_store_permission("stock.sync")
def stock_sync_progress(run_id: int):
    """The progress bar (htmx polls it); once the job is done the page reloads."""
    run = _run_or_404(run_id)
    response = make_response(render_template("admin/stock_sync/_partials/progress.html", run=run))
    if is_htmx() and (not run.working or request.args.get("status") != run.status):
        response.headers["HX-Refresh"] = "true"
    return response


@bp.get("/stock-sync/<int:run_id>/errors.csv")
@require_store_permission("stock.sync")
def stock_sync_errors(run_id: int):
    """Every row that was not applied, and why: line, SKU, what the file asked, the reason."""
    run = _run_or_404(run_id)
    store = current_store()

    def rows():
        yield ["line", "sku", "stock", "price", "compare_at_price", "status", "problem"]
        last = 0
        while True:
            batch = db.session.scalars(
                select(ImportRow)
                .where(
                    ImportRow.run_id == run.id,
                    ImportRow.status.in_(("error", "flagged")),
                    ImportRow.id > last,
                )
                .order_by(ImportRow.id)
                .limit(1000)
            ).all()
            if not batch:
                db.session.rollback()
                return
            last = batch[-1].id
            for row in batch:
                compare = row.new_compare_at
                yield [
                    row.line,
                    row.sku,
                    row.new_on_hand,
                    format_amount(row.new_price, store.currency),
                    "0" if compare == 0 else format_amount(compare, store.currency),
                    row.status,
                    row.message,
                ]

    return csv_response(f"{store.slug}-stock-sync-{run.id}-problems.csv", rows())


def _act(run_id: int, action):
    run = _run_or_404(run_id)
    try:
        phase = action(run)
    except service.SyncError as refused:
        db.session.rollback()
        flash(refused.message, "error")
        if is_htmx():
            response = make_response("", refused.status)
            response.headers["HX-Refresh"] = "true"
            return response
        return redirect(url_for("dashboard.stock_sync_run", run_id=run_id), 303)
    db.session.commit()
    if phase:
        service.enqueue_phase(run_id, phase)
    return redirect(url_for("dashboard.stock_sync_run", run_id=run_id), 303)


@bp.post("/stock-sync/<int:run_id>/apply")
@require_store_permission("stock.sync")
def stock_sync_apply(run_id: int):
    """Apply a previewed run (its job does the work, batch by batch)."""
    return _act(run_id, lambda run: service.start(run, "apply", current_user) or "apply")


@bp.post("/stock-sync/<int:run_id>/undo")
@require_store_permission("stock.sync")
def stock_sync_undo(run_id: int):
    """Reverse an applied run with compensating movements."""
    return _act(run_id, lambda run: service.start(run, "undo", current_user) or "undo")


@bp.post("/stock-sync/<int:run_id>/resume")
@require_store_permission("stock.sync")
def stock_sync_resume(run_id: int):
    """Carry on a failed or stalled run from its last finished batch."""
    return _act(run_id, lambda run: service.resume(run, current_user))


@bp.post("/stock-sync/<int:run_id>/cancel")
@require_store_permission("stock.sync")
def stock_sync_cancel(run_id: int):
    """Discard a run that was not applied."""
    return _act(run_id, lambda run: service.cancel(run, current_user))
