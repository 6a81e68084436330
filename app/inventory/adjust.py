"""Stock changes typed by a vendor: "+12 received", "-3 damaged", "set to 40 counted", and the
low-stock threshold. Every change is a movement through apply_movement, never an overwrite.

A change by a quantity is applied to whatever the stock is when it arrives, so a form left open
while orders came in still adds or takes exactly what was typed. "Set to N" is a count: it is
based on the stock the form showed, and refused (StockConflict) if that changed meanwhile,
because the difference to write would no longer be what the vendor counted against.
"""

import re
from dataclasses import dataclass

from sqlalchemy import select, update

from app.audit.service import record
from app.catalog.models import Variant
from app.catalog.service import MAX_STOCK
from app.extensions import db
from app.field_errors import FieldError
from app.inventory import alerts
from app.inventory.service import (
    InsufficientStock,
    StockChanged,
    StockLimit,
    apply_movement,
)

MODES = ("change", "set")
KINDS = {"receive": "Received", "adjust": "Adjustment"}
MAX_REASON = 300
_SIGNED = re.compile(r"[+-]?\d{1,12}")


class StockInputError(FieldError):
    """A stock change refused for what was typed (422); `field` is the form field to blame."""


class StockConflict(StockInputError):
    """A count based on stock that has changed since the form was shown (409)."""

    status = 409

    def __init__(self, expected: int, current: int):
        super().__init__(
            "quantity",
            f"The stock changed while you were counting: the form showed {expected:,}, "
            f"it is {current:,} now. Check your count and save again.",
        )
        self.expected = expected
        self.current = current


@dataclass(frozen=True)
class StockRequest:
    """The adjust form as typed: all text, checked by `parse_request`."""

    mode: str = "change"
    quantity: str = ""
    kind: str = "adjust"
    reason: str = ""
    based_on: str = ""


@dataclass(frozen=True)
class ParsedRequest:
    mode: str
    quantity: int  # the change for "change", the counted stock for "set"
    kind: str
    reason: str
    based_on: int | None


@dataclass(frozen=True)
class Adjustment:
    """What an adjustment did: the stock before and after, and whether it moved meanwhile."""

    before: int
    after: int
    change: int
    based_on: int | None

    @property
    def moved_meanwhile(self) -> bool:
        return self.based_on is not None and self.based_on != self.before


def _whole(text: str, field: str, message: str) -> int:
    """A whole number, signed or not, as vendors type it ("+12", "-3", "1,200")."""
    raw = (text or "").strip().replace(",", "").replace("_", "").replace(" ", "")
    raw = raw.replace("\u2212", "-")  # a typographic minus sign
    if not _SIGNED.fullmatch(raw):
        raise StockInputError(field, message)
    value = int(raw)
    if abs(value) > MAX_STOCK:
        raise StockInputError(field, f"That is more than {MAX_STOCK:,}.")
    return value


def parse_request(data: StockRequest) -> ParsedRequest:
    """Check an adjust form; StockInputError names the first field that is wrong."""
    mode = data.mode if data.mode in MODES else ""
    if not mode:
        raise StockInputError("mode", "Choose whether to change the stock by an amount or set it.")
    if mode == "change" and data.kind not in KINDS:
        raise StockInputError("kind", "Choose Received or Adjustment.")
    kind = data.kind if mode == "change" else "adjust"
    if mode == "change":
        quantity = _whole(data.quantity, "quantity", "Enter a whole number, like +12 or -3.")
    else:
        quantity = _whole(data.quantity, "quantity", "Enter the whole number you counted.")
        if quantity < 0:
            raise StockInputError("quantity", "Stock can't be set below 0.")
    if mode == "change" and quantity == 0:
        raise StockInputError("quantity", "Enter a change other than 0, like +12 or -3.")
    if kind == "receive" and quantity < 0:
        raise StockInputError(
            "quantity", "Received stock is added: enter a positive number, or choose Adjustment."
        )
    reason = " ".join((data.reason or "").split())
    if not reason:
        raise StockInputError("reason", "Say why the stock changes (e.g. delivery, damaged).")
    if len(reason) > MAX_REASON:
        raise StockInputError("reason", f"Keep the reason to {MAX_REASON} characters.")
    based_on = None
    if (data.based_on or "").strip():
        try:
            based_on = _whole(data.based_on, "based_on", "")
        except StockInputError:
            based_on = None
        if based_on is not None and based_on < 0:
            based_on = None
    if mode == "set" and based_on is None:
        raise StockInputError(
            "quantity", "The form doesn't say which stock it was based on. Reload the page."
        )
    return ParsedRequest(mode, quantity, kind, reason, based_on)


