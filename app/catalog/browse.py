"""What shoppers see of a catalog: listings with filters, search, product pages, cross-store search.

Plain functions that take the store explicitly. Only active products are ever returned, and
every listing runs a fixed number of queries whatever its size: the page of products, then one
query each for their variants, categories and first images.
"""

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import urlencode

from babel.numbers import NumberFormatError, get_currency_precision, parse_decimal
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from app.catalog.cache import cached
from app.catalog.models import (
    Category,
    Product,
    ProductCategory,
    ProductImage,
    ProductSlugRedirect,
    ProductTag,
    Variant,
)
from app.catalog.search import apply_search, search_terms
from app.catalog.service import MAX_PRICE
from app.catalog.text import normalise_tags, plain_text
from app.extensions import db
from app.money import to_decimal
from tenants.models import Store
from tenants.query import get_for_store, scoped_select

PAGE_SIZE = 24
COUNT_CAP = 10_000
PROBE = 1_000  # matches listed by id in one query before counting separately
MAX_PAGE = 10_000  # beyond any real catalog; keeps OFFSET arithmetic sane for junk input
SUGGEST_LIMIT = 8
RELATED_LIMIT = 4
HOME_LIMIT = 8
SORTS = {
    "relevance": "Best match",
    "newest": "Newest",
    "price-asc": "Price: low to high",
    "price-desc": "Price: high to low",
}
# Bounds on the "did you mean" vocabulary, so a store with huge tag lists stays cheap.
VOCABULARY_TAGS = 500
VOCABULARY_CATEGORIES = 200
FILTER_TAGS = 40


@dataclass
class Card:
    """A product as a listing shows it: its first image and the price it leads with."""

    product: Product
    image: ProductImage | None

    @property
    def lead_variant(self) -> Variant | None:
        """The cheapest variant (its compare-at price is the one struck through)."""
        return min(self.product.variants, key=lambda v: (v.price, v.position, v.id), default=None)

    @property
    def compare_at(self) -> int | None:
        lead = self.lead_variant
        return lead.compare_at_price if lead is not None and lead.discount_percent else None

    @property
    def discount(self) -> int | None:
        """The best saving among the variants, in whole percent."""
        savings = [v.discount_percent for v in self.product.variants if v.discount_percent]
        return max(savings, default=None)

    @property
    def category(self) -> Category | None:
        return self.product.categories[0] if self.product.categories else None


@dataclass
class Filters:
    """A listing's filters as the shopper gave them, already made safe."""

    q: str = ""
    category: str = ""
    min_price: str = ""
    max_price: str = ""
    in_stock: bool = False
    tag: str = ""
    sort: str = ""
    page: int = 1

    def as_args(self, **changes) -> dict[str, str]:
        """The non-empty filters as query arguments (for links that change one of them)."""
        values = {
            "q": self.q,
            "category": self.category,
            "min": self.min_price,
            "max": self.max_price,
            "in_stock": "1" if self.in_stock else "",
            "tag": self.tag,
            "sort": self.sort,
            "page": str(self.page) if self.page > 1 else "",
        }
        values.update({k: (str(v) if v is not None else "") for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}

    def url(self, path: str, **changes) -> str:
        """`path` with these filters (and `changes`) as its query string."""
        args = self.as_args(**changes)
        return f"{path}?{urlencode(args)}" if args else path


@dataclass
class Listing:
    """One page of products and what is needed to draw its pagination."""

    cards: list[Card]
    total: int
    page: int
    pages: int
    page_size: int
    sort: str
    category: Category | None = None
    suggestions: list[str] = field(default_factory=list)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * self.page_size, self.total)

    @property
    def capped(self) -> bool:
        """True when there are more matches than were counted (shown as "10,000+")."""
        return self.total > COUNT_CAP


def clean(value, limit: int) -> str:
    """User text made safe to compare in SQL: a string, bounded, without NUL (PostgreSQL
    refuses NUL in text parameters; no slug, tag or name contains one)."""
    return value.replace("\x00", "")[:limit] if isinstance(value, str) else ""


def parse_page(raw) -> int:
    """A page number from user input: anything that isn't a positive integer is page 1."""
    try:
        page = int(str(raw).strip()[:12])
    except (TypeError, ValueError):
        return 1
    return min(max(page, 1), MAX_PAGE)


