"""What shoppers see of a catalog: listings with filters, search, product pages, cross-store search.

Plain functions that take the store explicitly. Only active products are ever returned, and
every listing runs a fixed number of queries whatever its size: the page of products' summary
columns (with their first category's name), then one query each for their variants' few columns
and their first images. Cards are built from plain rows, never from ORM objects.
"""

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask_babel import lazy_gettext
from sqlalchemy import Select, func, select, union_all
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
from app.catalog.text import normalise_tags, plain_text
from app.database import utcnow
from app.extensions import db
from app.i18n import format_locale
from app.inventory import holds
from app.money import format_amount, parse_filter_amount
from app.pagination import Page, locate, parse_page
from tenants.models import Store
from tenants.query import get_for_store, scoped_select

PAGE_SIZE = 24
COUNT_CAP = 10_000
PROBE = 1_000  # matches listed by id in one query before counting separately
SUGGEST_LIMIT = 8
RELATED_LIMIT = 4
RELATED_CATEGORIES = 5
RELATED_CANDIDATES = 24  # per category, newest by id
HOME_LIMIT = 8
MARKET_CANDIDATES = 240  # matches ranked by the platform search: 10 pages (search_marketplace)
SORTS = {
    "relevance": lazy_gettext("Best match"),
    "newest": lazy_gettext("Newest"),
    "price-asc": lazy_gettext("Price: low to high"),
    "price-desc": lazy_gettext("Price: high to low"),
}
# Bounds on the "did you mean" vocabulary, so a store with huge tag lists stays cheap.
VOCABULARY_TAGS = 500
VOCABULARY_CATEGORIES = 200
FILTER_TAGS = 40


@dataclass
class CardVariant:
    """The few columns of a variant that a card reads (a tuple, not an ORM object)."""

    id: int
    price: int
    compare_at_price: int | None
    position: int
    stock: int
    track_inventory: bool
    held_by_others: int = 0  # set by app.inventory.holds.available_for

    # The model's own rules, so a card and the product page can never disagree.
    available = Variant.available
    units_left = Variant.units_left
    discount_percent = Variant.discount_percent


@dataclass
class CardProduct:
    """A product's summary columns, as listings keep them on the product row."""

    id: int
    store_id: int
    title: str
    slug: str
    min_price: int
    max_price: int
    in_stock: bool
    variants: list[CardVariant] = field(default_factory=list)


@dataclass
class CardImage:
    """What a card needs of a product's first image: its storage key, alt text and status."""

    product_id: int
    key: str
    alt: str
    status: str


@dataclass
class CardCategory:
    """The name of the product's first category."""

    name: str


@dataclass
class Card:
    """A product as a listing shows it: its first image and the price it leads with."""

    product: CardProduct
    image: CardImage | None
    category: CardCategory | None = None

    @property
    def lead_variant(self) -> CardVariant | None:
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
class Listing(Page):
    """One page of products (its items are Cards), with the sort and category it was asked for."""

    sort: str = "newest"
    category: Category | None = None
    suggestions: list[str] = field(default_factory=list)

    @property
    def cards(self) -> list[Card]:
        return self.items

    @property
    def capped(self) -> bool:
        """True when there are more matches than were counted (shown as "10,000+")."""
        return self.total > COUNT_CAP


def clean(value, limit: int) -> str:
    """User text made safe to compare in SQL: a string, bounded, without NUL (PostgreSQL
    refuses NUL in text parameters; no slug, tag or name contains one)."""
    return value.replace("\x00", "")[:limit] if isinstance(value, str) else ""


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


