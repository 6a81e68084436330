"""Creating and editing a store's coupons: validate everything first, then write.

Amounts are typed as decimals in the store currency; dates are whole days in the store's time
zone, the last day included (a coupon ending on 31 January works until midnight that night).
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import IntegrityError

from app.catalog.editing import parse_amount
from app.catalog.service import CatalogError
from app.extensions import db
from app.orders.models import Coupon
from tenants.models import Store
from tenants.query import scoped_select

CODE_RE = re.compile(r"^[A-Z0-9-]{3,40}$")
KINDS = ("percent", "fixed")
MAX_LIMIT = 1_000_000


class CouponError(ValueError):
    """A coupon change was refused; `field` names the input, `message` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class CouponInput:
    """What the vendor typed, as text."""

    code: str = ""
    kind: str = "percent"
    value: str = ""
    min_subtotal: str = ""
    starts_on: str = ""
    ends_on: str = ""
    usage_limit: str = ""
    per_customer_limit: str = ""
    active: bool = True


def _zone(store: Store):
    try:
        return ZoneInfo(store.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _day(text: str, field: str, label: str) -> date | None:
    raw = (text or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CouponError(field, f"The {label} must be a date such as 2026-01-31.") from None


def _limit(text: str, field: str, label: str) -> int | None:
    raw = (text or "").strip().replace(",", "")
    if not raw:
        return None
    if not re.fullmatch(r"\d+", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise CouponError(field, f"{label} must be a whole number from 1 to {MAX_LIMIT:,}.")
    return int(raw)


def _amount(text: str, currency: str, field: str, label: str) -> int:
    try:
        return parse_amount(text, currency, field=field, label=label)
    except CatalogError as exc:
        raise CouponError(field, exc.message) from None


def clean(store: Store, data: CouponInput, *, coupon: Coupon | None = None) -> dict:
    """The validated column values of a coupon, or CouponError for the first bad field."""
    code = (data.code or "").strip().upper()
    if not CODE_RE.fullmatch(code):
        raise CouponError(
            "code", "A code has 3 to 40 letters, digits or dashes (no spaces or other signs)."
        )
    clash = db.session.scalar(
        scoped_select(Coupon, store).where(
            Coupon.code == code, Coupon.id != (coupon.id if coupon else 0)
        )
    )
    if clash is not None:
        raise CouponError("code", f"There is already a coupon with the code {code}.")
    if data.kind not in KINDS:
        raise CouponError("kind", "Choose a percentage or a fixed amount.")
    if data.kind == "percent":
        raw = (data.value or "").strip().rstrip("%").strip()
        if not re.fullmatch(r"\d{1,3}", raw) or not 1 <= int(raw) <= 100:
            raise CouponError("value", "A percentage is a whole number from 1 to 100.")
        value = int(raw)
    else:
        value = _amount(data.value, store.currency, "value", "The discount")
        if value <= 0:
            raise CouponError("value", "The discount must be more than zero.")
    min_subtotal = (
        _amount(data.min_subtotal, store.currency, "min_subtotal", "The minimum subtotal")
        if (data.min_subtotal or "").strip()
        else 0
    )
    starts_on = _day(data.starts_on, "starts_on", "start date")
    ends_on = _day(data.ends_on, "ends_on", "end date")
    if starts_on and ends_on and ends_on < starts_on:
        raise CouponError("ends_on", "The last day must be on or after the first day.")
    usage_limit = _limit(data.usage_limit, "usage_limit", "The total usage limit")
    per_customer = _limit(data.per_customer_limit, "per_customer_limit", "The per-customer limit")
    if coupon is not None and usage_limit is not None and usage_limit < coupon.times_used:
        raise CouponError(
            "usage_limit",
            f"This coupon has been used {coupon.times_used} times already; "
            "the limit can't be lower.",
        )
    zone = _zone(store)
    return {
        "code": code,
        "kind": data.kind,
        "value": value,
        "min_subtotal": min_subtotal,
        "starts_at": datetime.combine(starts_on, time.min, zone).astimezone(UTC)
        if starts_on
        else None,
        "ends_at": datetime.combine(ends_on + timedelta(days=1), time.min, zone).astimezone(UTC)
        if ends_on
        else None,
        "usage_limit": usage_limit,
        "per_customer_limit": per_customer,
        "active": bool(data.active),
    }


def as_input(store: Store, coupon: Coupon) -> CouponInput:
    """A coupon as the edit form shows it."""
    from app.catalog.editing import format_amount

    zone = _zone(store)
    return CouponInput(
        code=coupon.code,
        kind=coupon.kind,
        value=str(coupon.value)
        if coupon.kind == "percent"
        else format_amount(coupon.value, store.currency),
        min_subtotal=format_amount(coupon.min_subtotal, store.currency)
        if coupon.min_subtotal
        else "",
        starts_on=coupon.starts_at.astimezone(zone).date().isoformat() if coupon.starts_at else "",
        ends_on=last_day(store, coupon.ends_at).isoformat() if coupon.ends_at else "",
        usage_limit=str(coupon.usage_limit) if coupon.usage_limit is not None else "",
        per_customer_limit=str(coupon.per_customer_limit)
        if coupon.per_customer_limit is not None
        else "",
        active=coupon.active,
    )


def last_day(store: Store, ends_at: datetime) -> date:
    """The last local day a coupon works (it stops at the following midnight)."""
    return (ends_at.astimezone(_zone(store)) - timedelta(days=1)).date()


def _save(coupon: Coupon) -> Coupon:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise CouponError("code", "There is already a coupon with that code.") from None
    return coupon


def create_coupon(store: Store, data: CouponInput) -> Coupon:
    """A new coupon of `store`; CouponError with nothing written if anything is wrong."""
    values = clean(store, data)
    coupon = Coupon(store_id=store.id, **values)
    db.session.add(coupon)
    return _save(coupon)


def update_coupon(store: Store, coupon: Coupon, data: CouponInput) -> Coupon:
    """Apply the edit form to a coupon of `store`."""
    if coupon.store_id != store.id:
        raise CouponError("code", "That coupon belongs to another store.")
    values = clean(store, data, coupon=coupon)
    for name, value in values.items():
        setattr(coupon, name, value)
    return _save(coupon)


def deactivate(coupon: Coupon) -> Coupon:
    """Stop a coupon from being used at checkout (its history stays)."""
    coupon.active = False
    db.session.commit()
    return coupon


def list_coupons(store: Store) -> list[Coupon]:
    """All of the store's coupons, active first, newest first."""
    return list(
        db.session.scalars(
            scoped_select(Coupon, store).order_by(
                Coupon.active.desc(), Coupon.created_at.desc(), Coupon.id.desc()
            )
        )
    )
