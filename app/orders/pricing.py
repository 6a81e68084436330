"""Order totals, computed in one place, in integer minor units.

Lines x quantities give the subtotal; a coupon discounts the subtotal; shipping is a flat rate,
free above a threshold (judged on the discounted subtotal); tax is either included in prices
(reported, not added) or added on top of the discounted subtotal plus shipping. Rounding is
half-up on minor units, once per computed amount.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from app.i18n import N_


class PricingError(ValueError):
    """Inputs that can't make a valid total (a negative price, an absurd quantity...)."""


@dataclass(frozen=True)
class Line:
    unit_price: int
    quantity: int


@dataclass(frozen=True)
class Coupon:
    kind: str  # "percent" (value in whole percent, 1..100) or "fixed" (value in minor units)
    value: int
    min_subtotal: int = 0


@dataclass(frozen=True)
class ShippingRate:
    flat: int = 0
    free_over: int | None = None  # free when the discounted subtotal reaches this


@dataclass(frozen=True)
class TaxRule:
    rate_basis_points: int = 0  # 1100 = 11 %
    inclusive: bool = False


@dataclass(frozen=True)
class Totals:
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    notes: list[str] = field(default_factory=list)


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def compute_totals(
    lines: list[Line],
    *,
    coupon: Coupon | None = None,
    shipping: ShippingRate | None = None,
    tax: TaxRule | None = None,
) -> Totals:
    """The totals of an order, line by line; PricingError on impossible input."""
    shipping = shipping or ShippingRate()
    tax = tax or TaxRule()
    notes: list[str] = []
    subtotal = 0
    for line in lines:
        if not isinstance(line.quantity, int) or not 1 <= line.quantity <= 10_000:
            raise PricingError("Quantities must be whole numbers from 1 to 10,000.")
        if not isinstance(line.unit_price, int) or line.unit_price < 0:
            raise PricingError("Prices can't be negative.")
        subtotal += line.unit_price * line.quantity
    discount = 0
    if coupon is not None:
        if subtotal < coupon.min_subtotal:
            notes.append(N_("The coupon needs a higher subtotal."))
        elif coupon.kind == "percent":
            if not 1 <= coupon.value <= 100:
                raise PricingError("A percentage coupon is between 1 and 100 percent.")
            discount = _round(Decimal(subtotal) * coupon.value / 100)
        elif coupon.kind == "fixed":
            if coupon.value < 0:
                raise PricingError("A coupon can't add to the price.")
            discount = min(coupon.value, subtotal)
        else:
            raise PricingError(f"Unknown coupon kind {coupon.kind!r}.")
    discounted = subtotal - discount
    ship = shipping.flat
    if shipping.free_over is not None and discounted >= shipping.free_over:
        ship = 0
    if not lines:
        ship = 0
    rate = Decimal(tax.rate_basis_points) / 10_000
    taxable = discounted + ship
    if tax.inclusive:
        tax_amount = _round(Decimal(taxable) * rate / (1 + rate)) if rate else 0
        total = taxable
    else:
        tax_amount = _round(Decimal(taxable) * rate)
        total = taxable + tax_amount
    return Totals(
        subtotal=subtotal,
        discount=discount,
        shipping=ship,
        tax=tax_amount,
        total=total,
        notes=notes,
    )
