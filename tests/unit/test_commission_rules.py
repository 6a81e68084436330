"""Commission arithmetic: rounding, and refunds giving back exactly what was taken."""

import pytest

from app.payouts.ledger import share, split


@pytest.mark.parametrize(
    "amount, rate, expected",
    [
        (10_000, 500, 500),
        (1_999, 500, 100),
        (1_990, 500, 100),
        (1_989, 500, 99),
        (0, 500, 0),
        (12_345, 750, 926),
        (-1_999, 500, -100),
        (150_000_00, 0, 0),
    ],
)
def test_share_rounds_half_up(amount, rate, expected):
    assert share(amount, rate) == expected


def test_a_charge_splits_into_commission_and_net():
    assert split("charge", 4_599, 500) == (230, 4_369)


@pytest.mark.parametrize("parts", [[1], [3, 7], [1, 1, 1], [333, 333, 334], [1, 2, 3, 4, 5]])
def test_refunds_in_any_parts_give_back_exactly_the_commission(parts):
    total, rate = 4_599, 750
    charge_commission, _ = split("charge", total, rate)
    amounts = [total * p // sum(parts) for p in parts]
    amounts[-1] += total - sum(amounts)
    refunded, given_back = 0, 0
    for amount in amounts:
        commission, net = split("refund", -amount, rate, refunded)
        assert commission + net == -amount
        refunded += amount
        given_back += commission
    assert given_back == -charge_commission
