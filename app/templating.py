"""Template globals and filters."""

from babel.numbers import get_currency_name, get_currency_symbol
from flask import Flask, g
from jinja2 import pass_context

from app.money import format_money, format_money_short
from tenants.urls import platform_url, store_url


def register(app: Flask) -> None:
    """Expose URL builders, the current store and money formatting to templates."""
    static_prefix = app.static_url_path.rstrip("/")

    def asset(path: str) -> str:
        """A static file's URL; needs no URL adapter, so error pages for junk hosts can use it."""
        return f"{static_prefix}/{path}"

    from app.catalog.images import image_url

    app.jinja_env.globals.update(
        image_url=image_url,
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

    from app.branding import logo_url

    app.add_template_global(logo_url, "logo_url")

    @app.template_filter("currency_label")
    def currency_label(store) -> str:
        """e.g. 'Indonesian Rupiah (Rp)' in the store's own locale."""
        name = get_currency_name(store.currency, locale=store.locale)
        symbol = get_currency_symbol(store.currency, locale=store.locale)
        return f"{name} ({symbol})" if symbol != store.currency else name

    @app.template_filter("money_short")
    @pass_context
    def money_short_filter(context, amount_minor: int, currency: str | None = None):
        store = context.get("store")
        currency = currency or (store.currency if store else "USD")
        return format_money_short(amount_minor, currency, store.locale if store else "en_US")

    @app.template_filter("money")
    @pass_context  # depends on the request's store, so Jinja must not fold it at compile time
    def money_filter(context, amount_minor: int, currency: str | None = None, locale=None):
        store = context.get("store")
        currency = currency or (store.currency if store else "USD")
        locale = locale or (store.locale if store else "en_US")
        return format_money(amount_minor, currency, locale)


def contrast_color(hex_color: str) -> str:
    """Black or white, whichever reads better on `hex_color` (WCAG relative luminance)."""
    value = hex_color.lstrip("#")
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#111111" if luminance > 0.179 else "#ffffff"
