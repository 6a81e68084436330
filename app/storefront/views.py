"""A store's public pages on its own host: home, listings, search and product pages."""

from flask import abort, make_response, redirect, render_template, request, url_for

from app.catalog import browse as catalog
from app.catalog.images import image_url
from app.rendering import is_htmx, render_page_or_fragment, render_partial
from app.storefront.page_cache import render_cached
from tenants.context import current_store, store_blueprint
from tenants.urls import store_url

bp = store_blueprint("storefront", __name__)


def home():
    """The store's home page: featured products, top-level categories and what's new."""
    store = current_store()
    return render_cached(
        store,
        lambda: render_template(
            "storefront/home.html",
            featured=catalog.featured_products(store),
            categories=catalog.top_categories(store),
            newest=catalog.newest_products(store),
        ),
    )


@bp.get("/theme.css")
def theme_css():
    """The store's accent colour as CSS variables (a stylesheet, so CSP needs no inline styles)."""
    store = current_store()
    body = render_template("storefront/theme.css", store=store)
    response = make_response(body)
    response.mimetype = "text/css"
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.get("/products/")
def product_list():
    """Every active product of the store, filtered and sorted as the shopper asks."""
    store = current_store()

    def render():
        filters = catalog.parse_filters(request.args)
        listing = catalog.browse(store, filters)
        return _listing_page(filters, listing, title="All products")

    return render_cached(store, render)


@bp.get("/categories/<slug>/")
def category(slug: str):
    """The products of one category and of every category below it."""
    store = current_store()

    def render():
        found = catalog.find_category(store, slug)
        if found is None:
            abort(404)
        filters = catalog.parse_filters(request.args)
        filters.category = ""  # the path names the category
        listing = catalog.browse(store, filters, category=found)
        return _listing_page(filters, listing, title=found.name, category=found)

    return render_cached(store, render)


def search():
    """Search results within the store (GET /search on a store host; see app._search)."""
    store = current_store()

    def render():
        filters = catalog.parse_filters(request.args)
        listing = catalog.browse(store, filters)
        title = f"Results for “{filters.q}”" if filters.q else "Search"
        return _listing_page(filters, listing, title=title, searching=True)

    return render_cached(store, render)


@bp.get("/search/suggest")
def search_suggest():
    """Up to eight live results for the header's search box (an htmx fragment)."""
    q = (request.args.get("q") or "")[:2000]
    if not is_htmx():
        return redirect(url_for("search", q=q or None), 303)
    cards = catalog.suggest_products(current_store(), q)
    return render_partial("storefront/_partials/search_suggest.html", q=q, cards=cards)


def _listing_page(filters, listing, *, title, category=None, searching=False):
    """The listing page, or only its results block for htmx."""
    store = current_store()
    context = {
        "filters": filters,
        "listing": listing,
        "title": title,
        "category": category,
        "searching": searching,
        "action": request.path,
    }
    if not is_htmx():
        context.update(
            categories=catalog.all_categories(store) if category is None else [],
            subcategories=catalog.child_categories(store, category) if category else [],
            tags=_with_current(catalog.store_tags(store), filters.tag),
            sorts=catalog.SORTS,
        )
    if not listing.total:
        context["fallback_categories"] = catalog.top_categories(store)
    response = render_page_or_fragment("storefront/listing.html", "results", **context)
    if is_htmx():
        # The form sends its empty fields too; the address bar gets the tidy equivalent.
        page = listing.page if listing.page > 1 else None
        response.headers["HX-Push-Url"] = filters.url(request.path, page=page)
    return response


def _with_current(tags: list[str], current: str) -> list[str]:
    """The tag menu, including the tag being filtered on even if it isn't among the top ones."""
    return sorted({*tags, current}) if current else tags


@bp.get("/products/<slug>")
def product_detail(slug: str):
    """A product's page; an old slug answers 301 to the current one."""
    store = current_store()
    return render_cached(store, lambda: _product_page(store, slug))


def _product_page(store, slug: str):
    """The product page itself (see product_detail)."""
    product = catalog.get_product(store, slug)
    if product is None:
        current = catalog.redirected_slug(store, slug)
        if current is None:
            abort(404)
        target = url_for(".product_detail", slug=current)
        query = request.query_string.decode("utf-8", "replace")
        return redirect(f"{target}?{query}" if query else target, 301)
    variant = catalog.find_variant(store, product, request.args)
    if variant is None and request.args.get("variant"):
        variant = catalog.default_variant(product)  # a stale link still shows the product
    selected = _selected_options(product, variant, request.args)
    url = store_url(store, url_for(".product_detail", slug=product.slug))
    images = [i for i in product.images if i.status == "ready"]
    json_ld = catalog.product_json_ld(
        store,
        product,
        variant,
        url=url,
        images=[store_url(store, image_url(i, "large")) for i in images],
    )
    return render_template(
        "storefront/product.html",
        product=product,
        variant=variant,
        selected=selected,
        options=catalog.option_values(product),
        images=images,
        related=catalog.related_products(store, product),
        json_ld=json_ld,
        canonical_url=url,
        og_image=store_url(store, image_url(images[0], "large")) if images else None,
    )


@bp.get("/products/<slug>/variant")
def product_variant(slug: str):
    """The price, stock and SKU of the chosen variant (htmx); a reload with ?variant= without."""
    store = current_store()
    product = catalog.get_product(store, slug)
    if product is None:
        abort(404)
    variant = catalog.find_variant(store, product, request.args)
    if variant is None and request.args.get("variant"):
        abort(404)
    if not is_htmx():
        args = {"variant": variant.id} if variant else _option_args(product, request.args)
        return redirect(url_for(".product_detail", slug=product.slug, **args), 303)
    response = render_partial("storefront/_partials/buy_box.html", product=product, variant=variant)
    if variant is not None:
        # The address bar follows the choice, so a shared link opens on the same variant.
        response.headers["HX-Replace-Url"] = url_for(
            ".product_detail", slug=product.slug, variant=variant.id
        )
    return response


def _option_args(product, args) -> dict[str, str]:
    return {
        f"option{i}": (args.get(f"option{i}") or "")[:60]
        for i in range(1, len(product.option_names) + 1)
    }


def _selected_options(product, variant, args) -> dict[str, str]:
    """The option values the picker shows as chosen."""
    if variant is not None:
        return {f"option{i}": value for i, value in enumerate(variant.options, start=1)}
    return _option_args(product, args)
