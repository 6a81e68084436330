import pytest

from app.money import format_money, to_decimal
from app.templating import contrast_color


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (123456, "USD", "en_US", "$1,234.56"),
        (199, "EUR", "de_DE", "1,99\xa0€"),
        (15000000, "IDR", "id_ID", "Rp150.000,00"),
        (500, "JPY", "ja_JP", "￥500"),
        (-250, "USD", "en_US", "-$2.50"),
    ],
)
def test_format_money(amount, currency, locale, expected):
    assert format_money(amount, currency, locale) == expected


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