def adjust_stock(
    store, variant: Variant, data: StockRequest, *, actor=None, strict: bool = False
) -> Adjustment:
    """Apply an adjust form to `variant` as one movement, audited. Doesn't commit.

    Raises StockInputError (422) for what was typed, including a change that would take the
    stock below 0 or above the limit, and StockConflict (409) for a stale count. `strict`
    (the API's expected count) refuses a change by a quantity too when the stock isn't
    `based_on` any more, where the form applies it to whatever the stock is.
    """
    request = parse_request(data)
    if request.mode == "set":
        change = request.quantity - request.based_on
        if change == 0:
            current = db.session.scalar(select(Variant.stock).where(Variant.id == variant.id))
            if current != request.based_on:
                raise StockConflict(request.based_on, current)
            raise StockInputError("quantity", f"The stock is already {current:,}.")
    else:
        change = request.quantity
    try:
        after = apply_movement(
            variant.store_id,
            variant.id,
            change,
            request.kind,
            reason=request.reason,
            reference="adjust",
            user_id=getattr(actor, "id", None),
            expected_stock=request.based_on if request.mode == "set" or strict else None,
        )
    except StockChanged as exc:
        raise StockConflict(exc.expected, exc.current) from None
    except InsufficientStock as exc:
        raise StockInputError(
            "quantity",
            f"Only {exc.available:,} in stock: taking {exc.wanted:,} would leave it below 0.",
        ) from None
    except StockLimit as exc:
        raise StockInputError(
            "quantity", f"Stock can't go above {MAX_STOCK:,} (it is {exc.available:,})."
        ) from None
    result = Adjustment(after - change, after, change, request.based_on)
    record(
        "stock.adjusted",
        actor=actor,
        store=store,
        target=variant,
        sku=variant.sku,
        kind=request.kind,
        mode=request.mode,
        change=change,
        before=result.before,
        after=after,
        based_on=request.based_on,
        reason=request.reason,
    )
    return result


def effective_threshold(variant: Variant) -> int:
    """The variant's own low-stock threshold, or the store's default."""
    return alerts.threshold_of(variant, alerts.store_default(variant.store_id))


def set_threshold(store, variant: Variant, text: str, *, actor=None) -> bool:
    """Set (or with blank text, clear) a variant's low-stock threshold; False if unchanged.

    The alert flag is set to match the stock, so raising the threshold above today's stock
    doesn't alert about a dip that happened before, and lowering it below re-arms it.
    """
    raw = (text or "").strip()
    message = "Enter a whole number from 0, or leave it blank for the default."
    value = None if not raw else _whole(raw, "threshold", message)
    if value is not None and value < 0:
        raise StockInputError("threshold", message)
    old = variant.low_stock_threshold
    if value == old:
        return False
    threshold = alerts.store_default(variant.store_id) if value is None else value
    db.session.execute(
        update(Variant)
        .where(Variant.id == variant.id, Variant.store_id == variant.store_id)
        .values(low_stock_threshold=value, low_stock_alerted=Variant.stock <= threshold)
    )
    record(
        "stock.threshold_changed",
        actor=actor,
        store=store,
        target=variant,
        sku=variant.sku,
        old=old,
        new=value,
    )
    return True
