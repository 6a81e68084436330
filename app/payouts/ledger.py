"""Writing the commission ledger: every new payment gets its entry in the same transaction
(except a test order's: the test gateway moves no money).

A `before_flush` listener sees each new `Payment` (whatever code made it: a webhook, a dashboard
refund, the demo) and adds its `CommissionEntry`, so a paid order always has its commission
recorded and a refund always gives back its share. The charge uses the store's rate (or the
platform default) at that moment; a refund uses its charge's rate. Refunds are rounded on the
running total refunded, so an order refunded in full in any number of parts gives back exactly
the commission it paid.
"""

from decimal import ROUND_HALF_UP, Decimal

from flask import current_app, has_app_context
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.database import utcnow
from app.payouts.models import CommissionEntry

DEFAULT_RATE_BPS = 500


def platform_rate() -> int:
    if has_app_context():
        return int(current_app.config.get("PLATFORM_COMMISSION_BPS", DEFAULT_RATE_BPS))
    return DEFAULT_RATE_BPS


def share(amount: int, rate_bps: int) -> int:
    """The commission on `amount` minor units at `rate_bps`, rounded half up (sign kept)."""
    value = (Decimal(abs(amount)) * rate_bps / Decimal(10_000)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return int(value) if amount >= 0 else -int(value)


def split(kind: str, amount: int, rate_bps: int, refunded_before: int = 0) -> tuple[int, int]:
    """(commission, net) of a payment; a refund's `amount` is negative, and `refunded_before`
    (positive) is what the order had refunded before it."""
    if kind == "charge":
        commission = share(amount, rate_bps)
    else:
        after = refunded_before - amount
        commission = -(share(after, rate_bps) - share(refunded_before, rate_bps))
    return commission, amount - commission


@event.listens_for(Session, "before_flush")
def _record_commission(session: Session, flush_context, instances) -> None:
    from app.payments.models import Payment

    # A test order's payments moved no money: they earn no commission and owe no payout.
    new = [
        obj
        for obj in session.new
        if isinstance(obj, Payment) and not _is_test_order(session, obj.order_id)
    ]
    refunded_in_flush: dict[int, int] = {}
    for payment in sorted(new, key=lambda p: p.kind != "charge"):
        if payment.kind == "charge":
            rate = _store_rate(session, payment.store_id)
            before = 0
        else:
            charge = session.execute(
                select(CommissionEntry.rate_bps)
                .where(
                    CommissionEntry.order_id == payment.order_id,
                    CommissionEntry.kind == "charge",
                )
                .order_by(CommissionEntry.id)
                .limit(1)
            ).scalar()
            # No charge recorded (a refund flushed with its charge): the store's rate now.
            rate = charge if charge is not None else _store_rate(session, payment.store_id)
            before = -(
                session.execute(
                    select(func.coalesce(func.sum(CommissionEntry.gross), 0)).where(
                        CommissionEntry.order_id == payment.order_id,
                        CommissionEntry.kind == "refund",
                    )
                ).scalar()
            ) + refunded_in_flush.get(payment.order_id, 0)
            refunded_in_flush[payment.order_id] = refunded_in_flush.get(payment.order_id, 0) - (
                payment.amount
            )
        commission, net = split(payment.kind, payment.amount, rate, before)
        session.add(
            CommissionEntry(
                store_id=payment.store_id,
                order_id=payment.order_id,
                payment=payment,
                kind=payment.kind,
                currency=payment.currency,
                gross=payment.amount,
                commission=commission,
                net=net,
                rate_bps=rate,
                created_at=payment.created_at or utcnow(),
            )
        )


def _is_test_order(session: Session, order_id: int | None) -> bool:
    from app.orders.models import Order

    order = session.get(Order, order_id) if order_id is not None else None
    return bool(order is not None and order.is_test)


def _store_rate(session: Session, store_id: int) -> int:
    """The store's commission rate, or the platform's default."""
    from tenants.models import Store

    store = session.get(Store, store_id)
    rate = getattr(store, "commission_rate_bps", None)
    return platform_rate() if rate is None else rate
