"""The tenant: a store, and the mixin every store-owned model shares."""

import functools
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app.database import UTCDateTime, utcnow
from app.extensions import db

STORE_STATUSES = ("active", "suspended")
UTC_ZONE = ZoneInfo("UTC")


@functools.cache
def known_timezones() -> frozenset[str]:
    """The zone names this machine knows, read once per process: listing them walks the whole
    zone database (20-60 ms), which every new store's settings check and settings form did."""
    return frozenset(available_timezones())


LOCAL_TIME_FORMAT = "%d %b %Y, %H:%M"


class Store(db.Model):
    """A vendor's store: the tenant that owns products, orders and staff."""

    __tablename__ = "stores"
    __table_args__ = (
        CheckConstraint(f"status IN {STORE_STATUSES!r}", name="status"),
        CheckConstraint("length(currency) = 3", name="currency_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    locale: Mapped[str] = mapped_column(String(16), default="en_US", server_default="en_US")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # A custom domain resolves only once verified, so nobody can claim a domain they don't control.
    custom_domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    custom_domain_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accent_color: Mapped[str] = mapped_column(
        String(7), default="#0f766e", server_default="#0f766e"
    )
    # Where shoppers write to; shown in the storefront's footer.
    contact_email: Mapped[str | None] = mapped_column(String(254))
    # The storage key of the store's logo (a WebP made from the upload), if it has one.
    logo_key: Mapped[str | None] = mapped_column(String(80))
    # The low-stock threshold of variants without one of their own (None: Pasar's default).
    low_stock_default: Mapped[int | None] = mapped_column(Integer)
    # The value of the TXT record `_pasar.<custom domain>` that proves the domain is the store's.
    domain_token: Mapped[str | None] = mapped_column(String(40))
    # The platform's commission on this store's sales in basis points (None: the default).
    commission_rate_bps: Mapped[int | None] = mapped_column(Integer)
    # Set by the owner: every member needs a second factor to open this store's dashboard.
    require_two_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Soft delete by a platform admin: the store's hosts answer "no such store", its data stays,
    # and its subdomain and custom domain stay taken.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A store opened by its vendor stays unpublished (visible to its members only) until
    # its owner publishes it.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # In production the test gateway (where shoppers approve their own payments) takes no
    # payments unless a platform admin switched it on for this store (or ALLOW_TEST_PAYMENTS).
    test_payments_allowed: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def is_active(self) -> bool:
        """True unless the platform suspended the store."""
        return self.status == "active"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def display_status(self) -> str:
        """active, suspended or deleted, as the console shows it."""
        return "deleted" if self.is_deleted else self.status

    @property
    def is_published(self) -> bool:
        """True once the owner has published the store."""
        return self.published_at is not None

    @property
    def is_open(self) -> bool:
        """True when shoppers can see the store: active and published."""
        return self.is_active and self.is_published

    @property
    def zone(self) -> ZoneInfo:
        """The store's time zone: what its staff and shoppers read times and days in.

        UTC when the setting is empty or names no zone this machine knows (the settings form
        only offers known zones, but a row can outlive a zone database update).
        """
        try:
            return ZoneInfo(self.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return UTC_ZONE

    def day_start(self, day: date) -> datetime:
        """The UTC instant at which `day` begins in the store's time zone."""
        return datetime.combine(day, time.min, self.zone).astimezone(UTC)

    def today(self, now: datetime | None = None) -> date:
        """The store's calendar day at the instant `now` (default: this moment)."""
        return (now or utcnow()).astimezone(self.zone).date()

    def __repr__(self) -> str:
        return f"<Store {self.slug}>"


def local_time(
    moment: datetime | None,
    store: Store | None,
    fmt: str = LOCAL_TIME_FORMAT,
    locale: str | None = None,
) -> str:
    """A stored (UTC) instant as the store reads it; UTC without a store, "" for None.

    `fmt` is strftime-style; month names come in the spoken language (`app.i18n`).
    """
    if moment is None:
        return ""
    from babel.dates import format_datetime

    from app.i18n import format_locale

    local = moment.astimezone(store.zone if store is not None else UTC_ZONE)
    locale = locale or format_locale(store.locale if store is not None else None)
    return format_datetime(local, _cldr_pattern(fmt), tzinfo=local.tzinfo, locale=locale)


_STRFTIME_TO_CLDR = {
    "d": "dd",
    "b": "MMM",
    "B": "MMMM",
    "Y": "y",
    "y": "yy",
    "H": "HH",
    "M": "mm",
    "S": "ss",
    "m": "MM",
    "a": "EEE",
    "A": "EEEE",
    "Z": "zzz",
    "%": "%",
}


def _cldr_pattern(fmt: str) -> str:
    """A strftime format ("%d %b %Y, %H:%M") as a CLDR pattern ("dd MMM y, HH:mm")."""
    out, literal, i = [], "", 0

    def flush():
        nonlocal literal
        if literal:
            out.append("'" + literal.replace("'", "''") + "'")
            literal = ""

    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            flush()
            out.append(_STRFTIME_TO_CLDR.get(fmt[i + 1], ""))
            i += 2
            continue
        if ch.isalpha() or ch == "'":
            literal += ch
        else:
            flush()
            out.append(ch)
        i += 1
    flush()
    return "".join(out)


class StoreScoped:
    """Mixin for store-owned rows: a non-null, indexed `store_id`."""

    @declared_attr
    def store_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
