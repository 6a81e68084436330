"""The dashboard's catalog pages: products, options and variants, images, categories.

Thin views on the dashboard blueprint: parse the form, call app.catalog.editing, render or
redirect. Every id from the URL or a form is loaded with get_for_store_or_404.
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from app.accounts.permissions import require_store_permission
from app.catalog import editing
from app.catalog.editing import VariantErrors, VariantInput
from app.catalog.images import MAX_IMAGE_BYTES, MAX_IMAGES_PER_PRODUCT, add_image, image_url
from app.catalog.models import Category, Product, ProductImage, Variant
from app.catalog.service import MAX_STOCK, CatalogError, VariantData, create_product
from app.dashboard import bp
from app.dashboard.catalog_forms import (
    CategoryForm,
    ConfirmForm,
    ImageAltForm,
    ImageUploadForm,
    MoveForm,
    NewProductForm,
    OptionsForm,
    ProductForm,
    VariantForm,
)
from app.extensions import db
from app.field_errors import FieldError
from app.money import AmountError, format_amount, parse_amount
from app.rendering import is_htmx, render_page_or_fragment, render_partial
from tenants.context import current_store
from tenants.query import get_for_store_or_404

LIST_TEMPLATE = "admin/products/list.html"
EDIT_TEMPLATE = "admin/products/edit.html"
VARIANT_ROW = "admin/products/_partials/variant_row.html"
VARIANT_EDIT_ROW = "admin/products/_partials/variant_edit_row.html"
IMAGE_CARD = "admin/products/_partials/image_card.html"
BLANK_FAQ_ROWS = 2


@bp.context_processor
def _catalog_helpers():
    """Catalog templates format amounts for inputs and find image URLs."""
    return {
        "image_url": image_url,
        "format_amount": format_amount,
        "sorts": editing.SORTS,
        "status_filters": editing.STATUS_FILTERS,
    }


def _refuse(form, exc: FieldError, general: list[str]) -> None:
    """Put a refused change's message on its field, or with the form's general errors."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, exc.message]
    else:
        general.append(exc.message)


def _back_to_list() -> str:
    back = request.form.get("back", "")
    list_url = url_for("dashboard.product_list")
    return back if back.startswith(list_url) and "//" not in back else list_url


# The product list ------------------------------------------------------------------------------


@bp.get("/products/")
@require_store_permission("products.edit")
def product_list():
    """The store's products: search, filter by status, sort, page; htmx swaps the results."""
    return _list_response()


def _list_response(status: int = 200, error: str | None = None):
    filters = editing.product_filters(
        request.args.get("q"), request.args.get("status"), request.args.get("sort")
    )
    page = editing.list_products(current_store(), filters, request.args.get("page"))
    return render_page_or_fragment(
        LIST_TEMPLATE,
        "results",
        status,
        page=page,
        filters=filters,
        bulk_form=ConfirmForm(),
        error=error,
    )


@bp.post("/products/bulk")
@require_store_permission("products.edit")
def product_bulk():
    """Activate, archive or delete the selected products (delete asks to confirm first)."""
    form = ConfirmForm()
    if not form.validate():
        abort(400)
    action = request.form.get("action", "")
    ids = list(dict.fromkeys(request.form.getlist("ids")))[: editing.PAGE_SIZE * 4]
    if action not in editing.BULK_ACTIONS:
        return _list_response(422, gettext("Choose what to do with the selected products."))
    if not ids:
        return _list_response(422, gettext("Select at least one product first."))
    products = [get_for_store_or_404(Product, product_id) for product_id in ids]
    if action == "delete" and request.form.get("confirm") != "yes":
        return render_template(
            "admin/products/confirm_delete.html",
            products=products,
            form=form,
            back=_back_to_list(),
        )
    count = editing.bulk_update(products, action)
    done = {
        "activate": ngettext("%(num)s product activated.", "%(num)s products activated.", count),
        "archive": ngettext("%(num)s product archived.", "%(num)s products archived.", count),
        "delete": ngettext("%(num)s product deleted.", "%(num)s products deleted.", count),
    }[action]
    flash(done, "success")
    return redirect(_back_to_list(), code=303)