def parse_filters(args: Mapping) -> Filters:
    """Filters from query arguments; unknown or malformed values are dropped, never an error."""

    def text(name: str, limit: int) -> str:
        return clean(args.get(name), limit).strip()

    sort = text("sort", 20)
    return Filters(
        q=text("q", 2000),
        category=text("category", 140),
        min_price=text("min", 20),
        max_price=text("max", 20),
        in_stock=text("in_stock", 5).lower() in ("1", "on", "true", "yes"),
        tag=text("tag", 60),
        sort=sort if sort in SORTS else "",
        page=parse_page(args.get("page", 1)),
    )


def to_minor_units(raw: str | None, store: Store) -> int | None:
    """A price typed in major units ("12.50", or "12,50" / "1.500.000" in the store's locale)
    as minor units of the store's currency; None when empty or not a sensible amount."""
    raw = (raw or "").strip()[:20]
    if not raw:
        return None
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        try:
            amount = parse_decimal(raw, locale=store.locale)
        except (NumberFormatError, ValueError):
            return None
    if not amount.is_finite() or amount < 0:
        return None
    if amount >= MAX_PRICE:  # before scaling, so "1e999999" can't overflow the context
        return MAX_PRICE
    minor = (amount.scaleb(get_currency_precision(store.currency))).to_integral_value(ROUND_HALF_UP)
    return int(min(minor, MAX_PRICE))


def major_units(amount_minor: int, currency: str) -> str:
    """Minor units as a plain decimal string in major units ("19.99"), as schema.org wants."""
    return str(to_decimal(amount_minor, currency))


def active_products(store: Store) -> Select:
    """The store's products a shopper may see."""
    return scoped_select(Product, store).where(Product.status == "active")


def find_category(store: Store, slug: str | None) -> Category | None:
    """The store's category with this slug."""
    if not slug:
        return None
    return db.session.scalar(
        scoped_select(Category, store).where(Category.slug == clean(slug, 140))
    )


def top_categories(store: Store) -> list[Category]:
    """The store's top-level categories, in the vendor's order."""
    return db.session.scalars(
        scoped_select(Category, store)
        .where(Category.parent_id.is_(None))
        .order_by(Category.position, Category.name, Category.id)
    ).all()


