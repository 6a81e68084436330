"""The order state machine: the one place that says which status changes are allowed."""

PENDING_PAYMENT = "pending_payment"
PAID = "paid"
FULFILLED = "fulfilled"
DELIVERED = "delivered"
CANCELLED = "cancelled"
PARTIALLY_REFUNDED = "partially_refunded"
REFUNDED = "refunded"

STATUSES = (PENDING_PAYMENT, PAID, FULFILLED, DELIVERED, CANCELLED, PARTIALLY_REFUNDED, REFUNDED)

# from -> the statuses it may move to. Nothing ever moves back to pending or to paid from a
# refund, so a late "paid" webhook after a refund changes nothing.
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING_PAYMENT: frozenset({PAID, CANCELLED}),
    PAID: frozenset({FULFILLED, CANCELLED, PARTIALLY_REFUNDED, REFUNDED}),
    FULFILLED: frozenset({DELIVERED, PARTIALLY_REFUNDED, REFUNDED}),
    DELIVERED: frozenset({PARTIALLY_REFUNDED, REFUNDED}),
    PARTIALLY_REFUNDED: frozenset({PARTIALLY_REFUNDED, REFUNDED, FULFILLED, DELIVERED}),
    CANCELLED: frozenset(),
    REFUNDED: frozenset(),
}


class IllegalTransition(ValueError):
    """A status change the state machine refuses."""

    def __init__(self, current: str, wanted: str):
        super().__init__(
            f"An order that is {current.replace('_', ' ')} can't become {wanted.replace('_', ' ')}."
        )
        self.current = current
        self.wanted = wanted


def can_transition(current: str, wanted: str) -> bool:
    """True if an order in `current` may move to `wanted`."""
    return wanted in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, wanted: str) -> None:
    """Raise IllegalTransition unless `current` -> `wanted` is allowed."""
    if current not in TRANSITIONS or wanted not in TRANSITIONS:
        raise IllegalTransition(current, wanted)
    if not can_transition(current, wanted):
        raise IllegalTransition(current, wanted)
