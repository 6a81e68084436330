"""The current store: resolved from the Host once per request, or set explicitly in jobs and CLI."""

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, abort, current_app, g, redirect, request
from sqlalchemy import bindparam, select

from app.extensions import db
from tenants import rls
from tenants.errors import StoreNotFound, StoreNotPublished, StoreUnavailable
from tenants.hosts import classify_host
from tenants.models import Store
from tenants.slugs import RESERVED_SLUGS

# Endpoints that answer on any host, before and without tenancy (probes, static files).
HOST_INDEPENDENT_ENDPOINTS = {
    "static",
    "media.media_file",
    "health.healthz",
    "health.readyz",
    "observability.metrics",  # checks the host itself: never a store's without the token
}


def resolve_store_for_request():
    """Set `g.store` and `g.host_kind` from the Host header before any view runs."""
    g.store = None
    g.host_kind = None
    if request.endpoint in HOST_INDEPENDENT_ENDPOINTS:
        return None
    target = classify_host(request.headers.get("Host"), current_app.config["PLATFORM_HOST"])
    if target.kind == "invalid":
        abort(400, description="The Host header is not a valid host name.")
    if target.kind == "redirect":
        return redirect(_same_path_on(current_app.config["PLATFORM_DOMAIN"]), code=301)
    if target.kind == "platform":
        g.host_kind = "platform"
        return None
    store = find_store(target.kind, target.value)
    if store is None or store.is_deleted:
        raise StoreNotFound()
    g.store = store
    g.host_kind = "store"
    rls.refresh()
    if not store.is_active:
        # Suspended: shoppers, checkout and webhooks get the unavailable page (503, nothing is
        # recorded); its members keep a read-only dashboard (see app.dashboard).
        if not (request.endpoint or "").startswith(_SUSPENDED_OPEN_PREFIXES):
            raise StoreUnavailable()
        return None
    if not store.is_published:
        # Its members and platform admins see the store as shoppers will, with a preview bar.
        g.store_preview = _is_insider(store)
        if not g.store_preview and not (request.endpoint or "").startswith(
            _UNPUBLISHED_OPEN_PREFIXES
        ):
            raise StoreNotPublished()
    return None


# Pages of an unpublished store that answer everyone: signing in (so its staff can get in),
# the dashboard and its live stream (which check membership themselves), the payment providers'
# webhooks and the vendor API (its keys are the store's own), so a store can be stocked before
# it opens.
_UNPUBLISHED_OPEN_PREFIXES = (
    "accounts.",
    "dashboard.",
    "live.admin",
    "payments.",
    "api.",
    "api_docs.",
)
# Pages of a suspended store that still answer: signing in, and the (read-only) dashboard.
_SUSPENDED_OPEN_PREFIXES = ("accounts.", "dashboard.", "live.admin")


def _is_insider(store: Store) -> bool:
    """Whether the signed-in user is one of the store's members or a platform admin."""
    from flask_login import current_user

    from app.accounts.permissions import role_in_store

    if not current_user.is_authenticated:
        return False
    return bool(current_user.is_superuser or role_in_store(current_user, store))


# Every request on a store's host runs one of these: built once, with the name bound per request.
_BY_SLUG = select(Store).where(Store.slug == bindparam("name"))
_BY_DOMAIN = select(Store).where(
    Store.custom_domain == bindparam("name"), Store.custom_domain_verified_at.is_not(None)
)


def find_store(kind: str, value: str | None) -> Store | None:
    """The store a subdomain slug or a verified custom domain names, if any."""
    if not value:
        return None
    if kind == "subdomain":
        if value in RESERVED_SLUGS:
            return None
        return db.session.scalar(_BY_SLUG, {"name": value})
    return db.session.scalar(_BY_DOMAIN, {"name": value})


def _same_path_on(host: str) -> str:
    path = request.full_path if request.query_string else request.path
    return f"{current_app.config['PREFERRED_URL_SCHEME']}://{host}{path}"


def current_store() -> Store:
    """The store of this request or job; a programming error if there is none."""
    store = g.get("store")
    if store is None:
        raise RuntimeError("no current store: use a store host or store_context()")
    return store


@contextmanager
def store_context(store: Store | int) -> Iterator[Store]:
    """Make `store` the current store inside a job or CLI command (needs an app context)."""
    if not isinstance(store, Store):
        found = db.session.get(Store, store)
        if found is None:
            raise LookupError(f"store {store} does not exist")
        store = found
    previous = g.get("store")
    g.store = store
    g.job_store_id = store.id  # kept after the block: the job's log line names its store
    rls.refresh()
    try:
        yield store
    finally:
        g.store = previous
        rls.refresh_after_block()


def _require_platform():
    if g.get("host_kind") != "platform":
        abort(404)


def _require_store():
    if g.get("host_kind") != "store":
        abort(404)


def platform_blueprint(name: str, import_name: str, **kwargs) -> Blueprint:
    """A blueprint whose routes exist only on the platform host."""
    bp = Blueprint(name, import_name, **kwargs)
    bp.before_request(_require_platform)
    return bp


def store_blueprint(name: str, import_name: str, **kwargs) -> Blueprint:
    """A blueprint whose routes exist only on a store's host."""
    bp = Blueprint(name, import_name, **kwargs)
    bp.before_request(_require_store)
    return bp