def all_categories(store: Store) -> list[Category]:
    """Every category of the store, parents before their children (for a filter's menu)."""
    rows = db.session.scalars(
        scoped_select(Category, store).order_by(Category.position, Category.name, Category.id)
    ).all()
    children: dict[int | None, list[Category]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    ordered: list[Category] = []
    seen: set[int] = set()

    def walk(parent_id, depth):
        for row in children.get(parent_id, []):
            if row.id in seen:  # a cycle in bad data must not loop forever
                continue
            seen.add(row.id)
            row.depth = depth  # for indenting the menu; not a column
            ordered.append(row)
            walk(row.id, depth + 1)

    walk(None, 0)
    known = {row.id for row in rows}
    for row in rows:  # a parent from another store or gone: show it at the top level
        if row.id not in seen and row.parent_id not in known:
            walk(row.parent_id, 0)
    return ordered


def child_categories(store: Store, category: Category) -> list[Category]:
    """The direct subcategories of `category`."""
    return db.session.scalars(
        scoped_select(Category, store)
        .where(Category.parent_id == category.id)
        .order_by(Category.position, Category.name, Category.id)
    ).all()


def descendant_ids(store: Store, category: Category) -> list[int]:
    """`category` and every category below it (one query over the store's tree)."""
    rows = db.session.execute(
        select(Category.id, Category.parent_id).where(Category.store_id == store.id)
    ).all()
    children: dict[int, list[int]] = {}
    for cat_id, parent_id in rows:
        if parent_id is not None:
            children.setdefault(parent_id, []).append(cat_id)
    found, todo = {category.id}, [category.id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return sorted(found)


def store_tags(store: Store, limit: int = FILTER_TAGS) -> list[str]:
    """The tags most used on the store's active products, alphabetically (cached per store)."""
    return cached(store.id, f"tags:{limit}", lambda: _store_tags(store, limit))


def _store_tags(store: Store, limit: int) -> list[str]:
    count = func.count(ProductTag.id)
    rows = db.session.execute(
        select(ProductTag.tag, count)
        .join(Product, Product.id == ProductTag.product_id)
        .where(ProductTag.store_id == store.id, Product.status == "active")
        .group_by(ProductTag.tag)
        .order_by(count.desc(), ProductTag.tag)
        .limit(limit)
    ).all()
    return sorted(tag for tag, _ in rows)


def card_options():
    """Loader options that give a product everything its card shows, in one query each."""
    return (selectinload(Product.variants), selectinload(Product.categories))


def first_images(products: list[Product]) -> dict[int, ProductImage]:
    """Each product's first usable image (failed uploads skipped), in one query."""
    if not products:
        return {}
    ids = [p.id for p in products]
    row_number = (
        func.row_number()
        .over(
            partition_by=ProductImage.product_id,
            order_by=(ProductImage.position, ProductImage.id),
        )
        .label("n")
    )
    ranked = (
        select(ProductImage.id, row_number)
        .where(
            ProductImage.store_id.in_({p.store_id for p in products}),
            ProductImage.product_id.in_(ids),
            ProductImage.status != "failed",
        )
        .subquery()
    )
    images = db.session.scalars(
        select(ProductImage).join(ranked, ranked.c.id == ProductImage.id).where(ranked.c.n == 1)
    ).all()
    return {image.product_id: image for image in images}


def cards(products: list[Product]) -> list[Card]:
    """Cards for products loaded with `card_options()`."""
    images = first_images(products)
    return [Card(product=p, image=images.get(p.id)) for p in products]


def _card_query(stmt: Select, limit: int) -> list[Card]:
    products = db.session.scalars(stmt.options(*card_options()).limit(limit)).all()
    return cards(list(products))


def list_products(
    store: Store,
    *,
    q: str | None = None,
    category: Category | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
    in_stock: bool = False,
    tag: str | None = None,
    sort: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Listing:
    """One page of the store's active products matching the filters.

    Prices are minor units. `sort` is "newest", "price-asc", "price-desc" or "relevance" (the
    default when `q` has words to search for); a page past the end shows the last page.
    """
    stmt = active_products(store)
    if category is not None:
        in_tree = select(ProductCategory.product_id).where(
            ProductCategory.store_id == store.id,
            ProductCategory.category_id.in_(descendant_ids(store, category)),
        )
        stmt = stmt.where(Product.id.in_(in_tree))
    if min_price is not None and max_price is not None and min_price > max_price:
        min_price, max_price = max_price, min_price
    if min_price is not None:
        stmt = stmt.where(Product.min_price >= min_price)
    if max_price is not None:
        stmt = stmt.where(Product.min_price <= max_price)
    if in_stock:
        stmt = stmt.where(Product.in_stock.is_(True))
    tags = normalise_tags([tag or ""])
    if tags:
        tagged = select(ProductTag.product_id).where(
            ProductTag.store_id == store.id, ProductTag.tag == tags[0]
        )
        stmt = stmt.where(Product.id.in_(tagged))
    stmt, rank = apply_search(stmt, q)
    sort = resolve_sort(sort, searching=rank is not None)

    order = {
        "newest": (Product.created_at.desc(), Product.id.desc()),
        "price-asc": (Product.min_price.asc(), Product.id.desc()),
        "price-desc": (Product.min_price.desc(), Product.id.desc()),
        "relevance": (rank, Product.created_at.desc(), Product.id.desc()),
    }[sort]
    # The first PROBE matches' ids, in order: for a narrow filter that is every match, so the
    # count and the page come from this one query instead of a count plus an ordered walk.
    probed = db.session.scalars(
        stmt.with_only_columns(Product.id).order_by(*order).limit(PROBE + 1)
    ).all()
    total = len(probed) if len(probed) <= PROBE else count_capped(stmt)
    pages = max(1, math.ceil(total / page_size))
    page = min(max(parse_page(page), 1), pages)
    start = (page - 1) * page_size
    if start + page_size <= len(probed) or len(probed) <= PROBE:
        page_ids = probed[start : start + page_size]
        loaded = (
            db.session.scalars(
                select(Product)
                .where(Product.store_id == store.id, Product.id.in_(page_ids))
                .options(*card_options())
            ).all()
            if page_ids
            else []
        )
        by_id = {product.id: product for product in loaded}
        found = [by_id[i] for i in page_ids if i in by_id]
    else:
        found = db.session.scalars(
            stmt.order_by(*order).options(*card_options()).limit(page_size).offset(start)
        ).all()
    return Listing(
        cards=cards(list(found)),
        total=total,
        page=page,
        pages=pages,
        page_size=page_size,
        sort=sort,
        category=category,
    )


def count_capped(stmt: Select) -> int:
    """How many rows `stmt` matches, counting at most COUNT_CAP (+1 to know there are more).

    Counting every match of a broad filter grows with the catalog; past the cap the pages say
    "10,000+" and nobody pages that far.
    """
    ids = stmt.order_by(None).with_only_columns(Product.id).limit(COUNT_CAP + 1)
    return db.session.scalar(select(func.count()).select_from(ids.subquery()))


def resolve_sort(sort: str | None, *, searching: bool) -> str:
    """The sort to use: relevance only makes sense (and is the default) when searching."""
    if sort not in SORTS or (sort == "relevance" and not searching):
        return "relevance" if searching else "newest"
    return sort


def browse(store: Store, filters: Filters, *, category: Category | None = None) -> Listing:
    """`list_products` for filters as a shopper entered them (prices in major units)."""
    if category is None and filters.category:
        category = find_category(store, filters.category)
    listing = list_products(
        store,
        q=filters.q,
        category=category,
        min_price=to_minor_units(filters.min_price, store),
        max_price=to_minor_units(filters.max_price, store),
        in_stock=filters.in_stock,
        tag=filters.tag,
        sort=filters.sort,
        page=filters.page,
    )
    if not listing.total and filters.q:
        listing.suggestions = suggest_words(store, filters.q)
    return listing


def suggest_words(store: Store, query: str | None, limit: int = 5) -> list[str]:
    """Close matches for a query that found nothing, among the store's tags and category names."""
    terms = search_terms(query)
    if not terms:
        return []
    tags = db.session.scalars(
        select(ProductTag.tag)
        .join(Product, Product.id == ProductTag.product_id)
        .where(ProductTag.store_id == store.id, Product.status == "active")
        .distinct()
        .order_by(ProductTag.tag)
        .limit(VOCABULARY_TAGS)
    ).all()
    names = db.session.scalars(
        scoped_select(Category, store)
        .with_only_columns(Category.name)
        .order_by(Category.position, Category.id)
        .limit(VOCABULARY_CATEGORIES)
    ).all()
    vocabulary: dict[str, str] = {}
    for word in [*tags, *names]:
        vocabulary.setdefault(word.lower(), word)
        for part in search_terms(word):  # "Coffee Beans" also offers "beans"
            vocabulary.setdefault(part, part)
    phrase = " ".join(terms)
    found: list[str] = []
    for needle in [phrase, *terms]:
        for match in difflib.get_close_matches(needle, list(vocabulary), n=limit, cutoff=0.7):
            word = vocabulary[match]
            if word.lower() != phrase and word not in found:
                found.append(word)
    return found[:limit]


def suggest_products(store: Store, query: str | None, limit: int = SUGGEST_LIMIT) -> list[Card]:
    """The best few matches for a live search box; nothing for a query without words."""
    stmt, rank = apply_search(active_products(store), query)
    if rank is None:
        return []
    return _card_query(stmt.order_by(rank, Product.id.desc()), limit)


def featured_products(store: Store, limit: int = HOME_LIMIT) -> list[Card]:
    """Products the vendor features on the home page, newest first."""
    stmt = active_products(store).where(Product.featured.is_(True))
    return _card_query(stmt.order_by(Product.created_at.desc(), Product.id.desc()), limit)


def newest_products(store: Store, limit: int = HOME_LIMIT) -> list[Card]:
    """The store's latest active products."""
    stmt = active_products(store).order_by(Product.created_at.desc(), Product.id.desc())
    return _card_query(stmt, limit)


def get_product(store: Store, slug: str) -> Product | None:
    """The store's active product with this slug, with everything its page shows."""
    return db.session.scalar(
        active_products(store)
        .where(Product.slug == clean(slug, 220))
        .options(
            selectinload(Product.variants),
            selectinload(Product.images),
            selectinload(Product.faqs),
            selectinload(Product.categories),
            selectinload(Product.tags),
        )
    )


def redirected_slug(store: Store, slug: str) -> str | None:
    """The current slug of an active product that used to be at `slug`, if any."""
    redirect = db.session.scalar(
        scoped_select(ProductSlugRedirect, store).where(
            ProductSlugRedirect.old_slug == clean(slug, 220)
        )
    )
    if redirect is None:
        return None
    return db.session.scalar(
        active_products(store)
        .where(Product.id == redirect.product_id)
        .with_only_columns(Product.slug)
    )


def related_products(store: Store, product: Product, limit: int = RELATED_LIMIT) -> list[Card]:
    """Other active products sharing a category with `product`, newest first."""
    category_ids = [c.id for c in product.categories]
    if not category_ids:
        return []
    shared = select(ProductCategory.product_id).where(
        ProductCategory.store_id == store.id, ProductCategory.category_id.in_(category_ids)
    )
    stmt = (
        active_products(store)
        .where(Product.id.in_(shared), Product.id != product.id)
        .order_by(Product.created_at.desc(), Product.id.desc())
    )
    return _card_query(stmt, limit)


def option_values(product: Product) -> list[tuple[str, str, list[str]]]:
    """(field, name, values) per option, values in the order the variants list them."""
    result = []
    for index, name in enumerate(product.option_names, start=1):
        values: list[str] = []
        for variant in product.variants:
            value = getattr(variant, f"option{index}")
            if value and value not in values:
                values.append(value)
        result.append((f"option{index}", name, values))
    return result


def default_variant(product: Product) -> Variant | None:
    """The variant a product page opens with: the first one in stock, else the first."""
    return next((v for v in product.variants if v.available), None) or next(
        iter(product.variants), None
    )


def find_variant(store: Store, product: Product, args: Mapping) -> Variant | None:
    """The variant chosen by `variant=<id>` or by option values; None if there is no such one.

    A variant id of another product, or of another store, finds nothing.
    """
    if args.get("variant"):
        variant = get_for_store(Variant, args.get("variant"), store)
        return variant if variant is not None and variant.product_id == product.id else None
    wanted = [(args.get(f"option{i}") or "")[:60] for i in range(1, len(product.option_names) + 1)]
    if not any(wanted):
        return default_variant(product)
    return next((v for v in product.variants if v.options == wanted), None)


def product_json_ld(store: Store, product: Product, variant: Variant | None, **urls) -> dict:
    """schema.org Product data for search engines (rendered with |tojson into the page)."""
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.title,
        "description": product.seo_description or plain_text(product.description_html)[:500],
        "url": urls.get("url"),
    }
    if urls.get("images"):
        data["image"] = urls["images"]
    if variant is not None:
        data["sku"] = variant.sku
        data["offers"] = {
            "@type": "Offer",
            "url": urls.get("url"),
            "sku": variant.sku,
            "price": major_units(variant.price, store.currency),
            "priceCurrency": store.currency,
            "availability": "https://schema.org/InStock"
            if variant.available
            else "https://schema.org/OutOfStock",
        }
    return data


@dataclass
class MarketHit:
    """A product found by the platform's search, with the store that sells it."""

    card: Card
    store: Store


@dataclass
class MarketResults:
    hits: list[MarketHit]
    total: int
    page: int
    pages: int


def search_marketplace(query: str | None, page: int = 1, page_size: int = PAGE_SIZE):
    """Active products of open stores matching `query`, best first, across every store."""
    stmt = (
        select(Product)
        .join(Store, Store.id == Product.store_id)
        .where(
            Product.status == "active",
            Store.status == "active",
            Store.deleted_at.is_(None),
            Store.published_at.is_not(None),
        )
    )
    stmt, rank = apply_search(stmt, query)
    if rank is None:
        return MarketResults(hits=[], total=0, page=1, pages=1)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    pages = max(1, math.ceil(total / page_size))
    page = min(max(parse_page(page), 1), pages)
    products = (
        db.session.scalars(
            stmt.order_by(rank, Product.id.desc())
            .options(*card_options())
            .limit(page_size)
            .offset((page - 1) * page_size)
        ).all()
        if total
        else []
    )
    stores = {
        s.id: s
        for s in db.session.scalars(
            select(Store).where(Store.id.in_({p.store_id for p in products}))
        )
    }
    hits = [MarketHit(card=c, store=stores[c.product.store_id]) for c in cards(list(products))]
    return MarketResults(hits=hits, total=total, page=page, pages=pages)
