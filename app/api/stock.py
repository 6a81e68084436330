"""Stock levels and adjustments, through the same ledger and conditional update as the
dashboard (app.inventory.adjust): a reason always, never below 0, 409 for a stale count."""

from flask import g
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from app.api import bp
from app.api.auth import requires
from app.api.common import ID, IDEMPOTENCY_HEADER, ListArgs, cursor_page, get_or_404, page_schema
from app.api.idempotency import write
from app.api.problems import ProblemError
from app.catalog.models import Variant
from app.catalog.service import MAX_STOCK
from app.extensions import db
from app.inventory import adjust, alerts, holds
from app.inventory.models import StockMovement

TAG = "stock"


class StockLevelSchema(Schema):
    variant_id = fields.Integer(attribute="id")
    product_id = fields.Integer()
    sku = fields.String()
    stock = fields.Integer(metadata={"description": "Units on hand (open orders already taken)"})
    held = fields.Integer(
        attribute="held_by_others",
        metadata={"description": "Units shoppers' live checkout holds keep (not movements)"},
    )
    available = fields.Integer(
        attribute="units_left",
        metadata={"description": "What a shopper can buy now: stock minus live holds"},
    )
    track_inventory = fields.Boolean()
    low_stock_threshold = fields.Method("_threshold", metadata={"type": "integer"})

    def _threshold(self, variant) -> int:
        # The store's default, read once per request rather than once per variant.
        if "api_stock_default" not in g:
            g.api_stock_default = alerts.store_default(g.store.id)
        return alerts.threshold_of(variant, g.api_stock_default)


StockPage = page_schema(StockLevelSchema, "StockPage")


class StockListArgs(ListArgs):
    sku = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    product_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))


class MovementSchema(Schema):
    id = fields.Integer()
    variant_id = fields.Integer()
    kind = fields.String()
    quantity = fields.Integer(metadata={"description": "Signed: + received, - taken"})
    stock_after = fields.Integer()
    reason = fields.String()
    reference = fields.String(allow_none=True)
    created_at = fields.DateTime()


MovementPage = page_schema(MovementSchema, "MovementPage")


class AdjustmentSchema(Schema):
    """Either `change` (signed) or `set_to` (a count, which needs `expected_stock`)."""

    change = fields.Integer(validate=validate.Range(min=-MAX_STOCK, max=MAX_STOCK))
    set_to = fields.Integer(validate=validate.Range(min=0, max=MAX_STOCK))
    kind = fields.String(load_default="adjust", validate=validate.OneOf(tuple(adjust.KINDS)))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=adjust.MAX_REASON))
    expected_stock = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_STOCK),
        metadata={"description": "The stock you based this on: 409 if it has changed"},
    )

    @validates_schema
    def _one_of(self, data, **kwargs):
        if ("change" in data) == ("set_to" in data):
            raise ValidationError("Send either change or set_to.", "change")
        if "set_to" in data and data.get("expected_stock") is None:
            raise ValidationError("set_to needs expected_stock.", "expected_stock")


class AdjustmentResultSchema(Schema):
    variant_id = fields.Integer()
    before = fields.Integer()
    after = fields.Integer()
    change = fields.Integer()


@bp.get("/stock")
@bp.doc(tags=[TAG])
@requires("stock:read")
@bp.arguments(StockListArgs, location="query")
@bp.response(200, StockPage)
def stock_list(args):
    """Stock levels of the store's variants, newest first; filter by `sku` or `product_id`."""
    stmt = select(Variant).where(Variant.store_id == g.store.id)
    if args["sku"]:
        stmt = stmt.where(Variant.sku == args["sku"].strip())
    if args["product_id"]:
        stmt = stmt.where(Variant.product_id == args["product_id"])
    page = cursor_page(stmt, Variant.id, args)
    holds.available_for(page["data"])
    return page


@bp.get(f"/stock/<{ID}:variant_id>")
@bp.doc(tags=[TAG])
@requires("stock:read")
@bp.response(200, StockLevelSchema)
def stock_get(variant_id):
    """One variant's stock level."""
    variant = get_or_404(Variant, variant_id)
    holds.available_for([variant])
    return variant


@bp.get(f"/stock/<{ID}:variant_id>/movements")
@bp.doc(tags=[TAG])
@requires("stock:read")
@bp.arguments(ListArgs, location="query")
@bp.response(200, MovementPage)
def stock_movements(args, variant_id):
    """A variant's ledger: every movement, newest first."""
    variant = get_or_404(Variant, variant_id)
    stmt = select(StockMovement).where(
        StockMovement.store_id == g.store.id, StockMovement.variant_id == variant.id
    )
    return cursor_page(stmt, StockMovement.id, args)


@bp.post(f"/stock/<{ID}:variant_id>/adjustments")
@bp.doc(tags=[TAG], parameters=[IDEMPOTENCY_HEADER])
@requires("stock:write")
@write
@bp.arguments(AdjustmentSchema)
@bp.response(201, AdjustmentResultSchema)
def stock_adjust(data, variant_id):
    """Adjust a variant's stock by `change`, or set it to a counted `set_to` (one movement)."""
    variant = get_or_404(Variant, variant_id)
    expected = data.get("expected_stock")
    setting = "set_to" in data
    request = adjust.StockRequest(
        mode="set" if setting else "change",
        quantity=str(data["set_to"] if setting else data["change"]),
        kind=data["kind"],
        reason=data["reason"],
        based_on="" if expected is None else str(expected),
    )
    try:
        done = adjust.adjust_stock(g.store, variant, request, strict=expected is not None)
    except adjust.StockConflict as exc:
        raise ProblemError(
            409,
            f"The stock is {exc.current}, not the expected {exc.expected}.",
            errors=[{"location": "json", "field": "expected_stock", "message": exc.message}],
        ) from None
    except adjust.StockInputError as exc:
        field = {"quantity": "set_to" if setting else "change"}.get(exc.field, exc.field)
        raise ProblemError(
            exc.status,
            exc.message,
            errors=[{"location": "json", "field": field, "message": exc.message}],
        ) from None
    db.session.flush()
    return {
        "variant_id": variant.id,
        **{k: getattr(done, k) for k in ("before", "after", "change")},
    }