# Creating and editing a product ----------------------------------------------------------------


def _category_choices(form) -> list[editing.CategoryNode]:
    """The store's categories as the form's choices, and as `form.category_options` for the
    searchable picker: (id, name, depth, path with its parents)."""
    nodes = editing.flatten(editing.category_tree(current_store()))
    form.categories.choices = [
        (str(n.category.id), "— " * n.depth + n.category.name) for n in nodes
    ]
    trail: list[str] = []
    form.category_options = []
    for n in nodes:
        trail = [*trail[: n.depth], n.category.name]
        form.category_options.append(
            (str(n.category.id), n.category.name, min(n.depth, 3), " › ".join(trail))
        )
    return nodes


def _categories_from(form) -> list[Category]:
    return [
        get_for_store_or_404(Category, cid) for cid in dict.fromkeys(form.categories.data or [])
    ]


def _faqs_from_request() -> list[tuple[str, str]]:
    rows = []
    for i in range(editing.MAX_FAQS + BLANK_FAQ_ROWS):
        if f"faq-{i}-question" not in request.form:
            continue
        if request.form.get(f"faq-{i}-remove"):
            continue
        rows.append(
            (request.form.get(f"faq-{i}-question", ""), request.form.get(f"faq-{i}-answer", ""))
        )
    return rows


