"""Coupons: list, get, create, update, with the dashboard's rules (app.orders.coupons)."""

from flask import g
from marshmallow import Schema, fields, validate
from sqlalchemy.exc import IntegrityError

from app.api import bp
from app.api.auth import requires
from app.api.common import (
    ID,
    IDEMPOTENCY_HEADER,
    ListArgs,
    cursor_page,
    get_or_404,
    page_schema,
    refused,
)
from app.api.idempotency import write
from app.extensions import db
from app.field_errors import FieldError
from app.money import MAX_AMOUNT, to_decimal
from app.orders import coupons
from app.orders.models import Coupon
from tenants.query import scoped_select

TAG = "coupons"


def _amount_text(amount: int | None) -> str:
    return "" if not amount else format(to_decimal(amount, g.store.currency), "f")


class CouponSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    kind = fields.String(metadata={"enum": list(coupons.KINDS)})
    value = fields.Integer(metadata={"description": "Percent, or minor units for fixed"})
    min_subtotal = fields.Integer()
    currency = fields.Function(lambda coupon: g.store.currency, metadata={"type": "string"})
    starts_on = fields.Function(
        lambda c: g.store.today(c.starts_at).isoformat() if c.starts_at else None,
        metadata={"type": ["string", "null"], "format": "date"},
    )
    ends_on = fields.Function(
        lambda c: coupons.last_day(g.store, c.ends_at).isoformat() if c.ends_at else None,
        metadata={"type": ["string", "null"], "format": "date", "description": "Last day"},
    )
    usage_limit = fields.Integer(allow_none=True)
    per_customer_limit = fields.Integer(allow_none=True)
    times_used = fields.Integer()
    active = fields.Boolean()
    created_at = fields.DateTime()


CouponPage = page_schema(CouponSchema, "CouponPage")


class CouponListArgs(ListArgs):
    active = fields.Boolean(load_default=None, allow_none=True)


class CouponWriteSchema(Schema):
    code = fields.String(validate=validate.Length(min=3, max=40))
    kind = fields.String(validate=validate.OneOf(coupons.KINDS))
    value = fields.Integer(validate=validate.Range(min=1, max=MAX_AMOUNT))
    min_subtotal = fields.Integer(validate=validate.Range(min=0, max=MAX_AMOUNT))
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    usage_limit = fields.Integer(
        allow_none=True, validate=validate.Range(min=1, max=coupons.MAX_LIMIT)
    )
    per_customer_limit = fields.Integer(
        allow_none=True, validate=validate.Range(min=1, max=coupons.MAX_LIMIT)
    )
    active = fields.Boolean()


class CouponCreateSchema(CouponWriteSchema):
    code = fields.String(required=True, validate=validate.Length(min=3, max=40))
    kind = fields.String(required=True, validate=validate.OneOf(coupons.KINDS))
    value = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_AMOUNT))


def _input(data: dict, current: coupons.CouponInput) -> coupons.CouponInput:
    """The API's fields over the coupon's current form values, as the form's text."""
    kind = data.get("kind", current.kind)
    values = {
        "code": data.get("code", current.code),
        "kind": kind,
        "active": data.get("active", current.active),
    }
    if "value" in data:
        values["value"] = str(data["value"]) if kind == "percent" else _amount_text(data["value"])
    if "min_subtotal" in data:
        values["min_subtotal"] = _amount_text(data["min_subtotal"])
    for name in ("starts_on", "ends_on"):
        if name in data:
            values[name] = data[name].isoformat() if data[name] else ""
    for name in ("usage_limit", "per_customer_limit"):
        if name in data:
            values[name] = "" if data[name] is None else str(data[name])
    return coupons.CouponInput(**{**current.__dict__, **values})


def _save(coupon: Coupon) -> Coupon:
    try:
        with db.session.begin_nested():
            db.session.add(coupon)
    except IntegrityError:
        raise refused(
            coupons.CouponError("code", "There is already a coupon with that code.")
        ) from None
    return coupon


@bp.get("/coupons")
@bp.doc(tags=[TAG])
@requires("coupons:read")
@bp.arguments(CouponListArgs, location="query")
@bp.response(200, CouponPage)
def coupon_list(args):
    """List coupons, newest first; `active` filters."""
    stmt = scoped_select(Coupon, g.store)
    if args["active"] is not None:
        stmt = stmt.where(Coupon.active.is_(args["active"]))
    return cursor_page(stmt, Coupon.id, args)


@bp.get(f"/coupons/<{ID}:coupon_id>")
@bp.doc(tags=[TAG])
@requires("coupons:read")
@bp.response(200, CouponSchema)
def coupon_get(coupon_id):
    """One coupon with how often it was used."""
    return get_or_404(Coupon, coupon_id)


@bp.post("/coupons")
@bp.doc(tags=[TAG], parameters=[IDEMPOTENCY_HEADER])
@requires("coupons:write")
@write
@bp.arguments(CouponCreateSchema)
@bp.response(201, CouponSchema)
def coupon_create(data):
    """Create a coupon: a percentage (1 to 100) or a fixed amount in minor units."""
    try:
        values = coupons.clean(g.store, _input(data, coupons.CouponInput()))
    except FieldError as exc:
        raise refused(exc) from None
    return _save(Coupon(store_id=g.store.id, **values))


@bp.patch(f"/coupons/<{ID}:coupon_id>")
@bp.doc(tags=[TAG], parameters=[IDEMPOTENCY_HEADER])
@requires("coupons:write")
@write
@bp.arguments(CouponWriteSchema)
@bp.response(200, CouponSchema)
def coupon_update(data, coupon_id):
    """Change a coupon's fields; those left out keep their values."""
    coupon = get_or_404(Coupon, coupon_id)
    try:
        values = coupons.clean(
            g.store, _input(data, coupons.as_input(g.store, coupon)), coupon=coupon
        )
    except FieldError as exc:
        raise refused(exc) from None
    for name, value in values.items():
        setattr(coupon, name, value)
    return _save(coupon)
