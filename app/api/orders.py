"""Orders with lines, payments, refunds and timeline; shipping and delivery through
app.orders.fulfilment (the same state machine and row lock as the dashboard)."""

from collections import defaultdict

from flask import g
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api import bp
from app.api.auth import requires
from app.api.common import ID, IDEMPOTENCY_HEADER, ListArgs, cursor_page, page_schema, refused
from app.api.idempotency import write
from app.api.problems import ProblemError
from app.extensions import db
from app.field_errors import FieldError
from app.orders import fulfilment, listing, states
from app.orders.models import Order
from app.payments.models import Payment

TAG = "orders"
JSON_OBJECT = {"type": "object", "additionalProperties": True}


class LineSchema(Schema):
    id = fields.Integer()
    variant_id = fields.Integer(allow_none=True)
    product_title = fields.String()
    variant_title = fields.String()
    sku = fields.String()
    unit_price = fields.Integer()
    quantity = fields.Integer()
    line_total = fields.Integer()


class PaymentSchema(Schema):
    id = fields.Integer()
    provider = fields.String()
    provider_ref = fields.String()
    kind = fields.String(metadata={"enum": ["charge", "refund"]})
    amount = fields.Integer(metadata={"description": "Minor units; negative for a refund"})
    currency = fields.String()
    created_at = fields.DateTime()


class EventSchema(Schema):
    id = fields.Integer()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    note = fields.String()
    created_at = fields.DateTime()


class OrderSchema(Schema):
    id = fields.Integer()
    number = fields.Integer()
    status = fields.String(metadata={"enum": list(states.STATUSES)})
    payment_state = fields.Function(
        fulfilment.payment_state,
        metadata={"type": "string", "enum": ["unpaid", "paid", "partially_refunded", "refunded"]},
    )
    fulfilment_state = fields.Function(
        lambda order: _fulfilment_state(order),
        metadata={"type": "string", "enum": list(listing.FULFILMENT_STATES)},
    )
    email = fields.String()
    currency = fields.String()
    subtotal = fields.Integer()
    discount = fields.Integer()
    shipping = fields.Integer()
    tax = fields.Integer()
    tax_inclusive = fields.Boolean()
    total = fields.Integer()
    coupon_code = fields.String(allow_none=True)
    shipping_method = fields.String()
    shipping_address = fields.Dict(metadata=JSON_OBJECT)
    billing_address = fields.Dict(metadata=JSON_OBJECT)
    placed_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    lines = fields.List(fields.Nested(LineSchema))
    payments = fields.List(fields.Nested(PaymentSchema), attribute="api_charges")
    refunds = fields.List(fields.Nested(PaymentSchema), attribute="api_refunds")
    timeline = fields.List(fields.Nested(EventSchema), attribute="events")


OrderPage = page_schema(OrderSchema, "OrderPage")


class OrderListArgs(ListArgs):
    q = fields.String(load_default="", validate=validate.Length(max=200))
    status = fields.String(load_default="all", validate=validate.OneOf(listing.STATUS_FILTERS))
    payment = fields.String(load_default="all", validate=validate.OneOf(listing.PAYMENT_FILTERS))
    fulfilment = fields.String(
        load_default="all", validate=validate.OneOf(listing.FULFILMENT_FILTERS)
    )
    date_from = fields.Date(load_default=None, data_key="from")
    date_to = fields.Date(load_default=None, data_key="to")


class ShipSchema(Schema):
    carrier = fields.String(
        required=True, validate=validate.Length(min=1, max=fulfilment.MAX_CARRIER)
    )
    tracking_number = fields.String(
        required=True, validate=validate.Length(min=1, max=fulfilment.MAX_TRACKING)
    )


def _fulfilment_state(order: Order) -> str:
    """As the orders list shows it: the order's history decides."""
    reached = {event.to_status for event in order.events}
    if states.DELIVERED in reached:
        return "delivered"
    if states.FULFILLED in reached:
        return "shipped"
    if order.status in (states.CANCELLED, states.REFUNDED):
        return "closed"
    return "unfulfilled"


def _with_payments(orders: list[Order]) -> list[Order]:
    """Attach each order's payments and refunds (one query for the whole page)."""
    found = defaultdict(list)
    if orders:
        for payment in db.session.scalars(
            select(Payment)
            .where(
                Payment.store_id == g.store.id,
                Payment.order_id.in_([order.id for order in orders]),
            )
            .order_by(Payment.created_at, Payment.id)
        ):
            found[payment.order_id].append(payment)
    for order in orders:
        order.api_charges = [p for p in found[order.id] if p.kind == "charge"]
        order.api_refunds = [p for p in found[order.id] if p.kind == "refund"]
    return orders


def _loaded():
    return select(Order).options(selectinload(Order.lines), selectinload(Order.events))


def _order_or_404(order_id: int) -> Order:
    order = db.session.scalar(_loaded().where(Order.store_id == g.store.id, Order.id == order_id))
    if order is None:
        raise ProblemError(404, f"No order with id {order_id} in this store.")
    return _with_payments([order])[0]


@bp.get("/orders")
@bp.doc(tags=[TAG])
@requires("orders:read")
@bp.arguments(OrderListArgs, location="query")
@bp.response(200, OrderPage)
def order_list(args):
    """List orders, newest first, with the dashboard's filters (q, status, payment, …)."""
    filters = listing.order_filters(
        args["q"],
        args["status"],
        args["payment"],
        args["date_from"].isoformat() if args["date_from"] else "",
        args["date_to"].isoformat() if args["date_to"] else "",
        args["fulfilment"],
    )
    ids = listing.filtered_orders(g.store, filters).with_only_columns(Order.id)
    page = cursor_page(_loaded().where(Order.id.in_(ids.scalar_subquery())), Order.id, args)
    _with_payments(page["data"])
    return page


@bp.get(f"/orders/<{ID}:order_id>")
@bp.doc(tags=[TAG])
@requires("orders:read")
@bp.response(200, OrderSchema)
def order_get(order_id):
    """One order with its lines, payments, refunds and timeline."""
    return _order_or_404(order_id)


@bp.post(f"/orders/<{ID}:order_id>/ship")
@bp.doc(tags=[TAG], parameters=[IDEMPOTENCY_HEADER])
@requires("orders:write")
@write
@bp.arguments(ShipSchema)
@bp.response(200, OrderSchema)
def order_ship(data, order_id):
    """Mark the order shipped with its carrier and tracking number (the shopper is emailed)."""
    order = _order_or_404(order_id)
    try:
        fulfilment.ship(
            order, None, carrier=data["carrier"], tracking_number=data["tracking_number"]
        )
    except FieldError as exc:
        raise refused(exc) from None
    db.session.expire_all()
    return _order_or_404(order_id)


@bp.post(f"/orders/<{ID}:order_id>/deliver")
@bp.doc(tags=[TAG], parameters=[IDEMPOTENCY_HEADER])
@requires("orders:write")
@write
@bp.response(200, OrderSchema)
def order_deliver(order_id):
    """Mark a shipped order delivered."""
    order = _order_or_404(order_id)
    try:
        fulfilment.mark_delivered(order, None)
    except FieldError as exc:
        raise refused(exc) from None
    db.session.expire_all()
    return _order_or_404(order_id)
