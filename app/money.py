"""Money: integer minor units plus an ISO 4217 code, formatted per locale with Babel."""

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Minor units (cents, sen) as a Decimal in major units."""
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


def format_money(amount_minor: int, currency: str, locale: str = "en_US") -> str:
    """e.g. 123456 USD en_US -> '$1,234.56'; 1500000 IDR id_ID -> 'Rp 1.500.000'."""
    return format_currency(
        to_decimal(amount_minor, currency),
        currency,
        locale=locale,
        currency_digits=True,
    )


def format_money_short(amount_minor: int, currency: str, locale: str = "en_US") -> str:
    """A chart axis label: '$1.5K', 'IDR100M'; plain format_money below a thousand."""
    amount = to_decimal(amount_minor, currency)
    if abs(amount) < 1000:
        return format_money(amount_minor, currency, locale)
    from babel.numbers import format_compact_currency

    return format_compact_currency(amount, currency, locale=locale, fraction_digits=1)
