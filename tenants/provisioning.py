"""Creating, suspending and reactivating stores."""

import re
from zoneinfo import available_timezones

from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Membership, User
from app.audit.service import record
from app.database import utcnow
from app.extensions import db
from tenants.hosts import normalise_host
from tenants.models import Store
from tenants.slugs import slug_problem

_COLOR_RE = re.compile(r"^#[0-9a-f]{6}$")


class StoreSettingsError(ValueError):
    """A store setting was refused; the message says why, for the person who entered it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def slug_is_taken(slug: str) -> bool:
    """True if any store, whatever its status, already uses this slug."""
    return db.session.scalar(select(func.count()).where(Store.slug == slug)) > 0


def validate_store_settings(
    *, currency: str, locale: str, timezone: str, accent_color: str
) -> dict[str, str]:
    """Normalise store settings or raise StoreSettingsError naming the bad field."""
    currency = (currency or "").strip().upper()
    if currency not in list_currencies():
        raise StoreSettingsError("currency", f"{currency or 'An empty value'} is not a currency.")
    try:
        locale = str(Locale.parse((locale or "").strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise StoreSettingsError("locale", f"{locale!r} is not a known locale.") from None
    if timezone not in available_timezones():
        raise StoreSettingsError("timezone", f"{timezone!r} is not a known time zone.")
    accent_color = (accent_color or "").strip().lower()
    if not _COLOR_RE.fullmatch(accent_color):
        raise StoreSettingsError("accent_color", "Use a colour like #0f766e.")
    return {
        "currency": currency,
        "locale": locale,
        "timezone": timezone,
        "accent_color": accent_color,
    }


def create_store(
    *,
    slug: str,
    name: str,
    owner: User,
    currency: str = "USD",
    locale: str = "en_US",
    timezone: str = "UTC",
    accent_color: str = "#0f766e",
    published: bool = True,
) -> Store:
    """Create a store and its owner's membership in one transaction, or raise StoreSettingsError.

    Stores a vendor opens themselves pass `published=False`: only their members see them until
    the owner publishes (`publish_store`); the CLI and the demo make published stores.
    """
    if not owner.is_verified:
        raise StoreSettingsError("owner", "Verify your email address before opening a store.")
    problem = slug_problem(slug)
    if problem:
        raise StoreSettingsError("slug", problem)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise StoreSettingsError("name", "A store name needs 1 to 120 characters.")
    settings = validate_store_settings(
        currency=currency, locale=locale, timezone=timezone, accent_color=accent_color
    )
    if slug_is_taken(slug):
        raise StoreSettingsError("slug", "That subdomain is taken.")
    store = Store(slug=slug, name=name, published_at=utcnow() if published else None, **settings)
    try:
        with db.session.begin_nested():
            db.session.add(store)
            db.session.add(Membership(store=store, user=owner, role="owner"))
            db.session.flush()
    except IntegrityError:
        # Another request took the slug between our check and our insert.
        raise StoreSettingsError("slug", "That subdomain is taken.") from None
    record("store.created", actor=owner, store=store, target=store, slug=slug)
    db.session.commit()
    return store


def set_custom_domain(store: Store, domain: str | None, *, actor: User | None = None) -> None:
    """Attach an unverified custom domain to a store (or remove it with None)."""
    if domain:
        host = normalise_host(domain)
        if host is None or "." not in host:
            raise StoreSettingsError("custom_domain", f"{domain!r} is not a valid domain name.")
        domain = host
    store.custom_domain = domain or None
    store.custom_domain_verified_at = None
    record("store.custom_domain_set", actor=actor, store=store, target=store, domain=domain)
    db.session.commit()


def subdomain_answer(slug: str) -> tuple[bool, str]:
    """Whether a typed subdomain can be had, and the reason shown as the vendor types."""
    problem = slug_problem(slug)
    if problem:
        return False, problem
    if slug_is_taken(slug):
        return False, "That subdomain is taken."
    return True, "That subdomain is available."


def publish_store(store: Store, *, actor: User | None = None) -> bool:
    """Open an unpublished store to shoppers; False if it was already published."""
    published = db.session.execute(
        update(Store)
        .where(Store.id == store.id, Store.published_at.is_(None))
        .values(published_at=utcnow())
    ).rowcount
    if published:
        record("store.published", actor=actor, store=store, target=store)
    db.session.commit()
    db.session.refresh(store)
    return bool(published)


def set_store_status(store: Store, status: str, *, actor: User | None = None, reason: str = ""):
    """Suspend (status "suspended") or reactivate (status "active") a store."""
    if status not in ("active", "suspended"):
        raise StoreSettingsError("status", f"Unknown store status {status!r}.")
    if store.status != status:
        store.status = status
        action = "store.suspended" if status == "suspended" else "store.reactivated"
        record(action, actor=actor, store=store, target=store, reason=reason)
        db.session.commit()


def update_store_settings(store: Store, *, actor: User | None = None, name: str, **settings):
    """Validate and save a store's name, currency, locale, time zone and accent colour."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise StoreSettingsError("name", "A store name needs 1 to 120 characters.")
    clean = validate_store_settings(**settings)
    changed = {
        key: value for key, value in {"name": name, **clean}.items() if getattr(store, key) != value
    }
    for key, value in changed.items():
        setattr(store, key, value)
    if changed:
        record(
            "store.settings_changed",
            actor=actor,
            store=store,
            target=store,
            changed=sorted(changed),
        )
        db.session.commit()
    return changed


def verify_custom_domain(store: Store, *, actor: User | None = None) -> bool:
    """Mark the store's custom domain verified (a platform admin checked its DNS)."""
    if not store.custom_domain or store.custom_domain_verified_at is not None:
        return False
    store.custom_domain_verified_at = utcnow()
    record(
        "store.custom_domain_verified",
        actor=actor,
        store=store,
        target=store,
        domain=store.custom_domain,
    )
    db.session.commit()
    return True
