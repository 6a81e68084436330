"""What a vendor does with a placed order: mark it paid, ship, deliver, cancel, refund.

Plain functions that the dashboard views and tests call with the order and the acting user's
id. Each one locks the order row (SELECT ... FOR UPDATE) before it looks at the status, so two
clicks can't both act; a refusal raises FulfilmentError with nothing written, and success
commits before any email is queued.

Refunds go through the provider that took the money: the built-in test gateway and manual
payments are recorded offline, Stripe and Midtrans are asked to pay the money back first. The
row lock is held across that one call (bounded by the client's timeout) so that a second
refund of the same order waits for the first and then sees what is left to refund.
"""

import re
import uuid
from dataclasses import dataclass

from flask_babel import gettext, lazy_gettext
from sqlalchemy import func, select

from app.catalog.models import Variant
from app.checkout.models import CheckoutSettings
from app.extensions import db
from app.field_errors import FieldError
from app.i18n import language_for_order
from app.inventory.models import StockMovement
from app.inventory.service import apply_movement
from app.money import format_money, parse_amount
from app.notifications.service import queue_email, send_now
from app.orders import states
from app.orders.links import order_url
from app.orders.models import Order
from app.orders.notices import record_payment_notices, subject_for
from app.orders.service import return_stock, transition
from app.payments.models import Payment
from app.payments.providers import (
    ProviderError,
    midtrans_order_id,
    refund_midtrans,
    refund_stripe,
)
from tenants.models import Store

MAX_CARRIER = 60
MAX_TRACKING = 100
MAX_REASON = 500
OFFLINE_PROVIDERS = ("test", "manual")
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class FulfilmentError(FieldError):
    """An order action was refused; `message` is for the vendor, `status` the HTTP status.

    409: the order's status doesn't allow it; 422: what was entered is wrong; 502: the payment
    provider refused or could not be reached.
    """

    def __init__(self, field: str | None, message: str, *, status: int = 422):
        super().__init__(field, message)
        self.status = status


@dataclass(frozen=True)
class PaymentSummary:
    """The money on an order: charged, refunded, and what may still be refunded."""

    payments: list[Payment]
    paid: int
    refunded: int

    @property
    def refundable(self) -> int:
        return max(self.paid - self.refunded, 0)

    @property
    def charge(self) -> Payment | None:
        charges = [p for p in self.payments if p.kind == "charge"]
        return charges[-1] if charges else None


def payment_summary(order: Order) -> PaymentSummary:
    """The order's payments and refunds, oldest first, with their totals."""
    payments = list(
        db.session.scalars(
            select(Payment)
            .where(Payment.order_id == order.id, Payment.store_id == order.store_id)
            .order_by(Payment.created_at, Payment.id)
        )
    )
    paid = sum(p.amount for p in payments if p.kind == "charge")
    refunded = -sum(p.amount for p in payments if p.kind == "refund")
    return PaymentSummary(payments=payments, paid=paid, refunded=refunded)


def payment_state(order: Order) -> str:
    """unpaid, paid, partially_refunded or refunded, as the orders list shows it."""
    if order.paid_at is None:
        return "unpaid"
    if order.status == states.REFUNDED or order.status == states.CANCELLED:
        return "refunded"  # a paid order is refunded in full when it is cancelled
    if order.status == states.PARTIALLY_REFUNDED:
        return "partially_refunded"
    return "paid"


def _reached(order: Order, status: str) -> bool:
    return any(event.to_status == status for event in order.events)


def next_steps(order: Order, summary: PaymentSummary | None = None) -> set[str]:
    """The actions that make sense now: mark_paid, ship, deliver, refund, cancel.

    The state machine allows a partially refunded order to become fulfilled or delivered, so
    the order's history decides: ship once, and deliver only what was shipped.
    """
    summary = summary or payment_summary(order)
    steps = set()
    if states.can_transition(order.status, states.PAID):
        steps.add("mark_paid")
    if states.can_transition(order.status, states.FULFILLED) and not _reached(
        order, states.FULFILLED
    ):
        steps.add("ship")
    if (
        states.can_transition(order.status, states.DELIVERED)
        and _reached(order, states.FULFILLED)
        and not _reached(order, states.DELIVERED)
    ):
        steps.add("deliver")
    if summary.refundable > 0 and states.can_transition(order.status, states.PARTIALLY_REFUNDED):
        steps.add("refund")
    if states.can_transition(order.status, states.CANCELLED):
        steps.add("cancel")
    return steps