@bp.route("/products/new", methods=["GET", "POST"])
@require_store_permission("products.edit")
def product_new():
    """Create a product with its first variant; options and images follow on its page."""
    store = current_store()
    form = NewProductForm()
    _category_choices(form)
    errors: list[str] = []
    faq_rows = _faqs_from_request() if request.method == "POST" else []
    if form.validate_on_submit():
        try:
            categories = _categories_from(form)
            slug = editing.check_slug(store, form.slug.data) if form.slug.data else None
            price = parse_amount(form.price.data, store.currency)
            stock = editing.parse_whole(form.stock.data, "stock", "Stock", MAX_STOCK)
            product = create_product(
                store,
                title=form.title.data,
                slug=slug,
                variants=[VariantData(sku=form.sku.data, price=price, stock=stock)],
                description_md=form.description_md.data or "",
                tags=form.tags.data or "",
                status=form.status.data,
                featured=form.featured.data,
                categories=categories,
                faqs=editing.clean_faqs(faq_rows),
                seo_title=form.seo_title.data or "",
                seo_description=form.seo_description.data or "",
            )
        except (CatalogError, AmountError) as exc:
            db.session.rollback()
            _refuse(form, exc, errors)
        else:
            flash(gettext("“%(title)s” created.", title=product.title), "success")
            return redirect(url_for("dashboard.product_edit", product_id=product.id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/products/new.html",
        form=form,
        errors=errors,
        faq_rows=faq_rows + [("", "")] * BLANK_FAQ_ROWS,
    ), status


def _edit_page(product: Product, status: int = 200, block: str | None = None, **context):
    """The product page (or one of its blocks for htmx) with every form it holds."""
    form = context.pop("form", None)
    if form is None:
        form = ProductForm(
            data={
                "title": product.title,
                "slug": product.slug,
                "description_md": product.description_md,
                "tags": ", ".join(t.tag for t in sorted(product.tags, key=lambda t: t.id or 0)),
                "status": product.status,
                "featured": product.featured,
                "categories": [str(c.id) for c in product.categories],
                "seo_title": product.seo_title,
                "seo_description": product.seo_description,
            }
        )
    _category_choices(form)
    options_form = context.pop("options_form", None)
    if options_form is None:
        data = {}
        for i, name in enumerate(product.option_names, start=1):
            values = list(dict.fromkeys(v.options[i - 1] for v in product.variants if v.options))
            data[f"option{i}_name"] = name
            data[f"option{i}_values"] = ", ".join(values)
        options_form = OptionsForm(data=data)
    faq_rows = context.pop("faq_rows", None)
    if faq_rows is None:
        faq_rows = [(f.question, f.answer) for f in product.faqs]
    context.setdefault("errors", [])
    context.setdefault("options_errors", [])
    context.setdefault("image_errors", [])
    context.setdefault("editing_variant_id", None)
    context.setdefault("variant_form", None)
    context.setdefault("variant_errors", {})
    context.setdefault("alt_values", {})
    context.setdefault("alt_errors", {})
    args = dict(
        product=product,
        form=form,
        options_form=options_form,
        faq_rows=faq_rows + [("", "")] * BLANK_FAQ_ROWS,
        upload_form=ImageUploadForm(),
        action_form=ConfirmForm(),
        max_images=MAX_IMAGES_PER_PRODUCT,
        max_image_bytes=MAX_IMAGE_BYTES,
        max_image_mb=MAX_IMAGE_BYTES // 2**20,
        **context,
    )
    if block is not None:
        return render_page_or_fragment(EDIT_TEMPLATE, block, status, **args)
    return render_template(EDIT_TEMPLATE, **args), status


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@require_store_permission("products.edit")
def product_edit(product_id: int):
    """A product's page: details, FAQ, SEO, categories, options, variants and images."""
    product = get_for_store_or_404(Product, product_id)
    if request.method == "GET":
        return _edit_page(product)
    form = ProductForm()
    _category_choices(form)
    errors: list[str] = []
    alt_errors: dict[int, str] = {}
    faq_rows = _faqs_from_request()
    alts = _alts_from_request(product)
    if form.validate():
        try:
            editing.set_image_alts(product, alts)
            editing.update_product(
                product,
                title=form.title.data,
                slug=form.slug.data or form.title.data,
                description_md=form.description_md.data or "",
                tags=form.tags.data or "",
                faqs=faq_rows,
                seo_title=form.seo_title.data or "",
                seo_description=form.seo_description.data or "",
                featured=form.featured.data,
                status=form.status.data,
                categories=_categories_from(form),
            )
        except editing.AltTextErrors as exc:
            db.session.rollback()
            alt_errors = exc.errors
            errors.append("Please correct the image descriptions.")
        except CatalogError as exc:
            db.session.rollback()
            _refuse(form, exc, errors)
        else:
            db.session.commit()
            flash(gettext("Product saved."), "success")
            return redirect(url_for("dashboard.product_edit", product_id=product.id), code=303)
    product = get_for_store_or_404(Product, product_id)
    return _edit_page(
        product,
        422,
        form=form,
        errors=errors,
        faq_rows=faq_rows,
        alt_values=alts,
        alt_errors=alt_errors,
    )


def _alts_from_request(product: Product) -> dict[int, str]:
    """The image descriptions sent with the product form, for this product's images only (a
    field naming any other image is never read)."""
    return {
        image.id: request.form[f"image-{image.id}-alt"]
        for image in product.images
        if f"image-{image.id}-alt" in request.form
    }


@bp.post("/products/<int:product_id>/options")
@require_store_permission("products.edit")
def product_options(product_id: int):
    """Set the product's options; one variant per combination of their values."""
    product = get_for_store_or_404(Product, product_id)
    form = OptionsForm()
    if not form.validate():
        return _edit_page(product, 422, options_form=form)
    try:
        counts = editing.set_options(
            product,
            [
                (form.option1_name.data, form.option1_values.data),
                (form.option2_name.data, form.option2_values.data),
                (form.option3_name.data, form.option3_values.data),
            ],
        )
    except CatalogError as exc:
        db.session.rollback()
        product = get_for_store_or_404(Product, product_id)
        return _edit_page(product, 422, options_form=form, options_errors=[exc.message])
    db.session.commit()
    flash(
        gettext(
            "Options saved: %(kept)s variants kept, %(added)s added, %(removed)s removed.",
            kept=counts["kept"],
            added=counts["added"],
            removed=counts["removed"],
        ),
        "success",
    )
    return redirect(url_for("dashboard.product_edit", product_id=product.id) + "#variants", 303)


@bp.post("/products/<int:product_id>/duplicate")
@require_store_permission("products.edit")
def product_duplicate(product_id: int):
    """Copy a product as a draft, with new SKUs."""
    product = get_for_store_or_404(Product, product_id)
    copy = editing.duplicate_product(product)
    db.session.commit()
    flash(
        gettext(
            "Copied as “%(title)s”, a draft. Check its SKUs before publishing.", title=copy.title
        ),
        "success",
    )
    return redirect(url_for("dashboard.product_edit", product_id=copy.id), code=303)


@bp.post("/products/<int:product_id>/archive")
@require_store_permission("products.edit")
def product_archive(product_id: int):
    """Archive a product: hidden from shoppers, kept for orders and records."""
    product = get_for_store_or_404(Product, product_id)
    editing.set_status(product, "archived")
    db.session.commit()
    flash(gettext("“%(title)s” archived.", title=product.title), "success")
    return redirect(url_for("dashboard.product_edit", product_id=product.id), code=303)


@bp.post("/products/<int:product_id>/delete")
@require_store_permission("products.edit")
def product_delete(product_id: int):
    """Delete a product with its variants and images."""
    product = get_for_store_or_404(Product, product_id)
    title = product.title
    editing.delete_product(product)
    flash(gettext("“%(title)s” deleted.", title=title), "success")
    return redirect(url_for("dashboard.product_list"), code=303)


# Variants, edited inline -----------------------------------------------------------------------


def _variant_of(product: Product, variant_id) -> Variant:
    variant = get_for_store_or_404(Variant, variant_id)
    if variant.product_id != product.id:
        abort(404)
    return variant


def _variant_form(variant: Variant) -> VariantForm:
    currency = current_store().currency
    return VariantForm(
        data={
            "sku": variant.sku,
            "price": format_amount(variant.price, currency),
            "compare_at_price": format_amount(variant.compare_at_price, currency),
            "weight_grams": str(variant.weight_grams),
            "stock": str(variant.stock),
            "track_inventory": variant.track_inventory,
        }
    )


@bp.get("/products/<int:product_id>/variants/<int:variant_id>")
@require_store_permission("products.edit")
def variant_row(product_id: int, variant_id: int):
    """A variant's row as shown (htmx "cancel"); the product page without htmx."""
    product = get_for_store_or_404(Product, product_id)
    variant = _variant_of(product, variant_id)
    if not is_htmx():
        return _edit_page(product)
    return render_partial(VARIANT_ROW, product=product, variant=variant)


@bp.get("/products/<int:product_id>/variants/<int:variant_id>/edit")
@require_store_permission("products.edit")
def variant_edit(product_id: int, variant_id: int):
    """A variant's row as a form (htmx swaps it in); the page with that row open otherwise."""
    product = get_for_store_or_404(Product, product_id)
    variant = _variant_of(product, variant_id)
    form = _variant_form(variant)
    if is_htmx():
        return render_partial(VARIANT_EDIT_ROW, product=product, variant=variant, form=form)
    return _edit_page(product, editing_variant_id=variant.id, variant_form=form)


@bp.post("/products/<int:product_id>/variants/<int:variant_id>")
@require_store_permission("products.edit")
def variant_save(product_id: int, variant_id: int):
    """Save a variant row; htmx gets the shown row back, or the form with errors (422)."""
    product = get_for_store_or_404(Product, product_id)
    variant = _variant_of(product, variant_id)
    form = VariantForm()
    errors: dict[str, str] = {}
    if not form.validate():
        errors = {"sku": gettext("The form expired. Please try again.")}
    else:
        try:
            editing.update_variant(
                variant,
                VariantInput(
                    sku=form.sku.data or "",
                    price=form.price.data or "",
                    compare_at_price=form.compare_at_price.data or "",
                    weight_grams=form.weight_grams.data or "",
                    stock=form.stock.data or "",
                    track_inventory=form.track_inventory.data,
                ),
                user_id=current_user.id,
            )
        except VariantErrors as exc:
            errors = exc.errors
    if errors:
        db.session.rollback()
        product = get_for_store_or_404(Product, product_id)
        variant = _variant_of(product, variant_id)
        if is_htmx():
            return render_partial(
                VARIANT_EDIT_ROW, 422, product=product, variant=variant, form=form, errors=errors
            )
        return _edit_page(
            product, 422, editing_variant_id=variant.id, variant_form=form, variant_errors=errors
        )
    db.session.commit()
    if is_htmx():
        return render_partial(VARIANT_ROW, product=product, variant=variant, saved=True)
    flash(gettext("Variant %(sku)s saved.", sku=variant.sku), "success")
    return redirect(url_for("dashboard.product_edit", product_id=product.id) + "#variants", 303)


# Images ----------------------------------------------------------------------------------------


def _images_answer(product: Product, status: int = 200, errors: list[str] | None = None):
    """The images section for htmx; the product page (or back to it) otherwise."""
    if is_htmx():
        return _edit_page(product, status, block="images", image_errors=errors or [])
    if status >= 400:
        return _edit_page(product, status, image_errors=errors or [])
    return redirect(url_for("dashboard.product_edit", product_id=product.id) + "#images", 303)


@bp.post("/products/<int:product_id>/images")
@require_store_permission("products.edit")
def image_upload(product_id: int):
    """Upload one or more images; each is checked before any is stored, then processed."""
    product = get_for_store_or_404(Product, product_id)
    form = ImageUploadForm()
    if not form.validate():
        return _images_answer(product, 400, [gettext("The form expired. Please try again.")])
    files = [f for f in request.files.getlist("images") if f and f.filename]
    if not files:
        return _images_answer(product, 422, ["Choose at least one image to upload."])
    if len(product.images) + len(files) > MAX_IMAGES_PER_PRODUCT:
        return _images_answer(
            product, 422, [f"A product can have at most {MAX_IMAGES_PER_PRODUCT} images."]
        )
    uploads = []
    for file in files:
        data = file.read(MAX_IMAGE_BYTES + 1)
        try:
            editing.check_upload(data)
        except CatalogError as exc:
            return _images_answer(product, 422, [f"{file.filename}: {exc.message}"])
        uploads.append(data)
    for data in uploads:
        add_image(product, data)
    db.session.refresh(product)
    if not is_htmx():
        flash(
            ngettext("%(num)s image uploaded.", "%(num)s images uploaded.", len(uploads)),
            "success",
        )
    return _images_answer(product)


def _image_of(product: Product, image_id) -> ProductImage:
    image = get_for_store_or_404(ProductImage, image_id)
    if image.product_id != product.id:
        abort(404)
    return image


@bp.get("/products/<int:product_id>/images/<int:image_id>")
@require_store_permission("products.edit")
def image_card(product_id: int, image_id: int):
    """One image's card; htmx polls it while the image is processing."""
    product = get_for_store_or_404(Product, product_id)
    image = _image_of(product, image_id)
    if not is_htmx():
        return _edit_page(product)
    return render_partial(IMAGE_CARD, product=product, image=image)


@bp.post("/products/<int:product_id>/images/<int:image_id>")
@require_store_permission("products.edit")
def image_alt(product_id: int, image_id: int):
    """Save an image's description (alt text)."""
    product = get_for_store_or_404(Product, product_id)
    image = _image_of(product, image_id)
    form = ImageAltForm()
    try:
        if not form.validate():
            raise CatalogError("alt", " ".join(form.errors.get("alt", ["Check the description."])))
        editing.set_image_alt(image, form.alt.data or "")
    except CatalogError as exc:
        db.session.rollback()
        return _images_answer(get_for_store_or_404(Product, product_id), 422, [exc.message])
    db.session.commit()
    if not is_htmx():
        flash(gettext("Image description saved."), "success")
    return _images_answer(product)


@bp.post("/products/<int:product_id>/images/<int:image_id>/move")
@require_store_permission("products.edit")
def image_move(product_id: int, image_id: int):
    """Move an image up or down; the first is the product's main picture."""
    product = get_for_store_or_404(Product, product_id)
    image = _image_of(product, image_id)
    form = MoveForm()
    try:
        editing.move_image(image, form.direction.data or "")
    except CatalogError as exc:
        return _images_answer(product, 422, [exc.message])
    db.session.commit()
    db.session.refresh(product)
    return _images_answer(product)


@bp.post("/products/<int:product_id>/images/<int:image_id>/delete")
@require_store_permission("products.edit")
def image_delete(product_id: int, image_id: int):
    """Delete an image and its files."""
    product = get_for_store_or_404(Product, product_id)
    image = _image_of(product, image_id)
    editing.delete_image(image)
    if not is_htmx():
        flash(gettext("Image deleted."), "success")
    return _images_answer(product)


# Categories ------------------------------------------------------------------------------------


@bp.get("/categories/")
@require_store_permission("products.edit")
def category_list():
    """The store's category tree, with reorder, edit and delete."""
    return category_list_page(200)


def _parent_choices(form: CategoryForm, category: Category | None) -> None:
    excluded = set()
    if category is not None:
        excluded = editing.descendant_ids(category) | {category.id}
    nodes = editing.flatten(editing.category_tree(current_store()))
    form.parent_id.choices = [("", "None — a top-level category")] + [
        (str(n.category.id), "— " * n.depth + n.category.name)
        for n in nodes
        if n.category.id not in excluded
    ]


def _parent_from(form: CategoryForm) -> Category | None:
    return get_for_store_or_404(Category, form.parent_id.data) if form.parent_id.data else None


def _category_form_page(form, category, errors, status):
    return render_template(
        "admin/categories/form.html", form=form, category=category, errors=errors
    ), status


@bp.route("/categories/new", methods=["GET", "POST"])
@require_store_permission("products.edit")
def category_new():
    """Add a category, at the top level or inside another."""
    form = CategoryForm()
    if request.method == "GET" and request.args.get("parent"):
        form.parent_id.data = str(get_for_store_or_404(Category, request.args["parent"]).id)
    _parent_choices(form, None)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            category = editing.create_category(
                current_store(),
                name=form.name.data,
                slug=form.slug.data or "",
                parent=_parent_from(form),
                description=form.description.data or "",
            )
        except CatalogError as exc:
            db.session.rollback()
            _refuse(form, exc, errors)
        else:
            db.session.commit()
            flash(gettext("Category “%(name)s” added.", name=category.name), "success")
            return redirect(url_for("dashboard.category_list"), code=303)
    return _category_form_page(form, None, errors, 422 if request.method == "POST" else 200)


@bp.route("/categories/<int:category_id>/edit", methods=["GET", "POST"])
@require_store_permission("products.edit")
def category_edit(category_id: int):
    """Rename a category, change its handle or move it under another."""
    category = get_for_store_or_404(Category, category_id)
    form = CategoryForm(obj=category) if request.method == "GET" else CategoryForm()
    if request.method == "GET":
        form.parent_id.data = str(category.parent_id or "")
    _parent_choices(form, category)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            editing.update_category(
                category,
                name=form.name.data,
                slug=form.slug.data or "",
                parent=_parent_from(form),
                description=form.description.data or "",
            )
        except CatalogError as exc:
            db.session.rollback()
            _refuse(form, exc, errors)
            category = get_for_store_or_404(Category, category_id)
        else:
            db.session.commit()
            flash(gettext("Category “%(name)s” saved.", name=category.name), "success")
            return redirect(url_for("dashboard.category_list"), code=303)
    return _category_form_page(form, category, errors, 422 if request.method == "POST" else 200)


@bp.post("/categories/<int:category_id>/delete")
@require_store_permission("products.edit")
def category_delete(category_id: int):
    """Delete a category; its products stay, its children move up a level."""
    category = get_for_store_or_404(Category, category_id)
    name = category.name
    editing.delete_category(category)
    db.session.commit()
    flash(gettext("Category “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("dashboard.category_list"), code=303)


@bp.post("/categories/<int:category_id>/move")
@require_store_permission("products.edit")
def category_move(category_id: int):
    """Move a category up or down among its siblings."""
    category = get_for_store_or_404(Category, category_id)
    form = MoveForm()
    try:
        editing.move_category(category, form.direction.data or "")
    except CatalogError as exc:
        flash(exc.message, "error")
        return category_list_page(422)
    db.session.commit()
    return redirect(url_for("dashboard.category_list") + f"#category-{category.id}", code=303)


def category_list_page(status: int):
    """The category tree page with `status`."""
    tree = editing.flatten(editing.category_tree(current_store()))
    body = render_template("admin/categories/list.html", nodes=tree, action_form=ConfirmForm())
    return body, status
