"""Template globals and filters."""

from babel.numbers import format_decimal
from flask import Flask, g
from jinja2 import pass_context

from app.i18n import format_locale
from app.money import currency_label, format_money, format_money_short
from app.static_assets import asset_url
from tenants.urls import platform_url, store_url


def register(app: Flask) -> None:
    """Expose URL builders, the current store and money formatting to templates."""
    static_prefix = app.static_url_path.rstrip("/")

    def asset(path: str) -> str:
        """A static file's URL with its content hash (see app.static_assets); needs no URL
        adapter, so error pages for junk hosts can use it."""
        return asset_url(static_prefix, path)

    from app.catalog.images import image_url
    from app.live.views import live_url

    app.jinja_env.globals.update(
        image_url=image_url,
        live_url=live_url,
        platform_url=platform_url,
        store_url=store_url,
        asset=asset,
        has_endpoint=lambda name: name in app.view_functions,
    )

    @app.context_processor
    def inject_store():
        from flask_login import current_user

        from app.accounts.permissions import role_in_store

        store = g.get("store")
        return {
            "store": store,
            "host_kind": g.get("host_kind"),
            "store_role": lambda: role_in_store(current_user, store) if store else None,
        }

    app.add_template_filter(contrast_color, "contrast")
    register_shopper_parts(app)

    from app.audit.labels import action_label, field_label
    from tenants.models import LOCAL_TIME_FORMAT, local_time

    app.add_template_filter(action_label, "audit_action")
    app.add_template_filter(field_label, "audit_field")

    @app.template_filter("local_time")
    @pass_context  # the store comes from the page (or the email) being rendered
    def local_time_filter(
        context, moment, fmt: str = LOCAL_TIME_FORMAT, store=None, utc: bool = False
    ) -> str:
        """`{{ order.placed_at|local_time }}`: a stored time in the store's time zone (in UTC
        with `utc=true`), month names in the spoken language."""
        if utc:
            from app.i18n import format_locale

            return local_time(moment, None, fmt, locale=format_locale())
        return local_time(moment, store or context.get("store"), fmt)

    from app.branding import logo_url

    app.add_template_global(logo_url, "logo_url")

    from app.pagination import page_url, range_phrase

    app.add_template_global(page_url, "page_url")
    app.add_template_global(range_phrase, "range_phrase")

    @app.template_filter("stock_sync_message")
    @pass_context
    def stock_sync_message_filter(context, text) -> str:
        """A stored stock-sync message (English) in the reader's language."""
        from app.stocksync.messages import shown

        return shown(text, context.get("store"))

    @app.template_filter("currency_label")
    def currency_label_filter(store) -> str:
        """e.g. 'Indonesian Rupiah (Rp)' in the store's own locale."""
        return currency_label(store.currency, store.locale)

    @app.template_filter("money_short")
    @pass_context
    def money_short_filter(context, amount_minor: int, currency: str | None = None):
        store = context.get("store")
        currency = currency or (store.currency if store else "USD")
        return format_money_short(amount_minor, currency, store.locale if store else None)

    @app.template_filter("number")
    @pass_context
    def number_filter(context, value) -> str:
        """`{{ count|number }}`: an integer or decimal grouped as the spoken language writes it."""
        store = context.get("store")
        return format_decimal(value, locale=format_locale(store.locale if store else None))

    @app.template_filter("money")
    @pass_context  # depends on the request's store, so Jinja must not fold it at compile time
    def money_filter(context, amount_minor: int, currency: str | None = None, locale=None):
        store = context.get("store")
        currency = currency or (store.currency if store else "USD")
        # The store's locale is a hint: app.i18n.format_locale decides (the spoken language).
        return format_money(amount_minor, currency, locale or (store.locale if store else None))


def register_shopper_parts(app: Flask) -> None:
    """`shopper_part(name)` and `csrf_token()` for templates: rendered in place, or left as
    slots while a cacheable page renders (see app.storefront.page_cache)."""
    from flask import render_template
    from flask_wtf.csrf import generate_csrf
    from markupsafe import Markup

    from app.storefront import page_cache

    def shopper_part(name: str) -> Markup:
        """The part of the layout that belongs to this visitor (cart count, account links...)."""
        if page_cache.deferring():
            return page_cache.slot(name)
        # A whole template's output, escaped by its own autoescape, like an include.
        return Markup(render_template(page_cache.SLOTS[name]))  # noqa: S704

    def csrf_token() -> str:
        """Flask-WTF's token, or its slot in a page being rendered for the cache."""
        return page_cache.csrf_placeholder() if page_cache.deferring() else generate_csrf()

    app.jinja_env.globals.update(shopper_part=shopper_part, csrf_token=csrf_token)
    # Flask-WTF also hands `csrf_token` to every template as a context variable, which wins
    # over a global; this processor runs after its own.
    app.context_processor(lambda: {"csrf_token": csrf_token})


def contrast_color(hex_color: str) -> str:
    """Black or white, whichever reads better on `hex_color` (WCAG relative luminance)."""
    value = hex_color.lstrip("#")
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#111111" if luminance > 0.179 else "#ffffff"
