"""Shopper-side catalog rules called directly: filters, sorting, pages, query counts, search."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app import pagination
from app.catalog import browse
from app.catalog.models import Category, Product, ProductImage, Variant
from app.catalog.service import VariantData
from app.extensions import db
from app.money import parse_filter_amount
from tenants.models import Store
from tenants.provisioning import set_store_status
from tests.factories import make_category, make_image, make_product, make_store


def row(store):
    return db.session.get(Store, store.id)


def titles(listing) -> list[str]:
    return [card.product.title for card in listing.cards]


def priced(store, title, price, *, stock=5, **fields):
    """A one-variant product at `price` minor units."""
    sku = f"{title.upper().replace(' ', '-')}-{store.id}"
    return make_product(store, title, variants=[VariantData(sku, price, stock=stock)], **fields)


@contextmanager
def count_queries():
    """Counts the SQL statements run inside the block (`.count` afterwards)."""

    class Counter:
        count = 0
        statements: list[str] = []

    counter = Counter()

    def listener(conn, cursor, statement, parameters, context, executemany):
        counter.count += 1
        counter.statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def test_only_active_products_of_the_store_are_listed(app, store_a, store_b):
    priced(store_a, "Live One", 100)
    priced(store_a, "Draft One", 100, status="draft")
    priced(store_a, "Old One", 100, status="archived")
    priced(store_b, "Other Store One", 100)
    with app.app_context():
        listing = browse.list_products(row(store_a))
    assert titles(listing) == ["Live One"] and listing.total == 1


def test_category_filter_includes_every_descendant(app, store_a, store_b):
    clothes = make_category(store_a, "Clothes")
    tops = make_category(store_a, "Tops", parent=clothes)
    tees = make_category(store_a, "Tees", parent=tops)
    shoes = make_category(store_a, "Shoes")
    priced(store_a, "Jacket", 100, categories=[clothes])
    priced(store_a, "Blouse", 100, categories=[tops])
    priced(store_a, "Basic Tee", 100, categories=[tees])
    priced(store_a, "Sneaker", 100, categories=[shoes])
    other = make_category(store_b, "Clothes")
    priced(store_b, "Their Jacket", 100, categories=[other])
    with app.app_context():
        store = row(store_a)
        found = lambda slug: set(  # noqa: E731
            titles(browse.list_products(store, category=browse.find_category(store, slug)))
        )
        assert found("clothes") == {"Jacket", "Blouse", "Basic Tee"}
        assert found("tops") == {"Blouse", "Basic Tee"}
        assert found("tees") == {"Basic Tee"}
        assert browse.find_category(store, "nothing-here") is None
        # The same slug in another store is that store's category, never this one's.
        assert browse.find_category(row(store_b), "clothes").id == other.id
        menu = browse.all_categories(store)
        assert [(c.name, c.depth) for c in menu] == [
            ("Clothes", 0),
            ("Tops", 1),
            ("Tees", 2),
            ("Shoes", 0),
        ]


@pytest.mark.parametrize(
    ("raw", "currency", "locale", "minor"),
    [
        ("12.50", "USD", "en_US", 1250),
        ("12", "USD", "en_US", 1200),
        (" 0.015 ", "USD", "en_US", 2),
        ("12,50", "EUR", "de_DE", 1250),
        # A dot is a decimal point first (number inputs send one), a locale's grouping after.
        ("1.500", "EUR", "de_DE", 150),
        ("1.500.000", "IDR", "id_ID", 150_000_000),
        ("1500", "JPY", "ja_JP", 1500),
        ("", "USD", "en_US", None),
        ("abc", "USD", "en_US", None),
        ("-5", "USD", "en_US", None),
        ("NaN", "USD", "en_US", None),
        ("sNaN", "USD", "en_US", None),
        ("Infinity", "USD", "en_US", None),
        ("1e999999", "USD", "en_US", 2_000_000_000),
        ("1e-999999", "USD", "en_US", 0),
    ],
)
def test_prices_typed_in_major_units_become_minor_units(raw, currency, locale, minor):
    assert parse_filter_amount(raw, currency, locale) == minor


def test_price_stock_and_tag_filters(app, store_a):
    priced(store_a, "Cheap", 500, tags="Summer, cotton")
    priced(store_a, "Middle", 1500, stock=0, tags="summer")
    priced(store_a, "Dear", 5000, tags="wool")
    with app.app_context():
        store = row(store_a)
        listed = lambda **kw: set(titles(browse.list_products(store, **kw)))  # noqa: E731
        assert listed(min_price=1000) == {"Middle", "Dear"}
        assert listed(max_price=1500) == {"Cheap", "Middle"}
        assert listed(min_price=1000, max_price=2000) == {"Middle"}
        assert listed(min_price=2000, max_price=1000) == {"Middle"}  # swapped, not empty
        assert listed(in_stock=True) == {"Cheap", "Dear"}
        assert listed(tag="  SUMMER ") == {"Cheap", "Middle"}
        assert listed(tag="nothing") == set()
        filters = browse.parse_filters({"min": "10", "max": "20.00", "in_stock": "1"})
        assert titles(browse.browse(store, filters)) == []
        filters = browse.parse_filters({"min": "1", "max": "20", "tag": "summer"})
        assert set(titles(browse.browse(store, filters))) == {"Cheap", "Middle"}


def test_sorts_and_relevance_by_default_when_searching(app, store_a):
    priced(store_a, "Teapot Classic", 3000)
    priced(store_a, "Cup", 1000, tags="teapot")
    priced(store_a, "Saucer", 2000)
    with app.app_context():
        store = row(store_a)
        assert titles(browse.list_products(store)) == ["Saucer", "Cup", "Teapot Classic"]
        assert titles(browse.list_products(store, sort="price-asc")) == [
            "Cup",
            "Saucer",
            "Teapot Classic",
        ]
        assert titles(browse.list_products(store, sort="price-desc"))[0] == "Teapot Classic"
        searched = browse.list_products(store, q="teapot")
        assert searched.sort == "relevance"
        assert titles(searched) == ["Teapot Classic", "Cup"]
        by_price = browse.list_products(store, q="teapot", sort="price-asc")
        assert titles(by_price) == ["Cup", "Teapot Classic"]
        # Relevance without a query means nothing: newest instead; junk sorts too.
        assert browse.list_products(store, sort="relevance").sort == "newest"
        assert browse.list_products(store, sort="; DROP TABLE").sort == "newest"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0, 1), (-3, 1), ("abc", 1), ("", 1), (None, 1), ("2", 2), (3, 3), (99, 3), ("1e9", 1)],
)
def test_bad_page_numbers_clamp_to_a_real_page(app, store_a, raw, expected):
    for n in range(7):
        priced(store_a, f"Item {n}", 100 + n)
    with app.app_context():
        listing = browse.list_products(row(store_a), page=raw, page_size=3)
    assert (listing.page, listing.pages, listing.total) == (expected, 3, 7)
    assert len(listing.cards) == (1 if expected == 3 else 3)


def test_parse_filters_drops_junk():
    filters = browse.parse_filters(
        {"q": "x" * 5000, "page": "-7", "sort": "evil", "in_stock": "on", "min": ["list"]}
    )
    assert len(filters.q) == 2000 and filters.page == 1 and filters.sort == ""
    assert filters.in_stock and filters.min_price == ""
    assert browse.parse_page("999999999999") == pagination.MAX_PAGE


def _stock_a_big_catalog(store, count=30):
    shirts = make_category(store, "Shirts")
    sale = make_category(store, "Sale")
    for n in range(count):
        product = make_product(
            store,
            f"Shirt {n}",
            option_names=["Size"],
            variants=[
                VariantData(f"S-{n}-S", 1000 + n, ["S"], compare_at_price=2000, stock=3),
                VariantData(f"S-{n}-M", 1200 + n, ["M"], stock=0),
            ],
            categories=[shirts, sale] if n % 2 else [shirts],
            tags="cotton, basics",
        )
        if n % 3 == 0:
            make_image(product, alt=f"Shirt {n} front")
            make_image(product, alt=f"Shirt {n} back")


def test_a_listing_runs_the_same_few_queries_whatever_its_size(app, store_a):
    _stock_a_big_catalog(store_a)
    counts = {}
    with app.app_context():
        for size in (5, 24):
            db.session.remove()
            store = row(store_a)
            category = browse.find_category(store, "shirts")
            with count_queries() as counter:
                listing = browse.list_products(
                    store, category=category, q="shirt", page_size=size, sort="price-asc"
                )
                # Everything a card shows is loaded: touching it runs no more SQL.
                for card in listing.cards:
                    _ = (card.image, card.compare_at, card.discount, card.category)
            counts[size] = counter.count
            assert len(listing.cards) == size
            assert listing.cards[0].image is not None
            assert listing.cards[0].image.alt == "Shirt 0 front"
            assert listing.cards[0].discount == 50 and listing.cards[0].compare_at == 2000
    assert counts[5] == counts[24] <= 5, counts


def test_cards_are_built_from_rows_not_orm_objects(app, store_a):
    _stock_a_big_catalog(store_a, count=12)
    with app.app_context():
        db.session.remove()
        store = row(store_a)
        listing = browse.list_products(store, sort="price-asc")
        home = browse.newest_products(store) + browse.featured_products(store)
        assert len(listing.cards) == 12 and home
        loaded = [o for o in db.session.identity_map.values()]
        assert not [o for o in loaded if isinstance(o, (Product, Variant, ProductImage, Category))]
        card = next(c for c in listing.cards if c.product.title == "Shirt 0")
        assert card.category.name in ("Shirts", "Sale")
        assert [v.available for v in card.product.variants] == [True, False]


def test_related_products_and_home_rows_have_a_fixed_query_count(app, store_a):
    _stock_a_big_catalog(store_a, count=12)
    priced(store_a, "Unrelated", 100)
    with app.app_context():
        store = row(store_a)
        product = browse.get_product(store, "shirt-1")
        with count_queries() as counter:
            related = browse.related_products(store, product)
            for card in related:
                _ = (card.image, card.discount, card.category)
        assert len(related) == 4 and counter.count <= 4
        assert "Shirt 1" not in titles(browse.Listing(related, 4, 1, 1, 4, "newest"))
        assert "Unrelated" not in {c.product.title for c in related}
        with count_queries() as counter:
            newest = browse.newest_products(store)
        assert len(newest) == 8 and counter.count <= 3


def test_search_suggestions_come_from_tags_and_categories(app, store_a, store_b):
    make_category(store_a, "Coffee Beans")
    priced(store_a, "Kopi", 100, tags="espresso, arabica")
    priced(store_a, "Secret", 100, tags="robusta", status="draft")
    priced(store_b, "Theirs", 100, tags="cappuccino")
    with app.app_context():
        store = row(store_a)
        assert "espresso" in browse.suggest_words(store, "expresso")
        assert "arabica" in browse.suggest_words(store, "arabika")
        assert "beans" in browse.suggest_words(store, "beens")
        assert browse.suggest_words(store, "robusto") == []  # a draft's tags stay private
        assert browse.suggest_words(store, "capuccino") == []  # another store's tags too
        assert isinstance(browse.suggest_words(store, "'\"%\\<script>" * 300), list)
        assert browse.suggest_words(store, "") == []
        listing = browse.browse(store, browse.parse_filters({"q": "expresso"}))
        assert listing.total == 0 and "espresso" in listing.suggestions


def test_live_suggestions_are_bounded_and_need_words(app, store_a):
    for n in range(10):
        priced(store_a, f"Mug {n}", 100)
    with app.app_context():
        store = row(store_a)
        assert len(browse.suggest_products(store, "mug")) == browse.SUGGEST_LIMIT
        assert browse.suggest_products(store, "%%% '\"") == []


def test_variants_are_found_by_options_or_by_id_of_this_product_only(app, store_a, store_b):
    shirt = make_product(
        store_a,
        "Shirt",
        option_names=["Size", "Colour"],
        variants=[
            VariantData("SH-S-R", 1000, ["S", "Red"], stock=0),
            VariantData("SH-M-B", 1200, ["M", "Blue"], stock=4),
        ],
    )
    other = make_product(store_a, "Other")
    foreign = make_product(store_b, "Foreign")
    with app.app_context():
        store = row(store_a)
        product = browse.get_product(store, "shirt")
        find = lambda args: browse.find_variant(store, product, args)  # noqa: E731
        assert find({}).sku == "SH-M-B"  # the first one in stock
        assert find({"option1": "S", "option2": "Red"}).sku == "SH-S-R"
        assert find({"option1": "S", "option2": "Blue"}) is None
        assert find({"variant": str(shirt.variants[0].id)}).sku == "SH-S-R"
        assert find({"variant": str(other.variants[0].id)}) is None
        assert find({"variant": str(foreign.variants[0].id)}) is None
        assert find({"variant": "junk"}) is None
        assert browse.option_values(product) == [
            ("option1", "Size", ["S", "M"]),
            ("option2", "Colour", ["Red", "Blue"]),
        ]


def test_old_slugs_lead_to_the_current_active_product(app, store_a, store_b):
    from app.catalog.models import ProductSlugRedirect

    product = make_product(store_a, "New Name")
    hidden = make_product(store_a, "Hidden", status="draft")
    with app.app_context():
        db.session.add_all(
            [
                ProductSlugRedirect(store_id=store_a.id, product_id=product.id, old_slug="old"),
                ProductSlugRedirect(store_id=store_a.id, product_id=hidden.id, old_slug="gone"),
            ]
        )
        db.session.commit()
        assert browse.redirected_slug(row(store_a), "old") == "new-name"
        assert browse.redirected_slug(row(store_a), "gone") is None
        assert browse.redirected_slug(row(store_b), "old") is None
        assert browse.get_product(row(store_a), "hidden") is None


def test_json_ld_prices_in_major_units(app, store_a):
    make_product(store_a, "Lamp", variants=[VariantData("L-1", 123456, stock=0)])
    with app.app_context():
        store = row(store_a)
        product = browse.get_product(store, "lamp")
        data = browse.product_json_ld(store, product, product.variants[0], url="u", images=[])
    assert data["offers"]["price"] == "1234.56" and data["offers"]["priceCurrency"] == "USD"
    assert data["offers"]["availability"] == "https://schema.org/OutOfStock"
    assert data["sku"] == "L-1" and "image" not in data


def test_marketplace_search_spans_active_stores_only(app, store_a, store_b):
    priced(store_a, "Lantern Alpha", 100)
    priced(store_b, "Lantern Bravo", 200)
    priced(store_b, "Lantern Draft", 200, status="draft")
    closed = make_store("closed", "Closed")
    priced(closed, "Lantern Closed", 300)
    with app.app_context():
        set_store_status(db.session.get(Store, closed.id), "suspended")
        results = browse.search_marketplace("lantern")
        found = {(h.card.product.title, h.store.slug) for h in results.hits}
        assert found == {("Lantern Alpha", "alpha"), ("Lantern Bravo", "bravo")}
        assert browse.search_marketplace("").total == 0
        assert browse.search_marketplace("lantern", page=-4).page == 1
        assert db.session.get(Product, results.hits[0].card.product.id) is not None


@pytest.mark.parametrize("sort", ["newest", "price-asc", "price-desc", "relevance"])
def test_pages_are_the_same_whether_matches_fit_the_id_probe_or_not(
    app, store_a, monkeypatch, sort
):
    """Narrow results are paged from the probed ids, broad ones by an ordered walk: same pages."""
    _stock_a_big_catalog(store_a, count=11)
    with app.app_context():
        store = row(store_a)
        category = browse.find_category(store, "shirts")

        def pages(probe: int) -> list[tuple]:
            monkeypatch.setattr(browse, "PROBE", probe)
            seen = []
            for page in (1, 2, 3, 4, 99):
                listing = browse.list_products(
                    store, category=category, q="shirt", sort=sort, page=page, page_size=4
                )
                seen.append((listing.page, listing.pages, listing.total, tuple(titles(listing))))
            return seen

        probed_all = pages(1000)
        probed_some = pages(5)  # page 1 from the ids, later pages walked, count separate
        probed_none = pages(0)
    assert probed_all == probed_some == probed_none
    assert [p[0] for p in probed_all] == [1, 2, 3, 3, 3]  # past the end shows the last page
    assert probed_all[0][2] == 11 and sum(len(p[3]) for p in probed_all[:3]) == 11


def test_only_the_last_search_word_is_a_prefix(app, store_a):
    """Earlier words are whole words; the last is still being typed, so it matches a prefix."""
    priced(store_a, "Cotton Shirt", 100)
    priced(store_a, "Cotta Vase", 100)
    with app.app_context():
        store = row(store_a)
        assert titles(browse.list_products(store, q="cotton shi")) == ["Cotton Shirt"]
        assert titles(browse.list_products(store, q="cott")) == ["Cotta Vase", "Cotton Shirt"]
        assert titles(browse.list_products(store, q="cott shirt")) == []
        assert titles(browse.list_products(store, q="shirt cotton")) == ["Cotton Shirt"]
