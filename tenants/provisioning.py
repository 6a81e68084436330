"""Creating, suspending and reactivating stores."""

import re
import secrets

from babel import Locale, UnknownLocaleError
from flask_babel import gettext
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Membership, User
from app.audit.service import record
from app.database import utcnow
from app.extensions import db
from app.field_errors import FieldError
from app.money import currencies
from tenants.hosts import normalise_host
from tenants.models import Store, known_timezones
from tenants.rls import all_stores
from tenants.slugs import slug_problem

_COLOR_RE = re.compile(r"^#[0-9a-f]{6}$")


class StoreSettingsError(FieldError):
    """A store setting was refused; the message says why, for the person who entered it."""


def slug_is_taken(slug: str) -> bool:
    """True if any store, whatever its status, already uses this slug."""
    return db.session.scalar(select(func.count()).where(Store.slug == slug)) > 0


def validate_store_settings(
    *, currency: str, locale: str, timezone: str, accent_color: str
) -> dict[str, str]:
    """Normalise store settings or raise StoreSettingsError naming the bad field."""
    currency = (currency or "").strip().upper()
    if currency not in currencies():
        raise StoreSettingsError(
            "currency",
            gettext("%(currency)s is not a currency.", currency=currency)
            if currency
            else gettext("Choose a currency."),
        )
    try:
        locale = str(Locale.parse((locale or "").strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise StoreSettingsError(
            "locale", gettext("%(locale)s is not a known locale.", locale=repr(locale))
        ) from None
    if timezone not in known_timezones():
        raise StoreSettingsError(
            "timezone", gettext("%(zone)s is not a known time zone.", zone=repr(timezone))
        )
    accent_color = (accent_color or "").strip().lower()
    if not _COLOR_RE.fullmatch(accent_color):
        raise StoreSettingsError("accent_color", gettext("Use a colour like #0f766e."))
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
        raise StoreSettingsError(
            "owner", gettext("Verify your email address before opening a store.")
        )
    problem = slug_problem(slug)
    if problem:
        raise StoreSettingsError("slug", problem)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise StoreSettingsError("name", gettext("A store name needs 1 to 120 characters."))
    settings = validate_store_settings(
        currency=currency, locale=locale, timezone=timezone, accent_color=accent_color
    )
    if slug_is_taken(slug):
        raise StoreSettingsError("slug", gettext("That subdomain is taken."))
    store = Store(slug=slug, name=name, published_at=utcnow() if published else None, **settings)
    # The new store's first rows are written before any request is on its host.
    with all_stores(f"provisioning store {slug!r} for user {owner.id}"):
        try:
            with db.session.begin_nested():
                db.session.add(store)
                db.session.add(Membership(store=store, user=owner, role="owner"))
                db.session.flush()
        except IntegrityError:
            # Another request took the slug between our check and our insert.
            raise StoreSettingsError("slug", gettext("That subdomain is taken.")) from None
        record("store.created", actor=owner, store=store, target=store, slug=slug)
        db.session.commit()
    return store


def set_custom_domain(store: Store, domain: str | None, *, actor: User | None = None) -> None:
    """Attach an unverified custom domain to a store (or remove it with None/"").

    The domain must be a real host name outside the platform's own domain and not another
    store's; a new domain gets a new TXT token and loses any earlier verification.
    """
    from flask import current_app

    if domain:
        host = normalise_host(domain.strip())
        if host is None or "." not in host or ":" in host:
            raise StoreSettingsError(
                "custom_domain",
                gettext("%(domain)s is not a domain name.", domain=repr(domain.strip()[:80])),
            )
        if re.fullmatch(r"[\d.]+", host) or host.startswith("[") or len(host) > 253:
            raise StoreSettingsError(
                "custom_domain", gettext("Use a domain name, not an IP address.")
            )
        platform = current_app.config["PLATFORM_HOST"].split(":")[0]
        if host == platform or host.endswith("." + platform):
            raise StoreSettingsError(
                "custom_domain",
                gettext(
                    "Addresses under %(platform)s are Pasar's: your store already has one.",
                    platform=platform,
                ),
            )
        taken = db.session.scalar(
            select(func.count()).where(Store.custom_domain == host, Store.id != store.id)
        )
        if taken:
            raise StoreSettingsError("custom_domain", gettext("Another store uses that domain."))
        domain = host
    domain = domain or None
    if domain == store.custom_domain:
        return
    before = store.custom_domain
    store.custom_domain = domain
    store.custom_domain_verified_at = None
    store.domain_token = secrets.token_hex(16) if domain else None
    record(
        "store.custom_domain_set",
        actor=actor,
        store=store,
        target=store,
        domain=domain,
        changes={"custom_domain": [before, domain]},
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise StoreSettingsError(
            "custom_domain", gettext("Another store uses that domain.")
        ) from None


def dns_records(store: Store) -> list[tuple[str, str, str]]:
    """The (type, name, value) records a vendor creates for their custom domain."""
    from flask import current_app

    if not store.custom_domain:
        return []
    platform = current_app.config["PLATFORM_HOST"].split(":")[0]
    return [
        ("CNAME", store.custom_domain, f"{store.slug}.{platform}"),
        ("TXT", f"_pasar.{store.custom_domain}", f"pasar-verify={store.domain_token or ''}"),
    ]


def subdomain_answer(slug: str) -> tuple[bool, str]:
    """Whether a typed subdomain can be had, and the reason shown as the vendor types."""
    problem = slug_problem(slug)
    if problem:
        return False, problem
    if slug_is_taken(slug):
        return False, "That subdomain is taken."
    return True, "That subdomain is available."


def publish_store(store: Store, *, actor: User | None = None) -> bool:
    """Open an unpublished store to shoppers; False if it was already published.

    StoreSettingsError (field "launch") when shoppers couldn't buy anything: it needs an
    active product with stock and a way to pay (checkout settings chosen; in production a store
    on the test gateway needs a real provider, or the platform's leave to take test payments).
    """
    from app.onboarding.checklist import publish_problems

    problems = [] if store.is_published else publish_problems(store)
    if problems:
        # The problems are marked with N_ (the launch checklist shows them too): translated here.
        raise StoreSettingsError("launch", " ".join(gettext(problem) for problem in problems))
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


def delete_store(store: Store, *, actor: User | None = None, confirm: str = "", reason: str = ""):
    """Soft-delete a store: its hosts stop answering, its data stays, its names stay taken.

    `confirm` must be the store's subdomain, typed (the console's safeguard)."""
    if store.is_deleted:
        raise StoreSettingsError("confirm", gettext("This store was already deleted."))
    if (confirm or "").strip().lower() != store.slug:
        raise StoreSettingsError(
            "confirm",
            gettext(
                "Type the store's subdomain, %(slug)s, to confirm deleting it.", slug=store.slug
            ),
        )
    deleted = db.session.execute(
        update(Store)
        .where(Store.id == store.id, Store.deleted_at.is_(None))
        .values(deleted_at=utcnow())
    ).rowcount
    if not deleted:
        db.session.rollback()
        raise StoreSettingsError("confirm", gettext("This store was already deleted."))
    record("store.deleted", actor=actor, store=store, target=store, reason=reason)
    db.session.commit()
    db.session.refresh(store)


def set_store_status(store: Store, status: str, *, actor: User | None = None, reason: str = ""):
    """Suspend (status "suspended") or reactivate (status "active") a store."""
    if status not in ("active", "suspended"):
        raise StoreSettingsError(
            "status", gettext("Unknown store status %(status)s.", status=repr(status))
        )
    if store.is_deleted:
        raise StoreSettingsError("status", gettext("This store was deleted: it can't be changed."))
    if store.status != status:
        store.status = status
        action = "store.suspended" if status == "suspended" else "store.reactivated"
        record(action, actor=actor, store=store, target=store, reason=reason)
        db.session.commit()


def update_store_settings(
    store: Store,
    *,
    actor: User | None = None,
    name: str,
    contact_email: str | None = None,
    low_stock_default: int | None = None,
    **settings,
):
    """Validate and save a store's name, currency, locale, time zone, accent colour, contact
    email and low-stock default; audited with each changed field's before and after."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise StoreSettingsError("name", gettext("A store name needs 1 to 120 characters."))
    clean = validate_store_settings(**settings)
    clean["contact_email"] = _contact_email(contact_email)
    if low_stock_default is not None and not 0 <= low_stock_default <= 100_000:
        raise StoreSettingsError(
            "low_stock_default", gettext("Use a whole number from 0 to 100,000.")
        )
    clean["low_stock_default"] = low_stock_default
    changed = {
        key: value for key, value in {"name": name, **clean}.items() if getattr(store, key) != value
    }
    before = {key: getattr(store, key) for key in changed}
    for key, value in changed.items():
        setattr(store, key, value)
    if changed:
        record(
            "store.settings_changed",
            actor=actor,
            store=store,
            target=store,
            changed=sorted(changed),
            changes={key: [before[key], value] for key, value in changed.items()},
        )
        db.session.commit()
    return changed


def _contact_email(raw: str | None) -> str | None:
    from email_validator import EmailNotValidError, validate_email

    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise StoreSettingsError(
            "contact_email", gettext("That email address is not valid: %(error)s", error=error)
        ) from None


def verify_custom_domain(store: Store, *, actor: User | None = None) -> bool:
    """Mark the store's custom domain verified (a platform admin checked its DNS)."""
    if store.is_deleted:
        raise StoreSettingsError(
            "custom_domain", gettext("This store was deleted: it can't be changed.")
        )
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
