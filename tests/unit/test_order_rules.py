import pytest

from app.orders import states
from app.orders.pricing import Coupon, Line, PricingError, ShippingRate, TaxRule, compute_totals


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        ("pending_payment", "paid"),
        ("pending_payment", "cancelled"),
        ("paid", "fulfilled"),
        ("fulfilled", "delivered"),
        ("paid", "refunded"),
        ("delivered", "partially_refunded"),
        ("partially_refunded", "refunded"),
    ],
)
def test_allowed_transitions(current, wanted):
    states.check_transition(current, wanted)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        ("refunded", "paid"),  # a late "paid" after a refund changes nothing
        ("cancelled", "paid"),
        ("paid", "pending_payment"),
        ("delivered", "fulfilled"),
        ("pending_payment", "fulfilled"),
        ("pending_payment", "refunded"),
        ("paid", "paid"),
        ("paid", "lost"),
        ("nonsense", "paid"),
    ],
)
def test_illegal_transitions_are_refused(current, wanted):
    with pytest.raises(states.IllegalTransition):
        states.check_transition(current, wanted)


def test_totals_exclusive_tax_with_percent_coupon_and_flat_shipping():
    totals = compute_totals(
        [Line(1999, 2), Line(500, 1)],
        coupon=Coupon("percent", 10),
        shipping=ShippingRate(flat=700, free_over=10_000),
        tax=TaxRule(rate_basis_points=1100),
    )
    assert totals.subtotal == 4498
    assert totals.discount == 450  # 449.8 rounded half up
    assert totals.shipping == 700
    assert totals.tax == round((4048 + 700) * 0.11)
    assert totals.total == 4048 + 700 + totals.tax


def test_totals_inclusive_tax_free_shipping_fixed_coupon():
    totals = compute_totals(
        [Line(11_100, 1)],
        coupon=Coupon("fixed", 100),
        shipping=ShippingRate(flat=900, free_over=10_000),
        tax=TaxRule(rate_basis_points=1100, inclusive=True),
    )
    assert (totals.subtotal, totals.discount, totals.shipping) == (11_100, 100, 0)
    assert totals.total == 11_000 and totals.tax == 1090  # 11,000 includes 11 % tax


def test_coupon_below_its_minimum_does_nothing_and_says_so():
    totals = compute_totals([Line(1000, 1)], coupon=Coupon("fixed", 500, min_subtotal=5000))
    assert totals.discount == 0 and totals.total == 1000 and totals.notes


def test_fixed_coupon_never_goes_below_zero():
    assert compute_totals([Line(300, 1)], coupon=Coupon("fixed", 1000)).total == 0


@pytest.mark.parametrize(
    "lines", [[Line(100, 0)], [Line(100, -1)], [Line(100, 10**9)], [Line(-5, 1)], [Line(1, "2")]]
)
def test_impossible_lines_are_refused(lines):
    with pytest.raises(PricingError):
        compute_totals(lines)


def test_an_empty_cart_costs_nothing():
    totals = compute_totals([], shipping=ShippingRate(flat=700), tax=TaxRule(1000))
    assert totals.total == 0 and totals.shipping == 0
