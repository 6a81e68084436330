"""Creating and editing a store's coupons: validate everything first, then write.

Amounts are typed as decimals in the store currency; dates are whole days in the store's time
zone, the last day included (a coupon ending on 31 January works until midnight that night).
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext, ngettext
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.field_errors import FieldError
from app.i18n import N_
from app.money import format_amount, parse_amount
from app.orders.models import Coupon
from tenants.models import Store
from tenants.query import scoped_select

CODE_RE = re.compile(r"^[A-Z0-9-]{3,40}$")
KINDS = ("percent", "fixed")
MAX_LIMIT = 1_000_000


class CouponError(FieldError):
    """A coupon change was refused; `field` names the input, `message` says why."""


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


def _day(text: str, field: str, refusal: str) -> date | None:
    raw = (text or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CouponError(field, gettext(refusal)) from None


def _limit(text: str, field: str, refusal: str) -> int | None:
    """A positive whole number up to MAX_LIMIT, or CouponError with `refusal` (%(max)s)."""
    raw = (text or "").strip().replace(",", "")
    if not raw:
        return None
    if not re.fullmatch(r"\d+", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise CouponError(field, gettext(refusal, max=f"{MAX_LIMIT:,}"))
    return int(raw)


def clean(store: Store, data: CouponInput, *, coupon: Coupon | None = None) -> dict:
    """The validated column values of a coupon, or CouponError for the first bad field."""
    code = (data.code or "").strip().upper()
    if not CODE_RE.fullmatch(code):
        raise CouponError(
            "code",
            gettext("A code has 3 to 40 letters, digits or dashes (no spaces or other signs)."),
        )
    clash = db.session.scalar(
        scoped_select(Coupon, store).where(
            Coupon.code == code, Coupon.id != (coupon.id if coupon else 0)
        )
    )
    if clash is not None:
        raise CouponError(
            "code", gettext("There is already a coupon with the code %(code)s.", code=code)
        )
    if data.kind not in KINDS:
        raise CouponError("kind", gettext("Choose a percentage or a fixed amount."))
    if data.kind == "percent":
        raw = (data.value or "").strip().rstrip("%").strip()
        if not re.fullmatch(r"\d{1,3}", raw) or not 1 <= int(raw) <= 100:
            raise CouponError("value", gettext("A percentage is a whole number from 1 to 100."))
        value = int(raw)
    else:
        value = parse_amount(
            data.value, store.currency, field="value", label=gettext("The discount")
        )
        if value <= 0:
            raise CouponError("value", gettext("The discount must be more than zero."))
    min_subtotal = parse_amount(
        data.min_subtotal,
        store.currency,
        field="min_subtotal",
        label=gettext("The minimum subtotal"),
        blank=0,
    )
    starts_on = _day(
        data.starts_on, "starts_on", N_("The start date must be a date such as 2026-01-31.")
    )
    ends_on = _day(data.ends_on, "ends_on", N_("The end date must be a date such as 2026-01-31."))
    if starts_on and ends_on and ends_on < starts_on:
        raise CouponError("ends_on", gettext("The last day must be on or after the first day."))
    usage_limit = _limit(
        data.usage_limit,
        "usage_limit",
        N_("The total usage limit must be a whole number from 1 to %(max)s."),
    )
    per_customer = _limit(
        data.per_customer_limit,
        "per_customer_limit",
        N_("The per-customer limit must be a whole number from 1 to %(max)s."),
    )
    if coupon is not None and usage_limit is not None and usage_limit < coupon.times_used:
        raise CouponError(
            "usage_limit",
            ngettext(
                "This coupon has been used %(num)s time already; the limit can't be lower.",
                "This coupon has been used %(num)s times already; the limit can't be lower.",
                coupon.times_used,
            ),
        )
    return {
        "code": code,
        "kind": data.kind,
        "value": value,
        "min_subtotal": min_subtotal,
        "starts_at": store.day_start(starts_on) if starts_on else None,
        "ends_at": store.day_start(ends_on + timedelta(days=1)) if ends_on else None,
        "usage_limit": usage_limit,
        "per_customer_limit": per_customer,
        "active": bool(data.active),
    }


def as_input(store: Store, coupon: Coupon) -> CouponInput:
    """A coupon as the edit form shows it."""
    return CouponInput(
        code=coupon.code,
        kind=coupon.kind,
        value=str(coupon.value)
        if coupon.kind == "percent"
        else format_amount(coupon.value, store.currency),
        min_subtotal=format_amount(coupon.min_subtotal, store.currency)
        if coupon.min_subtotal
        else "",
        starts_on=store.today(coupon.starts_at).isoformat() if coupon.starts_at else "",
        ends_on=last_day(store, coupon.ends_at).isoformat() if coupon.ends_at else "",
        usage_limit=str(coupon.usage_limit) if coupon.usage_limit is not None else "",
        per_customer_limit=str(coupon.per_customer_limit)
        if coupon.per_customer_limit is not None
        else "",
        active=coupon.active,
    )


def last_day(store: Store, ends_at: datetime) -> date:
    """The last local day a coupon works (it stops at the following midnight)."""
    return store.today(ends_at) - timedelta(days=1)


def _save(coupon: Coupon) -> Coupon:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise CouponError("code", gettext("There is already a coupon with that code.")) from None
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
        raise CouponError("code", gettext("That coupon belongs to another store."))
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
