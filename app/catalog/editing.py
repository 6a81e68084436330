"""The vendor's catalog edits: products, options and variants, categories, images, listings.

Plain functions the dashboard views call and tests call directly. Each one validates first and
raises CatalogError before touching anything, so a refused change leaves nothing half-written;
the caller commits.
"""

import itertools
import re
import secrets
from dataclasses import dataclass

from flask_babel import gettext
from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from app.catalog.images import SIZES
from app.catalog.models import (
    MAX_OPTIONS,
    PRODUCT_STATUSES,
    Category,
    Product,
    ProductCategory,
    ProductFAQ,
    ProductImage,
    ProductSlugRedirect,
    ProductTag,
    Variant,
)
from app.catalog.search import apply_search, search_terms
from app.catalog.service import (
    MAX_STOCK,
    CatalogError,
    refresh_summary,
    unique_slug,
)
from app.catalog.text import normalise_tags, render_markdown, slugify
from app.database import utcnow
from app.extensions import db
from app.i18n import N_, number
from app.inventory.service import StockChanged, apply_movement
from app.money import AmountError, parse_amount
from app.pagination import Page, paginate
from app.storage import get_storage
from tenants.models import Store

PAGE_SIZE = 25
MAX_VARIANTS = 100
MAX_OPTION_VALUES = 30
MAX_FAQS = 30
MAX_WEIGHT_GRAMS = 1_000_000
SORTS = {
    "newest": N_("Newest first"),
    "oldest": N_("Oldest first"),
    "title": N_("Title A–Z"),
    "price_low": N_("Price, low to high"),
    "price_high": N_("Price, high to low"),
}
STATUS_FILTERS = ("all", *PRODUCT_STATUSES)
BULK_ACTIONS = ("activate", "archive", "delete")


# Numbers ---------------------------------------------------------------------------------------


def parse_whole(text: str | None, field: str, label: str, upper: int) -> int:
    """A whole number from 0 to `upper` typed by a vendor; blank means 0."""
    raw = (text or "").strip().replace(",", "").replace("_", "")
    if not raw:
        return 0
    if not re.fullmatch(r"\d+", raw) or int(raw) > upper:
        raise CatalogError(
            field,
            gettext(
                "%(label)s must be a whole number from 0 to %(upper)s.",
                label=label,
                upper=number(upper),
            ),
        )
    return int(raw)


# The product list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductFilters:
    """What the product list was asked for, made safe: search words, status and sort."""

    q: str = ""
    status: str = "all"
    sort: str = "newest"

    def query_args(self) -> dict[str, str]:
        """The filters as url_for arguments, defaults left out (for the pager's links)."""
        args = {
            "q": self.q,
            "status": self.status if self.status != "all" else "",
            "sort": self.sort if self.sort not in ("newest", "relevance") else "",
        }
        return {k: v for k, v in args.items() if v}


def product_filters(q: str | None = "", status: str | None = "all", sort: str | None = ""):
    """The list's filters from what was typed: unknown values fall back to the defaults;
    relevance is the default sort (and only allowed) when `q` has words to search for."""
    q = (q or "").strip()[:200]
    status = status if status in STATUS_FILTERS else "all"
    searching = bool(search_terms(q))
    sort = sort if sort in SORTS else ("relevance" if searching else "newest")
    if sort == "relevance" and not searching:
        sort = "newest"
    return ProductFilters(q=q, status=status, sort=sort)


def filtered_products(store: Store, filters: ProductFilters):
    """`SELECT products.id` of the store's products that match the filters, and the search
    rank to sort by (the dashboard list and the API share the one rule)."""
    stmt = select(Product.id).where(Product.store_id == store.id)
    if filters.status != "all":
        stmt = stmt.where(Product.status == filters.status)
    return apply_search(stmt, filters.q)


def list_products(store: Store, filters: ProductFilters, page=1) -> Page:
    """A page of the store's products (rows of product, variant count and stock), searched,
    filtered and sorted in a fixed three queries."""
    variant_count = (
        select(func.count(Variant.id)).where(Variant.product_id == Product.id).scalar_subquery()
    )
    stock_total = (
        select(func.coalesce(func.sum(Variant.stock), 0))
        .where(Variant.product_id == Product.id)
        .scalar_subquery()
    )
    stmt, rank = filtered_products(store, filters)
    order = {
        "newest": [Product.created_at.desc(), Product.id.desc()],
        "oldest": [Product.created_at.asc(), Product.id.asc()],
        "title": [func.lower(Product.title), Product.id],
        "price_low": [Product.min_price.asc(), Product.id],
        "price_high": [Product.max_price.desc(), Product.id],
        "relevance": [rank, Product.id.desc()],
    }[filters.sort]
    return paginate(
        stmt.with_only_columns(Product, variant_count, stock_total)
        .options(selectinload(Product.images))
        .order_by(*order),
        page,
        PAGE_SIZE,
        count=select(func.count()).select_from(stmt.subquery()),
    )


