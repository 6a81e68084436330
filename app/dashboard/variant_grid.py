"""The dashboard's bulk variant editor: every variant of a product in one grid, saved at once.

Thin views over app.catalog.variant_grid. A plain POST answers with a 303 back to the grid (or
the grid with its refused cells, 422); htmx gets just the grid.
"""

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from app.accounts.permissions import require_store_permission
from app.catalog.editing import MAX_VARIANTS
from app.catalog.models import Product
from app.catalog.variant_grid import FIELDS, GridErrors, GridRow, save_grid
from app.dashboard import bp
from app.dashboard.catalog_forms import ConfirmForm
from app.extensions import db
from app.money import format_amount
from app.rendering import is_htmx, render_page_or_fragment
from tenants.context import current_store
from tenants.query import MAX_ID, get_for_store_or_404

GRID_TEMPLATE = "admin/products/variant_grid.html"
SKU_RACE = "A SKU here was just taken by another variant. Check the SKUs and save again."


def _rows_shown(product: Product) -> dict[int, dict[str, str]]:
    """The grid's cells as the database has them, as text for the inputs."""
    currency = current_store().currency
    return {
        v.id: {
            "sku": v.sku,
            "price": format_amount(v.price, currency),
            "compare_at_price": format_amount(v.compare_at_price, currency),
            "stock": str(v.stock),
            "loaded_stock": str(v.stock),
        }
        for v in product.variants
    }


def _rows_posted() -> list[GridRow]:
    """The grid's rows from the form; an id that isn't a number is a 404 like any bad id."""
    ids = request.form.getlist("variant")
    if len(ids) > MAX_VARIANTS:
        abort(422)
    rows = []
    for raw in dict.fromkeys(ids):
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
            abort(404)
        values = {name: request.form.get(f"variant-{raw}-{name}", "") for name in FIELDS}
        loaded = request.form.get(f"variant-{raw}-loaded_stock", "")
        rows.append(GridRow(int(raw), loaded_stock=loaded, **values))
    return rows


def _grid(product, status=200, *, cells=None, errors=None, saved=None):
    return render_page_or_fragment(
        GRID_TEMPLATE,
        "grid",
        status,
        product=product,
        cells=cells or _rows_shown(product),
        errors=errors or {},
        saved=saved,
        form=ConfirmForm(),
    )


@bp.get("/products/<int:product_id>/variants")
@require_store_permission("products.edit")
def variant_grid(product_id: int):
    """Every variant of a product in one editable grid: SKU, price, compare-at price, stock."""
    return _grid(get_for_store_or_404(Product, product_id))


@bp.post("/products/<int:product_id>/variants")
@require_store_permission("products.edit")
def variant_grid_save(product_id: int):
    """Save the whole grid in one transaction; refused cells keep what was typed (422)."""
    product = get_for_store_or_404(Product, product_id)
    if not ConfirmForm().validate():
        flash(gettext("The form expired. Please check the grid and save again."), "error")
        return _grid(product, 400)
    rows = _rows_posted()
    typed = {
        row.variant_id: {name: getattr(row, name) for name in (*FIELDS, "loaded_stock")}
        for row in rows
    }
    try:
        changed = save_grid(product, rows, user_id=current_user.id)
        db.session.flush()
    except LookupError:
        db.session.rollback()
        abort(404)
    except IntegrityError:
        # Another request took one of these SKUs between the check and the write.
        db.session.rollback()
        product = get_for_store_or_404(Product, product_id)
        cells = _rows_shown(product)
        cells.update(typed)
        errors = {row.variant_id: {"sku": SKU_RACE} for row in rows}
        return _grid(product, 409, cells=cells, errors=errors)
    except GridErrors as exc:
        db.session.rollback()
        product = get_for_store_or_404(Product, product_id)
        cells = _rows_shown(product)
        for variant_id, values in typed.items():
            now = cells[variant_id]["stock"]
            cells[variant_id] = dict(values)
            if variant_id in exc.current:
                # The next save applies the typed number to the count now in the database.
                cells[variant_id]["loaded_stock"] = str(exc.current[variant_id])
            elif values["stock"].strip() == values["loaded_stock"].strip():
                # Not edited: show the count as it is now, not as it was when the page loaded.
                cells[variant_id]["stock"] = cells[variant_id]["loaded_stock"] = now
        return _grid(product, 422, cells=cells, errors=exc.cells)
    db.session.commit()
    message = (
        ngettext("%(num)s variant saved.", "%(num)s variants saved.", changed)
        if changed
        else gettext("No changes.")
    )
    if is_htmx():
        return _grid(product, saved=message)
    flash(message, "success")
    return redirect(url_for("dashboard.variant_grid", product_id=product.id), code=303)