def card_columns() -> tuple:
    """The product columns a card shows, and its first category's name (a scalar subquery
    on the product's category links, by primary key: no plan depends on statistics)."""
    first_category = (
        select(Category.name)
        .join(ProductCategory, ProductCategory.category_id == Category.id)
        .where(ProductCategory.product_id == Product.id)
        .order_by(Category.position, Category.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        Product.id,
        Product.store_id,
        Product.title,
        Product.slug,
        Product.min_price,
        Product.max_price,
        Product.in_stock,
        first_category.label("category_name"),
    )


def first_images(products: list[Product]) -> dict[int, ProductImage]:
    """Each product's first usable image (failed uploads skipped), in one query."""
    if not products:
        return {}
    ranked = _first_image_ids({p.store_id for p in products}, [p.id for p in products])
    images = db.session.scalars(
        select(ProductImage).join(ranked, ranked.c.id == ProductImage.id).where(ranked.c.n == 1)
    ).all()
    return {image.product_id: image for image in images}


def _first_image_ids(store_ids, product_ids):
    """A subquery of image ids numbered per product (n = 1: the first usable image)."""
    row_number = (
        func.row_number()
        .over(
            partition_by=ProductImage.product_id,
            order_by=(ProductImage.position, ProductImage.id),
        )
        .label("n")
    )
    stmt = select(ProductImage.id, row_number).where(
        ProductImage.product_id.in_(product_ids), ProductImage.status != "failed"
    )
    if store_ids is not None:
        stmt = stmt.where(ProductImage.store_id.in_(store_ids))
    return stmt.subquery()


def cards(rows) -> list[Card]:
    """Cards for rows of `card_columns()`, in their order: two more queries (the variants'
    few columns and the first images), as plain tuples rather than ORM objects."""
    products = [
        (
            CardProduct(
                id=r.id,
                store_id=r.store_id,
                title=r.title,
                slug=r.slug,
                min_price=r.min_price,
                max_price=r.max_price,
                in_stock=r.in_stock,
            ),
            r.category_name,
        )
        for r in rows
    ]
    if not products:
        return []
    by_id = {p.id: p for p, _ in products}
    ids = list(by_id)
    # By product id alone, so the product_id indexes serve these whatever the statistics say
    # (a store_id filter could tempt a planner without them into the store's whole index);
    # the ids come from a store-scoped query, and the store is checked on every row anyway.
    for v in db.session.execute(
        select(
            Variant.store_id,
            Variant.product_id,
            Variant.id,
            Variant.price,
            Variant.compare_at_price,
            Variant.position,
            Variant.stock,
            Variant.track_inventory,
            holds.held_by_others_column(),
        )
        .where(Variant.product_id.in_(ids))
        .order_by(Variant.product_id, Variant.position, Variant.id),
        {"now": utcnow()},
    ):
        if v.store_id == by_id[v.product_id].store_id:
            by_id[v.product_id].variants.append(CardVariant(*v[2:]))
    # When the first hold these cards counted runs out (a query only if something is held).
    holds.note_page_holds_of([v.id for p in by_id.values() for v in p.variants if v.held_by_others])
    for product in by_id.values():
        # Units held in shoppers' checkouts aren't for sale: a card whose every variant is
        # held shows as sold out (the listing's "in stock" filter still goes by stock on hand).
        if product.in_stock and product.variants:
            product.in_stock = any(v.available for v in product.variants)
    ranked = _first_image_ids(None, ids)
    images = {
        i.product_id: CardImage(*i[1:])
        for i in db.session.execute(
            select(
                ProductImage.store_id,
                ProductImage.product_id,
                ProductImage.key,
                ProductImage.alt,
                ProductImage.status,
            )
            .join(ranked, ranked.c.id == ProductImage.id)
            .where(ranked.c.n == 1)
        )
        if i.store_id == by_id[i.product_id].store_id
    }
    return [
        Card(
            product=p,
            image=images.get(p.id),
            category=CardCategory(name) if name is not None else None,
        )
        for p, name in products
    ]


def cards_by_id(store: Store, ids: list[int]) -> list[Card]:
    """Cards for the store's products with these ids, in the order given."""
    if not ids:
        return []
    rows = _rows_by_id(store, ids)
    by_id = {r.id: r for r in rows}
    return cards([by_id[i] for i in ids if i in by_id])


def _rows_by_id(store: Store, ids, *extra) -> list:
    """`card_columns()` (and `extra`) of the store's products with these ids.

    By primary key alone, the store checked on each row here: with `store_id = ?` in the SQL,
    a PostgreSQL without statistics on products walks the store's whole (store_id, ...) index.
    """
    rows = db.session.execute(
        select(*card_columns(), *extra).where(Product.id.in_(list(ids)))
    ).all()
    return [r for r in rows if r.store_id == store.id]


def _card_query(stmt: Select, limit: int) -> list[Card]:
    return cards(db.session.execute(stmt.with_only_columns(*card_columns()).limit(limit)).all())


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
    spot = locate(page, total, page_size)
    start = spot.offset
    if start + page_size <= len(probed) or len(probed) <= PROBE:
        found = cards_by_id(store, probed[start : start + page_size])
    else:
        found = cards(
            db.session.execute(
                stmt.with_only_columns(*card_columns())
                .order_by(*order)
                .limit(page_size)
                .offset(start)
            ).all()
        )
    return Listing(
        items=found,
        page=spot.page,
        per_page=page_size,
        total=total,
        requested=spot.requested,
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
    typed_in = format_locale(store.locale)  # "12,50" means 12.50 to a German-speaking shopper
    listing = list_products(
        store,
        q=filters.q,
        category=category,
        min_price=parse_filter_amount(filters.min_price, store.currency, typed_in),
        max_price=parse_filter_amount(filters.max_price, store.currency, typed_in),
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
    # By the (store_id, slug) unique key alone, the status checked afterwards: with the status
    # in the SQL too, a PostgreSQL without statistics picks a (store_id, status, ...) index and
    # walks every active product of the store.
    product = db.session.scalar(
        scoped_select(Product, store)
        .where(Product.slug == clean(slug, 220))
        .options(
            selectinload(Product.variants),
            selectinload(Product.images),
            selectinload(Product.faqs),
            selectinload(Product.categories),
            selectinload(Product.tags),
        )
    )
    if product is None or product.status != "active":
        return None
    # Every shopper sees the same page (it is cached): others' holds are what nobody can buy.
    holds.available_for(product.variants)
    return product


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
    """Active products sharing a category with `product`, newest first.

    The candidates are the RELATED_CANDIDATES most recently added products of each of the
    product's first RELATED_CATEGORIES categories, each read backwards from the covering
    index (store_id, category_id, product_id) with a LIMIT, then loaded by primary key: plans
    that need no statistics.
    A semi-join on the whole link table became a nested loop over every link of the store
    when PostgreSQL had no statistics yet (right after a seed or a bulk import).
    """
    category_ids = [c.id for c in product.categories][:RELATED_CATEGORIES]
    if not category_ids:
        return []
    per_category = [
        select(ProductCategory.product_id)
        .where(
            ProductCategory.store_id == store.id,
            ProductCategory.category_id == category_id,
            ProductCategory.product_id != product.id,
        )
        .order_by(ProductCategory.product_id.desc())
        .limit(RELATED_CANDIDATES)
        .subquery()
        for category_id in category_ids
    ]
    # The candidate ids first, in a query of their own: as a subquery a planner without
    # statistics drives it from the store's products and re-runs it for each one of them.
    candidates = set(
        db.session.scalars(union_all(*[select(ids.c.product_id) for ids in per_category]))
    )
    if not candidates:
        return []
    rows = [
        r
        for r in _rows_by_id(store, candidates, Product.status, Product.created_at)
        if r.status == "active"
    ]
    rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return cards(rows[:limit])


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
            "price": format_amount(variant.price, store.currency),
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


class MarketResults(Page):
    """A page of the platform's search results (its items are MarketHits)."""

    @property
    def hits(self) -> list[MarketHit]:
        return self.items

    @property
    def capped(self) -> bool:
        """True when there are more matches than were ranked (shown as "240+")."""
        return self.total > MARKET_CANDIDATES


def search_marketplace(query: str | None, page: int = 1, page_size: int = PAGE_SIZE):
    """Active products of open stores matching `query`, best first, across every store.

    Bounded whatever the platform holds: the first MARKET_CANDIDATES matches the text index
    yields are the candidates, ranked among themselves and counted ("240+"), so a common
    word among millions of products costs what a rare one does. Each candidate's text is
    checked once more by PostgreSQL (prefix matches need it), which is what the bound limits.
    """
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
        return MarketResults(items=[], page=1, per_page=page_size, total=0)
    candidates = stmt.with_only_columns(Product.id).limit(MARKET_CANDIDATES + 1)
    ids = list(db.session.scalars(candidates))
    total = len(ids)
    ids = ids[:MARKET_CANDIDATES]
    spot = locate(page, min(total, MARKET_CANDIDATES), page_size)
    found = (
        cards(
            db.session.execute(
                stmt.where(Product.id.in_(ids))
                .with_only_columns(*card_columns())
                .order_by(rank, Product.id.desc())
                .limit(page_size)
                .offset(spot.offset)
            ).all()
        )
        if ids
        else []
    )
    stores = (
        {
            s.id: s
            for s in db.session.scalars(
                select(Store).where(Store.id.in_({c.product.store_id for c in found}))
            )
        }
        if found
        else {}
    )
    hits = [MarketHit(card=c, store=stores[c.product.store_id]) for c in found]
    return MarketResults(
        items=hits, page=spot.page, per_page=page_size, total=total, requested=spot.requested
    )
