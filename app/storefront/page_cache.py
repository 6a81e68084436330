"""Whole storefront pages cached in Redis, with the shopper's own parts filled in per request.

A page (or an htmx results fragment) is rendered once with *slots* where per-shopper parts go:
the CSRF token, the cart count, the account links, flash messages and notice bars. That
rendering is stored under a key made of the store id, the store row's `updated_at` (name,
currency, logo), the locale, HX-Request and the path with its query string, together with
the store's catalog version it was rendered at (bumped after every committed catalog or stock
change, see app.catalog.cache): one round trip reads both the current version and the entry,
and an entry of an older version is rendered again. Every request, cached or not, then fills
the slots for its own shopper, so no shopper ever sees another's token or cart.

Anonymous shoppers with an empty cart also get a weak ETag from the same key plus their
session's CSRF secret and the hour, and a 304 when they send it back. Redis (or the embedded
kv file) failing means rendering without the cache for a few seconds, never an error page.
"""

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from functools import cache

from flask import Response, current_app, g, make_response, render_template, request, session
from markupsafe import Markup

from app.catalog import cache as catalog_cache
from app.extensions import redis_client

log = logging.getLogger(__name__)

BACKOFF = 5  # seconds without the cache after the kv store failed
MAX_BODY = 512 * 1024  # pages above this are not worth keeping
_KEPT_HEADERS = ("HX-Push-Url", "Vary")
# A token stays valid for WTF_CSRF_TIME_LIMIT (4 h); a page revalidated by ETag keeps the
# token it was first sent with, so the ETag changes every hour to renew it well before that.
ETAG_PERIOD = 3600


def page_locale(store) -> str:
    """What a page's words and formats depend on: the language this request is answered in
    (the shopper's choice, Accept-Language or the store's; app.i18n) and the locale its
    numbers, dates and money are formatted in."""
    from app.i18n import current_language, format_locale

    return f"{current_language()}:{format_locale(store.locale)}"


@cache
def _secret_marker(secret_key: str) -> str:
    # Unguessable, so text a vendor types into a product can never become a slot.
    return hmac.new(secret_key.encode(), b"page-cache-slot", hashlib.sha256).hexdigest()[:20]


def _marker(name: str) -> str:
    # Letters, digits and dashes only: the same escaped or not, in text or in an attribute.
    return f"slot-{_secret_marker(current_app.secret_key)}-{name}"


def deferring() -> bool:
    """True while a cacheable page is being rendered (slots become markers)."""
    return bool(g.get("page_cache_deferring"))


def slot(name: str) -> Markup:
    """A marker for the per-shopper part `name`, filled in by `fill` after rendering."""
    return Markup("slot-{}-{}").format(_secret_marker(current_app.secret_key), name)


def csrf_placeholder() -> str:
    """What `csrf_token()` gives while a cacheable page renders (see `fill`)."""
    return _marker("csrf")


# The per-shopper parts of the layout, each a small template rendered for every request.
SLOTS = {
    "account_nav": "_partials/account_nav.html",
    "cart_count": "_partials/shopper/cart_count.html",
    "notices": "_partials/shopper/notices.html",
    "flash": "_partials/flash.html",
}


def fill(body: str) -> str:
    """`body` with this request's shopper parts in its slots (a fresh CSRF token included)."""
    from flask_wtf.csrf import generate_csrf

    secret = _secret_marker(current_app.secret_key)
    if secret not in body:
        return body
    for name, template in SLOTS.items():
        marker = _marker(name)
        if marker in body:
            body = body.replace(marker, render_template(template))
    marker = _marker("csrf")
    if marker in body:
        body = body.replace(marker, generate_csrf())
    return body


@dataclass
class Entry:
    """A rendered page as stored: status, body with slots, the headers worth keeping."""

    version: int  # the store's catalog version it was rendered at
    status: int
    body: str
    headers: dict
    # When the first stock hold the page counted runs out (a Unix time): the page says less is
    # for sale than will be, and no version bump is sure to come at that moment (the sweep
    # releasing it may be late, or absent in embedded mode).
    fresh_until: float | None = None

    def dump(self) -> str:
        return json.dumps(
            {
                "v": self.version,
                "s": self.status,
                "b": self.body,
                "h": self.headers,
                "f": self.fresh_until,
            }
        )

    @classmethod
    def load(cls, raw) -> "Entry":
        data = json.loads(raw)
        return cls(
            version=data["v"],
            status=data["s"],
            body=data["b"],
            headers=data["h"],
            fresh_until=data.get("f"),
        )


def _kv():
    """The kv store, or None when the cache is off or known to be failing."""
    if not current_app.config["PAGE_CACHE_TTL"]:
        return None
    if time.monotonic() < current_app.extensions.get("page_cache_down_until", 0.0):
        return None
    return redis_client.get()


def _failed(error: Exception) -> None:
    # Per process: one failed call, not every request, waits for the kv store's timeout.
    current_app.extensions["page_cache_down_until"] = time.monotonic() + BACKOFF
    log.warning("page cache unavailable for %ss: %s", BACKOFF, error)