def bulk_update(products: list[Product], action: str) -> int:
    """Activate, archive or delete the given products (already loaded for the store)."""
    if action not in BULK_ACTIONS:
        raise CatalogError("action", gettext("Choose activate, archive or delete."))
    if not products:
        raise CatalogError("ids", gettext("Select at least one product."))
    for product in products:
        if action == "delete":
            delete_product(product, commit=False)
        else:
            set_status(product, "active" if action == "activate" else "archived")
    db.session.commit()
    return len(products)


# Products --------------------------------------------------------------------------------------


def set_status(product: Product, status: str) -> None:
    """Change the status; the first time a product goes active it is stamped published."""
    if status not in PRODUCT_STATUSES:
        raise CatalogError("status", gettext("Choose draft, active or archived."))
    product.status = status
    if status == "active" and product.published_at is None:
        product.published_at = utcnow()


def clean_faqs(entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """FAQ entries with blank rows dropped; refuses a question without answer and vice versa."""
    cleaned = []
    for question, answer in entries:
        question, answer = (question or "").strip(), (answer or "").strip()
        if not question and not answer:
            continue
        if not question or not answer:
            raise CatalogError(
                "faqs", gettext("Each FAQ entry needs both a question and an answer.")
            )
        if len(question) > 300 or len(answer) > 5000:
            raise CatalogError(
                "faqs",
                gettext(
                    "Keep questions under %(question)s and answers under %(answer)s characters.",
                    question=number(300),
                    answer=number(5000),
                ),
            )
        cleaned.append((question, answer))
    if len(cleaned) > MAX_FAQS:
        raise CatalogError(
            "faqs", gettext("A product can have at most %(max)s FAQ entries.", max=MAX_FAQS)
        )
    return cleaned


def check_slug(store: Store, wanted: str, *, exclude_product_id: int | None = None) -> str:
    """The slug a vendor typed, normalised; CatalogError if empty or another product has it."""
    slug = slugify(wanted or "")
    if not slug:
        raise CatalogError("slug", gettext("The URL handle needs at least one letter or digit."))
    clash = db.session.scalar(
        select(Product.id).where(
            Product.store_id == store.id,
            Product.slug == slug,
            Product.id != (exclude_product_id or 0),
        )
    )
    if clash:
        raise CatalogError(
            "slug", gettext("Another product already uses the URL handle “%(slug)s”.", slug=slug)
        )
    return slug


def update_product(
    product: Product,
    *,
    title: str,
    slug: str,
    description_md: str = "",
    tags: str = "",
    faqs: list[tuple[str, str]] | None = None,
    seo_title: str = "",
    seo_description: str = "",
    featured: bool = False,
    status: str = "draft",
    categories: list[Category] | None = None,
) -> None:
    """Apply the edit form to a product; an old slug is kept as a redirect. Doesn't commit."""
    store = db.session.get(Store, product.store_id)
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise CatalogError("title", gettext("A title needs 1 to 200 characters."))
    new_slug = check_slug(store, slug or title, exclude_product_id=product.id)
    if status not in PRODUCT_STATUSES:
        raise CatalogError("status", gettext("Choose draft, active or archived."))
    if len(description_md or "") > 50_000:
        raise CatalogError(
            "description_md",
            gettext("Keep the description under %(max)s characters.", max=number(50_000)),
        )
    if len(seo_title or "") > 70 or len(seo_description or "") > 170:
        raise CatalogError(
            "seo_title",
            gettext("Keep the SEO title to 70 and description to 170 characters."),
        )
    faq_rows = clean_faqs(faqs or [])
    for category in categories or []:
        if category.store_id != product.store_id:
            raise CatalogError("categories", gettext("That category belongs to another store."))

    if new_slug != product.slug:
        _record_old_slug(product, product.slug, new_slug)
        product.slug = new_slug
    product.title = title
    product.description_md = description_md or ""
    product.description_html = render_markdown(description_md or "")
    set_tags(product, tags)
    product.seo_title = (seo_title or "").strip()
    product.seo_description = (seo_description or "").strip()
    product.featured = bool(featured)
    set_status(product, status)
    product.faqs = [
        ProductFAQ(store_id=product.store_id, question=q, answer=a, position=i)
        for i, (q, a) in enumerate(faq_rows)
    ]
    wanted = {c.id for c in categories or []}
    product.category_links = [link for link in product.category_links if link.category_id in wanted]
    have = {link.category_id for link in product.category_links}
    for category_id in sorted(wanted - have):
        product.category_links.append(
            ProductCategory(store_id=product.store_id, category_id=category_id)
        )
    product.updated_at = utcnow()
    emit_product_updated(product)


def emit_product_updated(product: Product) -> None:
    """The `product.updated` webhook event (app/webhooks), in the editing transaction."""
    from app.webhooks.events import emit
    from app.webhooks.payloads import product_data

    emit(product.store_id, "product.updated", lambda: product_data(product))


def _record_old_slug(product: Product, old_slug: str, new_slug: str) -> None:
    # A live product's slug wins over any redirect that names it.
    db.session.execute(
        delete(ProductSlugRedirect).where(
            ProductSlugRedirect.store_id == product.store_id,
            ProductSlugRedirect.old_slug == new_slug,
        )
    )
    existing = db.session.scalar(
        select(ProductSlugRedirect).where(
            ProductSlugRedirect.store_id == product.store_id,
            ProductSlugRedirect.old_slug == old_slug,
        )
    )
    if existing is None:
        db.session.add(
            ProductSlugRedirect(store_id=product.store_id, product_id=product.id, old_slug=old_slug)
        )
    else:
        existing.product_id = product.id


def set_tags(product: Product, raw: str | list[str]) -> list[str]:
    """Replace the tags, keeping the ProductTag rows and `tags_text` in step."""
    tags = normalise_tags(raw or "")
    by_tag = {row.tag: row for row in product.tags}
    product.tags = [by_tag.get(t) or ProductTag(store_id=product.store_id, tag=t) for t in tags]
    product.tags_text = " ".join(tags)
    return tags


def copy_sku(store_id: int, sku: str, taken: set[str]) -> str:
    """`sku` with -COPY, -COPY2, ... appended: the first that no variant of the store has."""
    n = 1
    while True:
        suffix = "-COPY" if n == 1 else f"-COPY{n}"
        candidate = sku[: 64 - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1


def duplicate_product(product: Product) -> Product:
    """A draft copy of a product: variants (new SKUs), tags, FAQ, categories and images."""
    store = db.session.get(Store, product.store_id)
    taken = set(db.session.scalars(select(Variant.sku).where(Variant.store_id == store.id)))
    title = product.title if len(product.title) > 193 else f"{product.title} (copy)"
    copy = Product(
        store_id=store.id,
        title=title,
        slug=unique_slug(store, f"{product.slug}-copy"),
        status="draft",
        description_md=product.description_md,
        description_html=product.description_html,
        tags_text=product.tags_text,
        seo_title=product.seo_title,
        seo_description=product.seo_description,
        featured=product.featured,
        option1_name=product.option1_name,
        option2_name=product.option2_name,
        option3_name=product.option3_name,
    )
    for variant in product.variants:
        sku = copy_sku(store.id, variant.sku, taken)
        taken.add(sku)
        copy.variants.append(
            Variant(
                store_id=store.id,
                sku=sku,
                option1=variant.option1,
                option2=variant.option2,
                option3=variant.option3,
                price=variant.price,
                compare_at_price=variant.compare_at_price,
                weight_grams=variant.weight_grams,
                stock=0,  # stock is physical: a copy starts with none
                track_inventory=variant.track_inventory,
                position=variant.position,
            )
        )
    copy.tags = [ProductTag(store_id=store.id, tag=t.tag) for t in product.tags]
    copy.faqs = [
        ProductFAQ(store_id=store.id, question=f.question, answer=f.answer, position=f.position)
        for f in product.faqs
    ]
    copy.category_links = [
        ProductCategory(store_id=store.id, category_id=link.category_id)
        for link in product.category_links
    ]
    storage = get_storage()
    for image in product.images:
        key = f"{store.id}/{secrets.token_hex(16)}"
        for name in ["original", *(f"{size}.webp" for size in SIZES)]:
            if storage.exists(f"{image.key}/{name}"):
                storage.save(f"{key}/{name}", storage.read(f"{image.key}/{name}"))
        copy.images.append(
            ProductImage(
                store_id=store.id,
                key=key,
                alt=image.alt,
                position=image.position,
                status=image.status,
                width=image.width,
                height=image.height,
                error=image.error,
            )
        )
    refresh_summary(copy)
    db.session.add(copy)
    db.session.flush()
    return copy


def delete_product(product: Product, *, commit: bool = True) -> None:
    """Delete a product with everything it owns, and its image files."""
    keys = [image.key for image in product.images]
    db.session.delete(product)
    if commit:
        db.session.commit()
    storage = get_storage()
    for key in keys:
        storage.delete_prefix(key)


# Options and variants --------------------------------------------------------------------------


def parse_option_values(raw: str) -> list[str]:
    """Comma-separated option values, trimmed and de-duplicated (case-insensitively)."""
    values: list[str] = []
    for item in (raw or "").split(","):
        value = re.sub(r"\s+", " ", item).strip()[:60]
        if value and value.lower() not in (v.lower() for v in values):
            values.append(value)
    return values


def set_options(product: Product, options: list[tuple[str, str | list[str]]]) -> dict:
    """Set up to three options and make one variant per combination of their values.

    A variant whose values still exist is kept; one that agrees with a new combination on every
    option the two share (an option was added or removed) is reused for it, keeping its SKU,
    price and stock; the rest are deleted and new combinations get a generated SKU and the
    product's lowest price. Returns counts of kept, added and removed variants. Doesn't commit.
    """
    named: list[tuple[str, list[str]]] = []
    for name, values in options:
        name = re.sub(r"\s+", " ", name or "").strip()[:40]
        values = parse_option_values(values) if isinstance(values, str) else values
        if not name and not values:
            continue
        if not name:
            raise CatalogError(
                "options", gettext("Give every option a name, such as Size or Colour.")
            )
        if not values:
            raise CatalogError(
                "options", gettext("Give the option “%(name)s” at least one value.", name=name)
            )
        if len(values) > MAX_OPTION_VALUES:
            raise CatalogError(
                "options",
                gettext("An option can have at most %(max)s values.", max=MAX_OPTION_VALUES),
            )
        named.append((name, values))
    if len(named) > MAX_OPTIONS:
        raise CatalogError("options", gettext("Use up to %(max)s options.", max=MAX_OPTIONS))
    names = [n for n, _ in named]
    if len({n.lower() for n in names}) != len(names):
        raise CatalogError("options", gettext("Each option needs its own name."))
    combos = list(itertools.product(*(values for _, values in named)))
    if len(combos) > MAX_VARIANTS:
        raise CatalogError(
            "options",
            gettext(
                "That makes %(count)s combinations; a product can have at most %(max)s.",
                count=number(len(combos)),
                max=number(MAX_VARIANTS),
            ),
        )

    old_names = product.option_names
    old = {v.id: dict(zip(old_names, v.options, strict=False)) for v in product.variants}
    by_id = {v.id: v for v in product.variants}
    wanted = [dict(zip(names, combo, strict=True)) for combo in combos]
    assigned: dict[int, int] = {}  # index into `wanted` -> variant id
    free = list(by_id)
    for index, values in enumerate(wanted):
        match = next((vid for vid in free if old[vid] == values), None)
        if match is not None:
            assigned[index] = match
            free.remove(match)
    for index, values in enumerate(wanted):
        if index in assigned:
            continue
        match = next(
            (
                vid
                for vid in free
                if all(values[k] == old[vid][k] for k in values.keys() & old[vid].keys())
            ),
            None,
        )
        if match is not None:
            assigned[index] = match
            free.remove(match)

    store_id = product.store_id
    taken = set(db.session.scalars(select(Variant.sku).where(Variant.store_id == store_id)))
    base_price = min((v.price for v in product.variants), default=0)
    base_sku = (slugify(product.title) or "item").upper()[:30]
    kept = [by_id[vid] for vid in assigned.values()]
    removed = [by_id[vid] for vid in free]
    variants: list[Variant] = []
    for index, combo in enumerate(combos):
        padded = [*combo, None, None, None]
        if index in assigned:
            variant = by_id[assigned[index]]
        else:
            sku = generated_sku(base_sku, combo, taken)
            taken.add(sku)
            variant = Variant(store_id=store_id, sku=sku, price=base_price, stock=0)
        variant.option1, variant.option2, variant.option3 = padded[:3]
        variant.position = index
        variants.append(variant)
    product.option1_name, product.option2_name, product.option3_name = [*names, None, None, None][
        :3
    ]
    # Deletions go first so a reused combination never meets its old row on a unique index.
    for variant in removed:
        db.session.delete(variant)
    db.session.flush()
    product.variants = variants
    refresh_summary(product)
    product.updated_at = utcnow()
    return {"kept": len(kept), "added": len(variants) - len(kept), "removed": len(removed)}


def generated_sku(base: str, combo: tuple[str, ...], taken: set[str]) -> str:
    """e.g. "LINEN-SHIRT-M-RED", with -2, -3... if the store already has it."""
    parts = [base, *(slugify(v).upper()[:12] or "X" for v in combo)]
    sku = "-".join(p for p in parts if p)[:60]
    candidate, n = sku, 2
    while candidate in taken:
        candidate = f"{sku}-{n}"
        n += 1
    return candidate


@dataclass
class VariantInput:
    """A variant row as typed in the dashboard: text, parsed by `update_variant`."""

    sku: str
    price: str
    compare_at_price: str = ""
    weight_grams: str = ""
    stock: str = ""
    track_inventory: bool = True


def parse_prices(price, compare_at_price, currency: str, parsed: dict, errors: dict) -> None:
    """A variant's price and compare-at price as typed, into `parsed` (minor units) or `errors`
    (by field): the one rule for the variant form and the variant grid. The compare-at price is
    optional and must be higher than the price."""
    try:
        parsed["price"] = parse_amount(price, currency)
    except AmountError as exc:
        errors["price"] = exc.message
    try:
        parsed["compare_at_price"] = parse_amount(
            compare_at_price,
            currency,
            field="compare_at_price",
            label=gettext("The compare-at price"),
            blank=None,
        )
    except AmountError as exc:
        errors["compare_at_price"] = exc.message
    if (
        "price" in parsed
        and parsed.get("compare_at_price") is not None
        and parsed["compare_at_price"] <= parsed["price"]
    ):
        errors["compare_at_price"] = gettext("The compare-at price must be higher than the price.")


def update_variant(variant: Variant, data: VariantInput, *, user_id: int | None = None) -> None:
    """Apply a variant row; errors come back together as {field: message}. Doesn't commit.

    A stock change is an `adjust` movement through `inventory.apply_movement` (the ledger row,
    the never-negative guard, the low-stock alert); a count that changed since it was read is
    refused on the stock field.
    """
    store = db.session.get(Store, variant.store_id)
    errors: dict[str, str] = {}
    parsed: dict = {}
    sku = (data.sku or "").strip()
    if not sku or len(sku) > 64 or any(not ch.isprintable() for ch in sku):
        errors["sku"] = gettext("A SKU needs 1 to 64 printable characters.")
    elif db.session.scalar(
        select(Variant.id).where(
            Variant.store_id == store.id, Variant.sku == sku, Variant.id != variant.id
        )
    ):
        errors["sku"] = gettext("The SKU %(sku)s is already used by another variant.", sku=sku)
    parsed["sku"] = sku
    for name, label, upper in (
        ("stock", gettext("Stock"), MAX_STOCK),
        ("weight_grams", gettext("Weight"), MAX_WEIGHT_GRAMS),
    ):
        try:
            parsed[name] = parse_whole(getattr(data, name), name, label, upper)
        except CatalogError as exc:
            errors[name] = exc.message
    parse_prices(data.price, data.compare_at_price, store.currency, parsed, errors)
    if errors:
        raise VariantErrors(errors)

    shown_stock = variant.stock
    variant.sku = parsed["sku"]
    variant.price = parsed["price"]
    variant.compare_at_price = parsed["compare_at_price"]
    variant.weight_grams = parsed["weight_grams"]
    variant.track_inventory = bool(data.track_inventory)
    if parsed["stock"] != shown_stock:
        try:
            apply_movement(
                variant.store_id,
                variant.id,
                parsed["stock"] - shown_stock,
                "adjust",
                reason="Edited in the product page",
                reference="adjust",
                user_id=user_id,
                expected_stock=shown_stock,
            )
        except StockChanged as exc:
            raise VariantErrors(
                {
                    "stock": gettext(
                        "The stock changed to %(stock)s meanwhile (an order or another edit). "
                        "Check it and save again.",
                        stock=number(exc.current),
                    )
                }
            ) from None
        db.session.refresh(variant, ["stock"])
    refresh_summary(variant.product)
    variant.product.updated_at = utcnow()
    emit_product_updated(variant.product)


class VariantErrors(CatalogError):
    """Several fields of a variant row were refused; `errors` maps each to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors)), " ".join(errors.values()))
        self.errors = errors


# Categories ------------------------------------------------------------------------------------


@dataclass
class CategoryNode:
    """A category with its depth and children, for showing the tree."""

    category: Category
    depth: int
    children: list["CategoryNode"]
    first: bool = False
    last: bool = False


def category_tree(store: Store) -> list[CategoryNode]:
    """The store's categories as a tree, siblings ordered by position (one query)."""
    rows = db.session.scalars(
        select(Category)
        .where(Category.store_id == store.id)
        .order_by(Category.position, Category.id)
    ).all()
    children: dict[int | None, list[Category]] = {}
    ids = {c.id for c in rows}
    for category in rows:
        parent = category.parent_id if category.parent_id in ids else None
        children.setdefault(parent, []).append(category)

    def build(parent_id, depth, seen):
        nodes = []
        siblings = children.get(parent_id, [])
        for i, category in enumerate(siblings):
            if category.id in seen:  # a cycle can't be made here, but never loop on one
                continue
            nodes.append(
                CategoryNode(
                    category,
                    depth,
                    build(category.id, depth + 1, seen | {category.id}),
                    first=i == 0,
                    last=i == len(siblings) - 1,
                )
            )
        return nodes

    return build(None, 0, frozenset())


def flatten(nodes: list[CategoryNode]) -> list[CategoryNode]:
    """The tree in display order, depth first."""
    out = []
    for node in nodes:
        out.append(node)
        out.extend(flatten(node.children))
    return out


def descendant_ids(category: Category) -> set[int]:
    """The ids of every category below `category`."""
    rows = db.session.execute(
        select(Category.id, Category.parent_id).where(Category.store_id == category.store_id)
    ).all()
    below: set[int] = set()
    frontier = {category.id}
    while frontier:
        frontier = {cid for cid, parent in rows if parent in frontier and cid not in below}
        below |= frontier
    return below


def _check_category(
    store: Store, name: str, slug: str, parent: Category | None, category: Category | None
) -> tuple[str, str]:
    name = re.sub(r"\s+", " ", name or "").strip()
    if not name or len(name) > 120:
        raise CatalogError("name", gettext("A category name needs 1 to 120 characters."))
    slug = slugify(slug or name, max_length=140)
    if not slug:
        raise CatalogError("slug", gettext("The URL handle needs at least one letter or digit."))
    clash = db.session.scalar(
        select(Category.id).where(
            Category.store_id == store.id,
            Category.slug == slug,
            Category.id != (category.id if category else 0),
        )
    )
    if clash:
        raise CatalogError(
            "slug", gettext("Another category already uses the URL handle “%(slug)s”.", slug=slug)
        )
    if parent is not None:
        if parent.store_id != store.id:
            raise CatalogError("parent_id", gettext("That category belongs to another store."))
        if category is not None and (
            parent.id == category.id or parent.id in descendant_ids(category)
        ):
            raise CatalogError(
                "parent_id", gettext("A category can't sit inside itself or its children.")
            )
    return name, slug


def _next_position(store_id: int, parent_id: int | None) -> int:
    return (
        db.session.scalar(
            select(func.coalesce(func.max(Category.position), -1)).where(
                Category.store_id == store_id,
                Category.parent_id.is_(None)
                if parent_id is None
                else Category.parent_id == parent_id,
            )
        )
        + 1
    )


def create_category(
    store: Store, *, name: str, slug: str = "", parent: Category | None = None, description=""
) -> Category:
    """A new category at the end of its parent's children. Doesn't commit."""
    name, slug = _check_category(store, name, slug, parent, None)
    category = Category(
        store_id=store.id,
        name=name,
        slug=slug,
        parent_id=parent.id if parent else None,
        description=(description or "").strip(),
        position=_next_position(store.id, parent.id if parent else None),
    )
    db.session.add(category)
    db.session.flush()
    return category


def update_category(
    category: Category, *, name: str, slug: str = "", parent: Category | None = None, description=""
) -> None:
    """Rename, re-slug or move a category (never under itself). Doesn't commit."""
    store = db.session.get(Store, category.store_id)
    name, slug = _check_category(store, name, slug, parent, category)
    new_parent_id = parent.id if parent else None
    if new_parent_id != category.parent_id:
        category.position = _next_position(store.id, new_parent_id)
        category.parent_id = new_parent_id
    category.name = name
    category.slug = slug
    category.description = (description or "").strip()


def delete_category(category: Category) -> None:
    """Delete a category; its children move up to its parent, after their new siblings."""
    position = _next_position(category.store_id, category.parent_id)
    children = db.session.scalars(
        select(Category)
        .where(Category.store_id == category.store_id, Category.parent_id == category.id)
        .order_by(Category.position, Category.id)
    ).all()
    for offset, child in enumerate(children):
        child.parent_id = category.parent_id
        child.position = position + offset
    db.session.flush()
    db.session.delete(category)


def move_category(category: Category, direction: str) -> bool:
    """Swap a category with its previous ("up") or next ("down") sibling; False at an end."""
    if direction not in ("up", "down"):
        raise CatalogError("direction", gettext("Move up or down."))
    siblings = db.session.scalars(
        select(Category)
        .where(
            Category.store_id == category.store_id,
            Category.parent_id.is_(None)
            if category.parent_id is None
            else Category.parent_id == category.parent_id,
        )
        .order_by(Category.position, Category.id)
    ).all()
    moved = _swap(siblings, category, direction)
    return moved


def _swap(items: list, item, direction: str) -> bool:
    index = items.index(item)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(items):
        return False
    items[index], items[other] = items[other], items[index]
    for position, row in enumerate(items):
        row.position = position
    return True


# Images ----------------------------------------------------------------------------------------


def check_upload(data: bytes) -> None:
    """Refuse what add_image would refuse, before anything of a batch is stored."""
    from app.catalog.images import MAX_IMAGE_BYTES, sniff_image_type

    if len(data) > MAX_IMAGE_BYTES:
        raise CatalogError(
            "images", gettext("Images can be at most %(mb)s MB.", mb=MAX_IMAGE_BYTES // 2**20)
        )
    if sniff_image_type(data) is None:
        raise CatalogError("images", gettext("Upload a JPEG, PNG or WebP image."))


def move_image(image: ProductImage, direction: str) -> bool:
    """Swap an image with its neighbour; the first image is the product's main picture."""
    if direction not in ("up", "down"):
        raise CatalogError("direction", gettext("Move up or down."))
    return _swap(list(image.product.images), image, direction)


MAX_ALT = 200


class AltTextErrors(CatalogError):
    """Image descriptions were refused; `errors` maps each image id to its message."""

    def __init__(self, errors: dict[int, str]):
        super().__init__("alt", " ".join(errors.values()))
        self.errors = errors


def set_image_alts(product: Product, alts: dict[int, str]) -> None:
    """The descriptions of several of the product's images, saved with the product form: all
    or none (AltTextErrors names every one refused). Ids of other products' images are ignored."""
    cleaned: dict[int, str] = {}
    errors: dict[int, str] = {}
    for image in product.images:
        if image.id not in alts:
            continue
        alt = re.sub(r"\s+", " ", alts[image.id] or "").strip()
        if len(alt) > MAX_ALT:
            errors[image.id] = gettext(
                "Keep the description to %(max)s characters (%(now)s now).",
                max=MAX_ALT,
                now=number(len(alt)),
            )
        cleaned[image.id] = alt
    if errors:
        raise AltTextErrors(errors)
    for image in product.images:
        if image.id in cleaned:
            image.alt = cleaned[image.id]


def set_image_alt(image: ProductImage, alt: str) -> None:
    """The image's description for screen readers and search engines."""
    alt = re.sub(r"\s+", " ", alt or "").strip()
    if len(alt) > MAX_ALT:
        raise CatalogError(
            "alt", gettext("Keep the description to %(max)s characters.", max=MAX_ALT)
        )
    image.alt = alt


def delete_image(image: ProductImage) -> None:
    """Delete an image row and its files; the others close the gap. Commits."""
    product = image.product
    key = image.key
    product.images.remove(image)
    for position, other in enumerate(product.images):
        other.position = position
    db.session.commit()
    get_storage().delete_prefix(key)
