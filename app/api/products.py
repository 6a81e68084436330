"""Products with their variants, images (processed sizes' URLs) and categories."""

from flask import g
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api import bp
from app.api.auth import requires
from app.api.common import (
    ID,
    IDEMPOTENCY_HEADER,
    ListArgs,
    cursor_page,
    get_or_404,
    page_schema,
    refused,
)
from app.api.idempotency import write
from app.api.problems import ProblemError
from app.catalog import editing, service
from app.catalog.images import SIZES, image_url
from app.catalog.models import Category, Product, Variant
from app.catalog.service import MAX_STOCK
from app.extensions import db
from app.field_errors import FieldError
from app.money import MAX_AMOUNT, to_decimal

TAG = "products"
STATUSES = ("draft", "active", "archived")
Amount = fields.Integer  # minor units of the store's currency


class CategorySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    slug = fields.String()
    parent_id = fields.Integer(allow_none=True)


class ImageSchema(Schema):
    id = fields.Integer()
    alt = fields.String()
    position = fields.Integer()
    status = fields.String(metadata={"description": "pending, ready or failed"})
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    urls = fields.Method(
        "_urls",
        metadata={
            "type": "object",
            "description": f"URL of each processed size ({', '.join(SIZES)}); empty until ready",
            "additionalProperties": {"type": "string"},
        },
    )

    def _urls(self, image) -> dict:
        if image.status != "ready":
            return {}
        return {size: image_url(image, size) for size in SIZES}


class VariantSchema(Schema):
    id = fields.Integer()
    product_id = fields.Integer()
    sku = fields.String()
    options = fields.List(fields.String())
    title = fields.String()
    price = Amount()
    compare_at_price = Amount(allow_none=True)
    currency = fields.Method("_currency", metadata={"type": "string"})
    stock = fields.Integer()
    track_inventory = fields.Boolean()
    weight_grams = fields.Integer()

    def _currency(self, variant) -> str:
        return g.store.currency


class ProductSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    slug = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    description = fields.String(attribute="description_md")
    tags = fields.Method("_tags", metadata={"type": "array", "items": {"type": "string"}})
    featured = fields.Boolean()
    option_names = fields.Method(
        "_options", metadata={"type": "array", "items": {"type": "string"}}
    )
    min_price = Amount()
    max_price = Amount()
    currency = fields.Method("_currency", metadata={"type": "string"})
    in_stock = fields.Boolean()
    categories = fields.List(fields.Nested(CategorySchema))
    variants = fields.List(fields.Nested(VariantSchema))
    images = fields.List(fields.Nested(ImageSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _tags(self, product) -> list[str]:
        return product.tags_text.split()

    def _options(self, product) -> list[str]:
        names = (product.option1_name, product.option2_name, product.option3_name)
        return [name for name in names if name]

    def _currency(self, product) -> str:
        return g.store.currency


ProductPage = page_schema(ProductSchema, "ProductPage")


class ProductListArgs(ListArgs):
    q = fields.String(load_default="", validate=validate.Length(max=200))
    status = fields.String(load_default="all", validate=validate.OneOf(("all", *STATUSES)))


class NewVariantSchema(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    price = Amount(required=True, validate=validate.Range(min=0, max=MAX_AMOUNT))
    compare_at_price = Amount(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=MAX_AMOUNT)
    )
    options = fields.List(
        fields.String(validate=validate.Length(min=1, max=60)),
        load_default=list,
        validate=validate.Length(max=3),
    )
    stock = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_STOCK))
    weight_grams = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))
    track_inventory = fields.Boolean(load_default=True)


class ProductWriteSchema(Schema):
    """The fields a client may set; on update every field is optional."""

    title = fields.String(validate=validate.Length(min=1, max=200))
    slug = fields.String(validate=validate.Length(min=1, max=220))
    status = fields.String(validate=validate.OneOf(STATUSES))
    description = fields.String(validate=validate.Length(max=50_000))
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=40)))
    featured = fields.Boolean()
    category_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)))


class ProductCreateSchema(ProductWriteSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    option_names = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        load_default=list,
        validate=validate.Length(max=3),
    )
    variants = fields.List(
        fields.Nested(NewVariantSchema),
        required=True,
        validate=validate.Length(min=1, max=editing.MAX_VARIANTS),
    )


class VariantUpdateSchema(Schema):
    sku = fields.String(validate=validate.Length(min=1, max=64))
    price = Amount(validate=validate.Range(min=0, max=MAX_AMOUNT))
    compare_at_price = Amount(allow_none=True, validate=validate.Range(min=0, max=MAX_AMOUNT))
    weight_grams = fields.Integer(validate=validate.Range(min=0, max=1_000_000))
    track_inventory = fields.Boolean()


def _loaded():
    return select(Product).options(
        selectinload(Product.variants),
        selectinload(Product.images),
        selectinload(Product.categories),
    )


def _product_or_404(product_id: int) -> Product:
    product = db.session.scalar(
        _loaded().where(Product.store_id == g.store.id, Product.id == product_id)
    )
    if product is None:
        raise ProblemError(404, f"No product with id {product_id} in this store.")
    return product