def page_key(store) -> str:
    """The cache key of this request's page on `store` (its catalog version is checked
    against the entry's own, see `lookup`)."""
    inputs = "\n".join(
        [
            str(store.updated_at.timestamp()) if store.updated_at else "",
            page_locale(store),
            "htmx" if _is_htmx() else "page",
            request.path,
            request.query_string.decode("latin-1"),
        ]
    )
    digest = hashlib.sha256(inputs.encode()).hexdigest()[:32]
    return f"page:{store.id}:{digest}"


def lookup(store, key: str) -> tuple[int, Entry | None] | None:
    """(the store's catalog version, the entry if it is of that version) in one round trip;
    None if the kv store is off or failing."""
    kv = _kv()
    if kv is None:
        return None
    try:
        pipe = kv.pipeline(transaction=False)
        pipe.get(catalog_cache.version_key(store.id))
        pipe.get(key)
        raw_version, raw_entry = pipe.execute()
        version = int(raw_version or 0)
    except Exception as error:  # Redis or the embedded kv file: degrade, never fail the page
        _failed(error)
        return None
    if raw_entry is None:
        return version, None
    try:
        entry = Entry.load(raw_entry)
    except (ValueError, KeyError, TypeError):
        return version, None
    if entry.fresh_until is not None and entry.fresh_until <= time.time():
        return version, None  # a hold it counted has run out: render it again
    return version, entry if entry.version == version else None


def _is_htmx() -> bool:
    from app.rendering import is_htmx

    return is_htmx()


def _put(key: str, entry: Entry) -> None:
    kv = _kv()
    if kv is None:
        return
    ttl = current_app.config["PAGE_CACHE_TTL"]
    if entry.fresh_until is not None:
        ttl = max(1, min(ttl, int(entry.fresh_until - time.time()) + 1))
    try:
        kv.set(key, entry.dump(), ex=ttl)
    except Exception as error:
        _failed(error)


def shopper_state_is_shared() -> bool:
    """True when the page says nothing about this shopper beyond their CSRF token: not signed
    in, an empty cart, no flash messages waiting, not a staff preview."""
    from flask_login import current_user

    from app.cart.views import current_cart_count

    if g.get("store_preview") or session.get("_flashes"):
        return False
    if current_user.is_authenticated:
        return False
    return current_cart_count() == 0


def etag_for(key: str) -> str | None:
    """The weak ETag of this page for this shopper, or None if it must not have one."""
    raw_token = session.get("csrf_token")
    if not raw_token or not shopper_state_is_shared():
        return None
    period = int(time.time() // ETAG_PERIOD)
    digest = hashlib.sha256(f"{key}\n{raw_token}\n{period}".encode()).hexdigest()[:32]
    return digest


def render_cached(store, render) -> Response:
    """The page `render()` would make, from the cache when it can be; answers 304 to a
    matching If-None-Match. `render` returns a Response; it runs with slots deferred."""
    key = page_key(store)
    found = None if g.get("store_preview") else lookup(store, key)
    if found is None:
        return _private(make_response(render()))
    version, entry = found
    key = f"{key}:v{version}"  # what the ETag is made of
    etag = etag_for(key)
    # Only while the entry is there: one gone early (a stock hold it counted ran out) may say
    # more is sold out than is, at the same catalog version.
    if etag is not None and entry is not None and request.if_none_match.contains_weak(etag):
        response = Response(status=304)
        response.set_etag(etag, weak=True)
        return _private(response)
    if entry is None:
        g.page_cache_deferring = True
        try:
            response = make_response(render())
        finally:
            g.page_cache_deferring = False
        if response.status_code != 200 or response.direct_passthrough:
            return _private(_filled(response))
        body = response.get_data(as_text=True)
        # The version read before rendering: a change committed meanwhile makes it stale.
        held_until = g.get("stock_holds_until")  # set by app.inventory.holds.available_for
        entry = Entry(
            version=version,
            status=200,
            body=body,
            headers={h: response.headers[h] for h in _KEPT_HEADERS if h in response.headers},
            fresh_until=held_until.timestamp() if held_until is not None else None,
        )
        if len(body) <= MAX_BODY:
            _put(page_key(store), entry)
        g.page_cache = "miss"
    else:
        g.page_cache = "hit"
    response = Response(fill(entry.body), status=entry.status, mimetype="text/html")
    for name, value in entry.headers.items():
        response.headers[name] = value
    # Whether this shopper may have an ETag is known only now (the page may have set a token).
    etag = etag_for(key)
    if etag is not None:
        response.set_etag(etag, weak=True)
    return _private(response)


def _filled(response: Response) -> Response:
    if response.mimetype == "text/html" and not response.is_streamed:
        response.set_data(fill(response.get_data(as_text=True)))
    return response


def _private(response: Response) -> Response:
    """Browsers may keep the page but must ask first; shared caches must not keep it."""
    response.cache_control.private = True
    response.cache_control.no_cache = True
    response.vary.add("Cookie")
    return response
