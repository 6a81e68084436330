"""The dashboard's stock pages: a variant's ledger, the adjust-stock form and its threshold.

Thin views on the dashboard blueprint: the variant comes from get_for_store_or_404 (another
store's id is a 404), the rules live in app.inventory.adjust. htmx posts get the page's
"ledger" block back (with the error and its status, 422 or 409, when refused); plain posts are
redirected back to the page (303), or get the whole page with the error.
"""

from flask import flash, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.permissions import require_store_permission
from app.catalog.models import Product, Variant
from app.dashboard import bp
from app.extensions import db
from app.inventory import adjust, holds, ledger
from app.inventory.forms import AdjustStockForm, ThresholdForm
from app.rendering import is_htmx, render_page_or_fragment
from tenants.context import current_store
from tenants.query import get_for_store_or_404

TEMPLATE = "admin/inventory/stock.html"


def _page(variant: Variant, status: int = 200, block: str = "ledger", **context):
    """The ledger page (or one of its blocks for htmx) of a freshly loaded variant."""
    store = current_store()
    context.setdefault("form", AdjustStockForm(formdata=None))
    context.setdefault("threshold_form", ThresholdForm(formdata=None))
    context.setdefault("errors", {})
    return render_page_or_fragment(
        TEMPLATE,
        block,
        status,
        variant=variant,
        product=db.session.get(Product, variant.product_id),
        threshold=adjust.effective_threshold(variant),
        default_threshold=adjust.alerts.store_default(store.id),
        history=ledger.history(store, variant.id, request.args.get("page", 1)),
        # Held units are still on hand (not movements): shown beside the stock, not in the ledger.
        held_now=holds.held_now([variant.id]).get(variant.id, 0),
        kind_labels=ledger.KIND_LABELS,
        order_id_of=ledger.order_id_of,
        **context,
    )


def _refused(variant_id: int, exc: adjust.StockInputError, **context):
    """The page again with the message on its field; nothing was written."""
    db.session.rollback()
    variant = get_for_store_or_404(Variant, variant_id)
    return _page(variant, exc.status, errors={exc.field: exc.message}, **context)


@bp.get("/variants/<int:variant_id>/stock")
@require_store_permission("dashboard.view")
def variant_stock(variant_id: int):
    """A variant's stock history, newest first, with the adjust form; htmx pages the history."""
    variant = get_for_store_or_404(Variant, variant_id)
    return _page(variant, block="history")


@bp.post("/variants/<int:variant_id>/stock")
@require_store_permission("inventory.adjust")
def variant_stock_adjust(variant_id: int):
    """Change a variant's stock by an amount or to a count, with a reason (one movement)."""
    variant = get_for_store_or_404(Variant, variant_id)
    form = AdjustStockForm()
    if not form.validate():
        error = adjust.StockInputError("reason", gettext("The form expired. Please try again."))
        return _refused(variant_id, error, form=form)
    data = adjust.StockRequest(
        mode=form.mode.data or "",
        quantity=form.quantity.data or "",
        kind=form.kind.data or "",
        reason=form.reason.data or "",
        based_on=form.based_on.data or "",
    )
    try:
        done = adjust.adjust_stock(current_store(), variant, data, actor=current_user)
    except adjust.StockInputError as exc:
        return _refused(variant_id, exc, form=form)
    db.session.commit()
    message = _done_message(done)
    if is_htmx():
        return _page(get_for_store_or_404(Variant, variant_id), notice=message)
    flash(message, "success")
    return redirect(url_for("dashboard.variant_stock", variant_id=variant_id), code=303)


def _done_message(done: adjust.Adjustment) -> str:
    message = gettext(
        "Stock %(change)s: %(after)s in stock now.",
        change=f"{done.change:+,}",
        after=f"{done.after:,}",
    )
    if done.moved_meanwhile:
        message += " " + gettext(
            "It had changed from %(based_on)s to %(before)s while the form was open; your"
            " change was applied to %(before)s.",
            based_on=f"{done.based_on:,}",
            before=f"{done.before:,}",
        )
    return message


@bp.post("/variants/<int:variant_id>/threshold")
@require_store_permission("inventory.adjust")
def variant_threshold(variant_id: int):
    """Set or clear the variant's low-stock threshold (blank: the store's default)."""
    variant = get_for_store_or_404(Variant, variant_id)
    form = ThresholdForm()
    if not form.validate():
        error = adjust.StockInputError("threshold", gettext("The form expired. Please try again."))
        return _refused(variant_id, error, threshold_form=form)
    try:
        changed = adjust.set_threshold(
            current_store(), variant, form.threshold.data or "", actor=current_user
        )
    except adjust.StockInputError as exc:
        return _refused(variant_id, exc, threshold_form=form)
    db.session.commit()
    variant = get_for_store_or_404(Variant, variant_id)
    threshold = adjust.effective_threshold(variant)
    message = (
        gettext("Low-stock alert at %(num)s.", num=f"{threshold:,}")
        if changed
        else gettext("Nothing to change.")
    )
    if is_htmx():
        return _page(variant, notice=message)
    flash(message, "success")
    return redirect(url_for("dashboard.variant_stock", variant_id=variant_id), code=303)