def _categories(ids) -> list[Category] | None:
    """The store's categories with these ids; another store's id is refused like a typo."""
    if ids is None:
        return None
    found = list(
        db.session.scalars(
            select(Category).where(Category.store_id == g.store.id, Category.id.in_(set(ids)))
        )
    )
    if len(found) != len(set(ids)):
        raise ProblemError(
            422,
            "A category id is not one of this store's.",
            errors=[{"location": "json", "field": "category_ids", "message": "Unknown id."}],
        )
    return found


@bp.get("/products")
@bp.doc(tags=[TAG])
@requires("products:read")
@bp.arguments(ProductListArgs, location="query")
@bp.response(200, ProductPage)
def product_list(args):
    """List products, newest first; `q` searches, `status` filters like the dashboard."""
    filters = editing.product_filters(args["q"], args["status"])
    ids, _rank = editing.filtered_products(g.store, filters)
    stmt = _loaded().where(Product.id.in_(ids.scalar_subquery()))
    return cursor_page(stmt, Product.id, args)


@bp.get(f"/products/<{ID}:product_id>")
@bp.doc(tags=[TAG])
@requires("products:read")
@bp.response(200, ProductSchema)
def product_get(product_id):
    """One product with its variants, images and categories."""
    return _product_or_404(product_id)


@bp.post("/products")
@bp.doc(tags=[TAG], parameters=[IDEMPOTENCY_HEADER])
@requires("products:write")
@write
@bp.arguments(ProductCreateSchema)
@bp.response(201, ProductSchema)
def product_create(data):
    """Create a product with its variants (opening stock is received through the ledger)."""
    try:
        product = service.create_product(
            g.store,
            title=data["title"],
            slug=data.get("slug"),
            status=data.get("status", "draft"),
            description_md=data.get("description", ""),
            tags=data.get("tags", []),
            featured=data.get("featured", False),
            option_names=data["option_names"],
            categories=_categories(data.get("category_ids")),
            variants=[service.VariantData(**variant) for variant in data["variants"]],
            commit=False,
        )
    except FieldError as exc:
        raise refused(exc) from None
    db.session.flush()
    return _product_or_404(product.id)


@bp.patch(f"/products/<{ID}:product_id>")
@bp.doc(tags=[TAG], parameters=[IDEMPOTENCY_HEADER])
@requires("products:write")
@write
@bp.arguments(ProductWriteSchema)
@bp.response(200, ProductSchema)
def product_update(data, product_id):
    """Change a product's fields; those left out keep their values."""
    product = _product_or_404(product_id)
    categories = _categories(data.get("category_ids"))
    try:
        editing.update_product(
            product,
            title=data.get("title", product.title),
            slug=data.get("slug", product.slug),
            description_md=data.get("description", product.description_md),
            tags=data.get("tags", product.tags_text),
            faqs=[(faq.question, faq.answer) for faq in product.faqs],
            seo_title=product.seo_title,
            seo_description=product.seo_description,
            featured=data.get("featured", product.featured),
            status=data.get("status", product.status),
            categories=categories if categories is not None else list(product.categories),
        )
    except FieldError as exc:
        raise refused(exc) from None
    db.session.flush()
    db.session.expire(product)
    return _product_or_404(product_id)


def _text(amount: int | None, currency: str) -> str:
    return "" if amount is None else format(to_decimal(amount, currency), "f")


@bp.get(f"/variants/<{ID}:variant_id>")
@bp.doc(tags=[TAG])
@requires("products:read")
@bp.response(200, VariantSchema)
def variant_get(variant_id):
    """One variant (its stock too)."""
    return get_or_404(Variant, variant_id)


@bp.patch(f"/variants/<{ID}:variant_id>")
@bp.doc(tags=[TAG], parameters=[IDEMPOTENCY_HEADER])
@requires("products:write")
@write
@bp.arguments(VariantUpdateSchema)
@bp.response(200, VariantSchema)
def variant_update(data, variant_id):
    """Change a variant's SKU, prices or weight (stock changes go through /stock)."""
    variant = get_or_404(Variant, variant_id)
    currency = g.store.currency
    price = data.get("price", variant.price)
    compare = data.get("compare_at_price", variant.compare_at_price)
    try:
        editing.update_variant(
            variant,
            editing.VariantInput(
                sku=data.get("sku", variant.sku),
                price=_text(price, currency),
                compare_at_price=_text(compare, currency),
                weight_grams=str(data.get("weight_grams", variant.weight_grams)),
                stock=str(variant.stock),
                track_inventory=data.get("track_inventory", variant.track_inventory),
            ),
        )
    except editing.VariantErrors as exc:
        raise ProblemError(
            422,
            exc.message,
            errors=[
                {"location": "json", "field": field, "message": message}
                for field, message in exc.errors.items()
            ],
        ) from None
    except FieldError as exc:
        raise refused(exc) from None
    db.session.flush()
    return variant


@bp.get("/categories")
@bp.doc(tags=[TAG])
@requires("products:read")
@bp.response(200, CategorySchema(many=True))
def category_list():
    """The store's categories (a tree: each names its parent)."""
    return list(
        db.session.scalars(
            select(Category)
            .where(Category.store_id == g.store.id)
            .order_by(Category.position, Category.id)
        )
    )
