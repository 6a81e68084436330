"""Absolute URLs for the platform and for each store's host."""

from flask import current_app


def _scheme() -> str:
    return current_app.config["PREFERRED_URL_SCHEME"]


def platform_url(path: str = "/") -> str:
    """An absolute URL on the platform host."""
    return f"{_scheme()}://{current_app.config['PLATFORM_DOMAIN']}{path}"


def store_host(store) -> str:
    """The host (with port, if the platform has one) a store is served on."""
    if store.custom_domain and store.custom_domain_verified_at:
        return store.custom_domain
    return f"{store.slug}.{current_app.config['PLATFORM_DOMAIN']}"


def store_url(store, path: str = "/") -> str:
    """An absolute URL on the store's own host."""
    return f"{_scheme()}://{store_host(store)}{path}"
