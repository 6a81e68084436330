from decimal import ROUND_DOWN

import pytest

from app.money import (
    AmountError,
    format_amount,
    format_money,
    parse_amount,
    shown_digits,
    to_decimal,
    to_minor,
    whole_major_units,
)
from app.templating import contrast_color


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (123456, "USD", "en_US", "$1,234.56"),
        (199, "EUR", "de_DE", "1,99\xa0€"),
        (15000000, "IDR", "id_ID", "Rp150.000"),
        (500, "JPY", "ja_JP", "￥500"),
        (-250, "USD", "en_US", "-$2.50"),
    ],
)
def test_format_money(amount, currency, locale, expected):
    assert format_money(amount, currency, locale) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        # Rupiah, forint and Taiwan dollars have two ISO digits (kept in storage) but no minor
        # units in everyday prices (CLDR cash digits 0): shown without ",00", in any locale.
        (22_500_000, "IDR", "id_ID", "Rp225.000"),
        (22_500_000, "IDR", "en_US", "IDR225,000"),
        (-22_500_000, "IDR", "id_ID", "-Rp225.000"),
        (0, "IDR", "id_ID", "Rp0"),
        (123_400, "HUF", "hu_HU", "1\xa0234\xa0Ft"),
        # An amount that does have minor units keeps them: display never rounds money away.
        (22_500_050, "IDR", "id_ID", "Rp225.000,50"),
        # Currencies with cash decimals are unchanged.
        (1_000, "USD", "en_US", "$10.00"),
        (1_000, "EUR", "de_DE", "10,00\xa0€"),
        (1_234, "KWD", "en_US", "KWD1.234"),
    ],
)
def test_money_is_shown_with_the_decimals_people_use(amount, currency, locale, expected):
    assert format_money(amount, currency, locale) == expected


def test_shown_digits_follow_cldr_cash_digits():
    assert (shown_digits("IDR"), shown_digits("USD"), shown_digits("JPY")) == (0, 2, 0)
    assert to_decimal(22_500_000, "IDR") == 225_000  # storage keeps ISO 4217's two digits


def test_minor_units_follow_the_currency():
    assert str(to_decimal(199, "USD")) == "1.99"
    assert str(to_decimal(500, "JPY")) == "500"


@pytest.mark.parametrize(
    ("colour", "expected"),
    [
        ("#ffffff", "#111111"),
        ("#000000", "#ffffff"),
        ("#c2410c", "#ffffff"),
        ("#fde68a", "#111111"),
    ],
)
def test_contrast_colour(colour, expected):
    assert contrast_color(colour) == expected


def test_money_filter_follows_the_store_of_each_render(tmp_path):
    from types import SimpleNamespace

    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", "TESTING": True})
    template = app.jinja_env.from_string("{{ 1999|money }}")
    usd = SimpleNamespace(currency="USD", locale="en_US")
    eur = SimpleNamespace(currency="EUR", locale="de_DE")
    with app.app_context():
        assert template.render(store=usd) == "$19.99"
        assert template.render(store=eur) == "19,99\xa0€"


def test_short_money_for_chart_axes():
    from app.money import format_money_short

    assert format_money_short(99_900, "USD") == "$999.00"
    assert format_money_short(150_000, "USD") == "$1.5K"
    assert format_money_short(10_042_500_000, "IDR") == "IDR100.4M"


def test_major_units_become_minor_units_exactly_or_rounded_as_asked():
    assert to_minor("150000.00", "IDR") == 15_000_000
    assert to_minor(1, "JPY") == 1 and to_minor(1, "KWD") == 1000
    with pytest.raises(ValueError):
        to_minor("19.999", "USD")
    assert to_minor("19.999", "USD", ROUND_DOWN) == 1999


def test_whole_major_units_for_providers_that_take_no_decimals():
    assert whole_major_units(15_000_000, "IDR") == 150_000
    assert whole_major_units(15_000_050, "IDR") is None
    assert whole_major_units(1500, "JPY") == 1500


def test_plain_amounts_for_inputs_and_schema_org():
    assert format_amount(1999, "USD") == "19.99"
    assert format_amount(15_000_000, "IDR") == "150000.00"
    assert format_amount(500, "JPY") == "500"
    assert format_amount(None, "USD") == ""


def test_a_bad_amount_is_one_error_on_the_field_it_was_typed_in():
    with pytest.raises(AmountError) as info:
        parse_amount("12.345", "USD", field="amount", label="The refund amount")
    assert info.value.field == "amount" and info.value.status == 422
    assert info.value.message == "The refund amount can have at most 2 decimal places in USD."
