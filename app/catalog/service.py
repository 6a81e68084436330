"""Creating products and keeping their listing summary (price range, stock) in step."""

from dataclasses import dataclass, field

from flask_babel import gettext
from sqlalchemy import func, select

from app.catalog.models import (
    MAX_OPTIONS,
    Category,
    Product,
    ProductCategory,
    ProductFAQ,
    ProductTag,
    Variant,
)
from app.catalog.text import normalise_tags, render_markdown, slugify
from app.database import utcnow
from app.extensions import db
from app.field_errors import FieldError
from app.i18n import N_, number
from app.money import MAX_AMOUNT
from tenants.models import Store

MAX_STOCK = 1_000_000_000
# The whole-number fields of a variant, named as a refusal names them.
WHOLE_LABELS = {"price": N_("Price"), "stock": N_("Stock"), "weight_grams": N_("Weight grams")}


class CatalogError(FieldError):
    """A catalog change was refused; `field` names the input, `message` says why."""


@dataclass
class VariantData:
    """What a vendor enters for one variant."""

    sku: str
    price: int
    options: list[str] = field(default_factory=list)
    compare_at_price: int | None = None
    stock: int = 0
    weight_grams: int = 0
    track_inventory: bool = True


def check_variant(data: VariantData, option_count: int) -> VariantData:
    """Normalise and validate one variant's data, or raise CatalogError."""
    sku = (data.sku or "").strip()
    if not sku or len(sku) > 64 or any(not ch.isprintable() for ch in sku):
        raise CatalogError("sku", gettext("A SKU needs 1 to 64 printable characters."))
    for name, value, upper in (
        ("price", data.price, MAX_AMOUNT),
        ("stock", data.stock, MAX_STOCK),
        ("weight_grams", data.weight_grams, 1_000_000),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= upper:
            raise CatalogError(
                name,
                gettext(
                    "%(label)s must be a whole number from 0 to %(upper)s.",
                    label=gettext(WHOLE_LABELS[name]),
                    upper=number(upper),
                ),
            )
    if data.compare_at_price is not None:
        if not isinstance(data.compare_at_price, int) or data.compare_at_price > MAX_AMOUNT:
            raise CatalogError(
                "compare_at_price", gettext("The compare-at price is not a valid amount.")
            )
        if data.compare_at_price <= data.price:
            raise CatalogError(
                "compare_at_price", gettext("The compare-at price must be higher than the price.")
            )
    options = [(o or "").strip()[:60] for o in data.options]
    if len(options) != option_count or any(not o for o in options):
        raise CatalogError("options", gettext("Every variant needs a value for each option."))
    return VariantData(
        sku=sku,
        price=data.price,
        options=options,
        compare_at_price=data.compare_at_price,
        stock=data.stock,
        weight_grams=data.weight_grams,
        track_inventory=data.track_inventory,
    )


def unique_slug(store: Store, wanted: str, *, exclude_product_id: int | None = None) -> str:
    """`wanted` as a slug, with -2, -3... appended if another product of the store has it."""
    base = slugify(wanted) or "product"
    taken = set(
        db.session.scalars(
            select(Product.slug).where(
                Product.store_id == store.id,
                Product.slug.like(f"{base}%"),
                Product.id != (exclude_product_id or 0),
            )
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def refresh_summary(product: Product) -> None:
    """Recompute the product's price range and stock flag from its variants."""
    variants = product.variants
    prices = [v.price for v in variants]
    product.min_price = min(prices, default=0)
    product.max_price = max(prices, default=0)
    product.in_stock = any(v.available for v in variants)


def create_product(
    store: Store,
    *,
    title: str,
    variants: list[VariantData],
    option_names: list[str] | None = None,
    description_md: str = "",
    tags: str | list[str] = "",
    status: str = "draft",
    featured: bool = False,
    categories: list[Category] | None = None,
    faqs: list[tuple[str, str]] | None = None,
    seo_title: str = "",
    seo_description: str = "",
    slug: str | None = None,
    commit: bool = True,
) -> Product:
    """Create a product with its variants, tags, categories and FAQ in one transaction."""
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise CatalogError("title", gettext("A title needs 1 to 200 characters."))
    if status not in ("draft", "active", "archived"):
        raise CatalogError("status", gettext("Choose draft, active or archived."))
    option_names = [n.strip()[:40] for n in (option_names or []) if n and n.strip()]
    if len(option_names) > MAX_OPTIONS or len(set(option_names)) != len(option_names):
        raise CatalogError(
            "options", gettext("Use up to %(max)s differently named options.", max=MAX_OPTIONS)
        )
    if not variants:
        raise CatalogError("variants", gettext("A product needs at least one variant."))
    checked = [check_variant(v, len(option_names)) for v in variants]
    skus = [v.sku for v in checked]
    if len(set(skus)) != len(skus):
        raise CatalogError("sku", gettext("Each variant needs its own SKU."))
    combos = [tuple(v.options) for v in checked]
    if len(set(combos)) != len(combos):
        raise CatalogError("options", gettext("Two variants have the same option values."))
    clash = db.session.scalar(
        select(Variant.sku).where(Variant.store_id == store.id, Variant.sku.in_(skus)).limit(1)
    )
    if clash:
        raise CatalogError(
            "sku", gettext("The SKU %(sku)s is already used by another product.", sku=clash)
        )
    tag_list = normalise_tags(tags)
    product = Product(
        store_id=store.id,
        title=title,
        slug=unique_slug(store, slug or title),
        status=status,
        description_md=description_md or "",
        description_html=render_markdown(description_md),
        tags_text=" ".join(tag_list),
        featured=featured,
        seo_title=(seo_title or "")[:70],
        seo_description=(seo_description or "")[:170],
        option1_name=option_names[0] if len(option_names) > 0 else None,
        option2_name=option_names[1] if len(option_names) > 1 else None,
        option3_name=option_names[2] if len(option_names) > 2 else None,
        published_at=utcnow() if status == "active" else None,
    )
    for position, data in enumerate(checked):
        padded = [*data.options, None, None, None]
        product.variants.append(
            Variant(
                store_id=store.id,
                sku=data.sku,
                price=data.price,
                compare_at_price=data.compare_at_price,
                stock=0,  # the opening stock is received below, through the ledger
                weight_grams=data.weight_grams,
                track_inventory=data.track_inventory,
                option1=padded[0],
                option2=padded[1],
                option3=padded[2],
                position=position,
            )
        )
    product.tags = [ProductTag(store_id=store.id, tag=tag) for tag in tag_list]
    for position, (question, answer) in enumerate(faqs or []):
        product.faqs.append(
            ProductFAQ(store_id=store.id, question=question[:300], answer=answer, position=position)
        )
    for category in categories or []:
        if category.store_id != store.id:
            raise CatalogError("categories", gettext("That category belongs to another store."))
        product.category_links.append(ProductCategory(store_id=store.id, category_id=category.id))
    db.session.add(product)
    db.session.flush()
    _receive_opening_stock(product, [data.stock for data in checked])
    refresh_summary(product)
    if commit:
        db.session.commit()
    return product


def _receive_opening_stock(product: Product, counts: list[int]) -> None:
    """The stock a product starts with is received through the ledger, so the sums agree."""
    from app.inventory.service import apply_movement

    for variant, count in zip(product.variants, counts, strict=True):
        if count:
            apply_movement(
                variant.store_id,
                variant.id,
                count,
                "receive",
                reason="Opening stock",
                reference=f"product:{product.id}",
            )


def count_products(store: Store) -> int:
    """How many products the store has, in any status."""
    return db.session.scalar(
        select(func.count()).select_from(Product).where(Product.store_id == store.id)
    )