def parse_refund_amount(text: str | None, currency: str) -> int:
    """A refund amount typed as a decimal in the store currency, as minor units.

    AmountError for what isn't an amount, FulfilmentError for an amount of zero.
    """
    amount = parse_amount(text, currency, field="amount", label=gettext("The refund amount"))
    if amount <= 0:
        raise FulfilmentError("amount", "The refund amount must be more than zero.")
    return amount


def _lock(order: Order) -> Order:
    """The order row, locked until the transaction ends, with fresh column values."""
    locked = db.session.scalar(
        select(Order)
        .where(Order.id == order.id, Order.store_id == order.store_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked is None:
        raise FulfilmentError(None, "That order no longer exists.", status=404)
    return locked


def _check(order: Order, wanted: str) -> None:
    try:
        states.check_transition(order.status, wanted)
    except states.IllegalTransition as exc:
        raise FulfilmentError(None, str(exc), status=409) from None


def _store(order: Order) -> Store:
    return db.session.get(Store, order.store_id)


def _money(amount: int, order: Order, store: Store) -> str:
    return format_money(amount, order.currency, store.locale)


def _clean_text(value: str | None, limit: int) -> str:
    text = " ".join((value or "").split())
    if any(not ch.isprintable() for ch in text):
        raise FulfilmentError(None, "Use letters, digits and punctuation only.")
    return text[:limit]


def _abort() -> None:
    db.session.rollback()


def mark_paid(order: Order, actor_id: int | None) -> Order:
    """Record an offline payment of the full total (bank transfer, cash) and mark it paid."""
    try:
        order = _lock(order)
        _check(order, states.PAID)
        transition(order, states.PAID, actor_id=actor_id, note="Marked paid (offline payment)")
        db.session.add(
            Payment(
                store_id=order.store_id,
                order_id=order.id,
                provider="manual",
                provider_ref=f"manual-{order.id}",
                kind="charge",
                amount=order.total,
                currency=order.currency,
            )
        )
        notices = record_payment_notices(order)
        db.session.commit()
    except BaseException:
        _abort()
        raise
    for message in notices:
        send_now(message.id)
    return order


def ship(order: Order, actor_id: int | None, *, carrier: str, tracking_number: str) -> Order:
    """Mark the order shipped with its carrier and tracking number, and tell the shopper."""
    try:
        order = _lock(order)
        _check(order, states.FULFILLED)
        if _reached(order, states.FULFILLED):
            raise FulfilmentError(None, "This order has already been shipped.", status=409)
        carrier = _clean_text(carrier, MAX_CARRIER + 1)
        tracking_number = _clean_text(tracking_number, MAX_TRACKING + 1)
        if not carrier:
            raise FulfilmentError("carrier", "Enter the carrier (for example DHL or JNE).")
        if not tracking_number:
            raise FulfilmentError("tracking_number", "Enter the tracking number.")
        if len(carrier) > MAX_CARRIER:
            raise FulfilmentError("carrier", f"Keep the carrier under {MAX_CARRIER} characters.")
        if len(tracking_number) > MAX_TRACKING:
            raise FulfilmentError(
                "tracking_number", f"Keep the tracking number under {MAX_TRACKING} characters."
            )
        transition(
            order,
            states.FULFILLED,
            actor_id=actor_id,
            note=f"Shipped with {carrier}, tracking {tracking_number}",
        )
        db.session.commit()
    except BaseException:
        _abort()
        raise
    store = _store(order)
    queue_email(
        order.email,
        subject_for(
            order,
            lazy_gettext(
                "Your order #%(number)s from %(store)s is on its way",
                number=order.number,
                store=store.name,
            ),
        ),
        "shipping_notice",
        store=store,
        language=language_for_order(order, store),
        order=order,
        carrier=carrier,
        tracking_number=tracking_number,
        order_link=order_url(order),
    )
    return order


def mark_delivered(order: Order, actor_id: int | None) -> Order:
    """Mark a shipped order delivered."""
    try:
        order = _lock(order)
        _check(order, states.DELIVERED)
        if not _reached(order, states.FULFILLED):
            raise FulfilmentError(None, "This order hasn't been shipped yet.", status=409)
        if _reached(order, states.DELIVERED):
            raise FulfilmentError(None, "This order is already marked delivered.", status=409)
        transition(order, states.DELIVERED, actor_id=actor_id, note="Marked delivered")
        db.session.commit()
    except BaseException:
        _abort()
        raise
    return order


def _refund_key(order: Order, key: str | None) -> str:
    """The idempotency key of one refund attempt (from the form, so a resubmit repeats it)."""
    if key and _KEY_RE.fullmatch(key):
        return f"pasar-refund-{order.id}-{key}"
    return f"pasar-refund-{order.id}-{uuid.uuid4().hex}"


def _already_recorded(provider: str, ref: str) -> bool:
    return (
        db.session.scalar(
            select(Payment.id).where(
                Payment.provider == provider, Payment.provider_ref == ref, Payment.kind == "refund"
            )
        )
        is not None
    )


@dataclass(frozen=True)
class ProviderRefund:
    """Everything a provider refund needs, read while the order is locked, as plain values:
    nothing touches the database while the provider is being asked."""

    provider: str
    charge_ref: str
    amount: int
    currency: str
    key: str
    reason: str
    midtrans_order_id: str
    settings: CheckoutSettings | None


def _prepare_refund(
    order: Order, store: Store, summary: PaymentSummary, amount: int, key: str, reason: str
) -> ProviderRefund:
    """Check the refund can be asked for (under the order's lock) and gather what it needs."""
    charge = summary.charge
    if charge is None:
        raise FulfilmentError(None, "This order has no recorded payment to refund.", status=409)
    if _already_recorded(charge.provider, key):
        raise FulfilmentError(None, "This refund has already been made.", status=409)
    settings = None
    if charge.provider not in OFFLINE_PROVIDERS:
        settings = db.session.get(CheckoutSettings, order.store_id)
        if settings is None:
            raise FulfilmentError(
                None, f"{charge.provider.title()} is not set up for this store yet.", status=502
            )
        db.session.expunge(settings)  # keeps its loaded keys after the commit
    return ProviderRefund(
        provider=charge.provider,
        charge_ref=charge.provider_ref,
        amount=amount,
        currency=order.currency,
        key=key,
        reason=reason or f"Refund for order {order.number}",
        midtrans_order_id=midtrans_order_id(store, order),
        settings=settings,
    )


def _pay_back(refund_request: ProviderRefund) -> tuple[str, str]:
    """Have the provider that took the money refund it: (provider, its reference).

    Stripe and Midtrans are asked with no transaction open (no lock across the network): the
    caller checked everything under the order's lock, and records the result under a fresh
    one. The attempt's idempotency key makes a retried or repeated request refund once.
    """
    r = refund_request
    if r.provider in OFFLINE_PROVIDERS:
        return r.provider, r.key
    db.session.commit()  # release the order's lock before the provider is called
    try:
        if r.provider == "stripe":
            return r.provider, refund_stripe(
                r.settings, r.charge_ref, r.amount, idempotency_key=r.key
            )
        if r.provider == "midtrans":
            return r.provider, refund_midtrans(
                r.settings,
                r.midtrans_order_id,
                r.amount,
                r.currency,
                refund_key=r.key,
                reason=r.reason,
            )
        raise ProviderError(f"Refunds through {r.provider} aren't supported.")
    except ProviderError as exc:
        raise FulfilmentError(None, str(exc), status=502) from None


def _add_refund(order: Order, provider: str, reference: str, amount: int) -> Payment:
    """Add the refund row (the caller commits); 409 if this provider refund is recorded already.

    A repeated idempotency key makes Stripe answer with the refund it made the first time, and
    a provider's refund webhook may have recorded it in the moment since the provider answered.
    """
    if _already_recorded(provider, reference):
        raise FulfilmentError(None, "This refund has already been made.", status=409)
    payment = Payment(
        store_id=order.store_id,
        order_id=order.id,
        provider=provider,
        provider_ref=reference[:120],
        kind="refund",
        amount=-amount,
        currency=order.currency,
    )
    db.session.add(payment)
    return payment


def returnable(order: Order) -> dict[int, int]:
    """For each order line whose variant still exists and tracks stock: how many of it may still
    go back to stock (what was sold, less what returns and cancellations already put back)."""
    lines = [line for line in order.lines if line.variant_id is not None]
    if not lines:
        return {}
    variant_ids = {line.variant_id for line in lines}
    tracked = set(
        db.session.scalars(
            select(Variant.id).where(
                Variant.id.in_(variant_ids),
                Variant.store_id == order.store_id,
                Variant.track_inventory.is_(True),
            )
        )
    )
    back = dict(
        db.session.execute(
            select(StockMovement.variant_id, func.sum(StockMovement.quantity))
            .where(
                StockMovement.store_id == order.store_id,
                StockMovement.reference == f"order:{order.id}",
                StockMovement.kind.in_(("return", "cancellation")),
            )
            .group_by(StockMovement.variant_id)
        ).all()
    )
    left = {}
    for line in sorted(lines, key=lambda line: line.id):
        if line.variant_id not in tracked:
            continue
        # Two lines of one variant share what came back, first line first.
        already = min(back.get(line.variant_id) or 0, line.quantity)
        back[line.variant_id] = (back.get(line.variant_id) or 0) - already
        left[line.id] = line.quantity - already
    return left


def _check_returns(order: Order, returns: dict[int, int]) -> dict[int, int]:
    """The lines and quantities to put back in stock, checked against what may still go back."""
    allowed = returnable(order)
    lines = {line.id: line for line in order.lines}
    chosen = {}
    for line_id, quantity in returns.items():
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            raise FulfilmentError("returns", "Return quantities are whole numbers.")
        if quantity == 0:
            continue
        if line_id not in lines:
            raise FulfilmentError("returns", "That item isn't part of this order.")
        most = allowed.get(line_id, 0)
        if quantity > most:
            title = lines[line_id].product_title
            raise FulfilmentError(
                "returns",
                f"You can return at most {most} of {title} to stock"
                f" (sold {lines[line_id].quantity}).",
            )
        chosen[line_id] = quantity
    return chosen


def _return_lines(order: Order, chosen: dict[int, int], actor_id: int | None) -> list[str]:
    """Put the chosen quantities back in stock, one movement per line (in variant order, so two
    refunds lock rows in the same order); what was returned, for the order's history."""
    lines = {line.id: line for line in order.lines}
    done = []
    for line_id in sorted(chosen, key=lambda line_id: (lines[line_id].variant_id, line_id)):
        line = lines[line_id]
        apply_movement(
            order.store_id,
            line.variant_id,
            chosen[line_id],
            "return",
            reason=f"Refund of order #{order.number}",
            reference=f"order:{order.id}",
            user_id=actor_id,
        )
        done.append(f"{chosen[line_id]} × {line.product_title}")
    return done


def refund(
    order: Order,
    actor_id: int | None,
    *,
    amount: int,
    restock: bool = False,
    returns: dict[int, int] | None = None,
    reason: str = "",
    key: str | None = None,
) -> Payment:
    """Refund `amount` minor units (all or part of what is left) and tell the shopper.

    `returns` maps order line ids to the quantities that go back to stock (never more than was
    sold less what already went back); `restock` returns everything not yet returned. `key`
    identifies the attempt, so the same form submitted twice refunds once.
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise FulfilmentError("amount", "The refund amount must be more than zero.")
    try:
        reason = _clean_text(reason, MAX_REASON)
        order = _lock(order)
        store = _store(order)
        summary = payment_summary(order)
        left = summary.refundable
        wanted = states.REFUNDED if amount >= left else states.PARTIALLY_REFUNDED
        _check(order, wanted)
        if left <= 0:
            raise FulfilmentError(
                None, "Everything paid on this order has been refunded.", status=409
            )
        if amount > left:
            raise FulfilmentError(
                "amount",
                f"You can refund at most {_money(left, order, store)} "
                f"(paid {_money(summary.paid, order, store)}, "
                f"refunded {_money(summary.refunded, order, store)}).",
            )
        # Checked before any money moves, and again under the fresh lock before stock moves.
        _check_returns(order, returns or {})
        asked = _prepare_refund(order, store, summary, amount, _refund_key(order, key), reason)
        provider, reference = _pay_back(asked)
        # Money has moved: record it under a fresh lock, whatever happened meanwhile.
        order = _lock(order)
        payment = _add_refund(order, provider, reference, amount)
        db.session.flush()
        after = payment_summary(order)
        wanted = states.REFUNDED if after.refunded >= after.paid else states.PARTIALLY_REFUNDED
        note = f"Refunded {_money(amount, order, store)}"
        if restock:
            everything = {line_id: n for line_id, n in returnable(order).items() if n}
            if everything:
                _return_lines(order, everything, actor_id)
                note += "; items returned to stock"
            else:
                note += "; items were already back in stock"
        elif returns:
            returned = _return_lines(order, _check_returns(order, returns), actor_id)
            if returned:
                note += "; returned to stock: " + ", ".join(returned)
        if reason:
            note += f". Reason: {reason}"
        if states.can_transition(order.status, wanted):
            transition(order, wanted, actor_id=actor_id, note=note)
        db.session.commit()
    except BaseException:
        _abort()
        raise
    _send_refund_notice(order, store, amount, full=wanted == states.REFUNDED, reason=reason)
    return payment


def cancel(order: Order, actor_id: int | None, *, reason: str = "") -> Order:
    """Cancel an unpaid or paid (not yet shipped) order, refund it in full, return the stock."""
    try:
        reason = _clean_text(reason, MAX_REASON)
        order = _lock(order)
        _check(order, states.CANCELLED)
        store = _store(order)
        refunded = 0
        if order.status == states.PAID:
            summary = payment_summary(order)
            if summary.refundable > 0:
                refunded = summary.refundable
                asked = _prepare_refund(
                    order, store, summary, refunded, f"pasar-cancel-{order.id}", reason
                )
                provider, reference = _pay_back(asked)
                order = _lock(order)
                _add_refund(order, provider, reference, refunded)
                if not states.can_transition(order.status, states.CANCELLED):
                    # It shipped while the provider was refunding: keep the money's truth.
                    transition(order, states.REFUNDED, actor_id=actor_id, note="Refunded in full")
                    db.session.commit()
                    raise FulfilmentError(
                        None,
                        "The order was refunded, but it shipped meanwhile, so it wasn't "
                        "cancelled and its stock stays out.",
                        status=409,
                    )
        return_stock(order, kind="cancellation", actor_id=actor_id)
        note = "Cancelled"
        if refunded:
            note += f"; refunded {_money(refunded, order, store)}"
        if reason:
            note += f". Reason: {reason}"
        transition(order, states.CANCELLED, actor_id=actor_id, note=note)
        db.session.commit()
    except BaseException:
        _abort()
        raise
    if refunded:
        _send_refund_notice(order, store, refunded, full=True, reason=reason, cancelled=True)
    return order


def _send_refund_notice(
    order: Order, store: Store, amount: int, *, full: bool, reason: str, cancelled: bool = False
) -> None:
    subject = (
        lazy_gettext(
            "Your order #%(number)s from %(store)s was cancelled",
            number=order.number,
            store=store.name,
        )
        if cancelled
        else lazy_gettext(
            "A refund for your order #%(number)s from %(store)s",
            number=order.number,
            store=store.name,
        )
    )
    queue_email(
        order.email,
        subject_for(order, subject),
        "refund_notice",
        store=store,
        language=language_for_order(order, store),
        order=order,
        amount=amount,
        full=full,
        cancelled=cancelled,
        reason=reason,
        order_link=order_url(order),
    )
