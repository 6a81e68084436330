"""The pure stock rules: when a low-stock alert goes out, and how typed adjustments parse."""

import pytest

from app.inventory.adjust import StockInputError, StockRequest, parse_request
from app.inventory.alerts import crossing
from app.inventory.ledger import order_id_of


@pytest.mark.parametrize(
    ("before", "after", "threshold", "alerted", "expected"),
    [
        (6, 5, 5, False, "alert"),  # falls to the threshold
        (9, 0, 5, False, "alert"),  # straight through it
        (1, 0, 0, False, "alert"),  # threshold 0: selling out
        (6, 5, 5, True, None),  # this dip has had its alert
        (5, 4, 5, False, None),  # was at it already: not a crossing
        (3, 4, 5, False, None),  # rising, still low
        (4, 6, 5, True, "rearm"),  # back above: the next dip alerts again
        (4, 6, 5, False, None),
        (8, 7, 5, False, None),  # above all along
    ],
)
def test_when_an_alert_goes_out(before, after, threshold, alerted, expected):
    assert crossing(before, after, threshold, alerted) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("+12", 12), ("-3", -3), ("12", 12), (" 1,200 ", 1200), ("\u22124", -4), ("+1_000", 1000)],
)
def test_changes_parse_as_vendors_type_them(typed, expected):
    parsed = parse_request(StockRequest("change", typed, "adjust", "Count"))
    assert parsed.quantity == expected and parsed.kind == "adjust"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (StockRequest("change", "abc", "adjust", "x"), "quantity"),
        (StockRequest("change", "1e3", "adjust", "x"), "quantity"),
        (StockRequest("change", "0", "adjust", "x"), "quantity"),
        (StockRequest("change", "1000000001", "adjust", "x"), "quantity"),
        (StockRequest("change", "-2", "receive", "x"), "quantity"),
        (StockRequest("change", "2", "sale", "x"), "kind"),
        (StockRequest("change", "2", "adjust", " "), "reason"),
        (StockRequest("change", "2", "adjust", "x" * 301), "reason"),
        (StockRequest("set", "-1", "adjust", "x", "5"), "quantity"),
        (StockRequest("set", "4", "adjust", "x", ""), "quantity"),
        (StockRequest("set", "4", "adjust", "x", "-5"), "quantity"),
        (StockRequest("both", "4", "adjust", "x", "5"), "mode"),
    ],
)
def test_bad_requests_name_their_field(request_, field):
    with pytest.raises(StockInputError) as info:
        parse_request(request_)
    assert info.value.field == field and info.value.status == 422


def test_a_count_is_an_adjustment_based_on_the_stock_shown():
    parsed = parse_request(StockRequest("set", "40", "receive", " Stock  take ", "37"))
    assert (parsed.mode, parsed.quantity, parsed.kind, parsed.based_on) == ("set", 40, "adjust", 37)
    assert parsed.reason == "Stock take"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [("order:17", 17), ("order:", None), ("order:x", None), ("import:3", None), (None, None),
     ("order:" + "9" * 11, None)],
)  # fmt: skip
def test_order_references(reference, expected):
    assert order_id_of(reference) == expected
