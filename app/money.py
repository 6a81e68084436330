"""Money: integer minor units plus an ISO 4217 code.

Every rule about amounts lives here: reading what a person typed, converting between minor
units (what is stored, what Stripe takes) and major units (what people type, what Midtrans and
schema.org take), and showing an amount in a locale with Babel. Domains call these and raise or
catch `AmountError`, the one error for a bad amount.
"""

import re
from copy import copy
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.core import get_global
from babel.numbers import (
    NumberFormatError,
    format_compact_currency,
    format_currency,
    get_currency_name,
    get_currency_precision,
    get_currency_symbol,
    list_currencies,
    parse_decimal,
)
from flask_babel import gettext

from app.field_errors import FieldError
from app.i18n import format_locale, number

MAX_AMOUNT = 2_000_000_000  # fits a 32-bit integer column in any currency's minor units
_TYPED = re.compile(r"-?\d+(\.\d*)?|-?\.\d+")
_REQUIRED = object()


class AmountError(FieldError):
    """A typed amount was refused (not a number, negative, too many decimals, too large)."""


def currencies() -> list[str]:
    """Every ISO 4217 code a store may sell in, sorted."""
    return sorted(list_currencies())


def minor_digits(currency: str) -> int:
    """How many minor-unit digits `currency` stores (ISO 4217: USD 2, JPY 0, KWD 3, IDR 2)."""
    return get_currency_precision(currency)


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Minor units (cents, sen) as a Decimal in major units."""
    return Decimal(amount_minor).scaleb(-minor_digits(currency))


def to_minor(amount: Decimal | int | str, currency: str, rounding: str | None = None) -> int:
    """An amount in major units as integer minor units of `currency`.

    With `rounding` (a `decimal` rounding mode) extra decimals are rounded away; without it an
    amount with more decimals than the currency has is a ValueError.
    """
    minor = Decimal(str(amount)).scaleb(minor_digits(currency))
    whole = minor.to_integral_value(rounding or ROUND_HALF_UP)
    if rounding is None and whole != minor:
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    return int(whole)


def whole_major_units(amount_minor: int, currency: str) -> int | None:
    """The amount in whole major units (what Midtrans takes), or None if it has a fraction."""
    amount = to_decimal(amount_minor, currency)
    return int(amount) if amount == amount.to_integral_value() else None


def parse_amount(
    text: str | None,
    currency: str,
    *,
    field: str = "price",
    label: str | None = None,
    blank=_REQUIRED,
):
    """A decimal amount a person typed ("19.99", "150000") as integer minor units.

    Strict, for forms and files: AmountError (on `field`, worded with `label`, translated by the
    caller; "The price" by default) for anything
    that isn't a plain non-negative number with at most the currency's decimals, up to
    MAX_AMOUNT. Blank text is refused as required, unless the field is optional: then
    `blank` is what it means (0, None).
    """
    label = label or gettext("The price")
    raw = re.sub(r"[\s_]", "", text or "")
    if not raw and blank is not _REQUIRED:
        return blank
    if not raw:
        raise AmountError(field, gettext("%(label)s is required.", label=label))
    if not _TYPED.fullmatch(raw):
        raise AmountError(field, gettext("%(label)s must be a number such as 19.99.", label=label))
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise AmountError(
            field, gettext("%(label)s must be a number such as 19.99.", label=label)
        ) from None
    if amount < 0:
        raise AmountError(field, gettext("%(label)s can't be negative.", label=label))
    try:
        minor = to_minor(amount, currency)
    except ValueError:
        digits = minor_digits(currency)
        if digits:
            refusal = gettext(
                "%(label)s can have at most %(digits)s decimal places in %(currency)s.",
                label=label,
                digits=digits,
                currency=currency,
            )
        else:
            refusal = gettext(
                "%(label)s can have at most no decimals in %(currency)s.",
                label=label,
                currency=currency,
            )
        raise AmountError(field, refusal) from None
    if minor > MAX_AMOUNT:
        largest = to_decimal(MAX_AMOUNT, currency)
        raise AmountError(
            field,
            gettext(
                "%(label)s can be at most %(largest)s %(currency)s.",
                label=label,
                largest=number(largest),
                currency=currency,
            ),
        )
    return minor


def parse_filter_amount(raw: str | None, currency: str, locale: str) -> int | None:
    """A price typed into a search filter ("12.50", or "12,50" / "1.500.000" in `locale`) as
    minor units, rounded half up and capped at MAX_AMOUNT; None when empty or not sensible.

    Lenient where `parse_amount` is strict: a filter never refuses, it ignores what it can't read.
    """
    raw = (raw or "").strip()[:20]
    if not raw:
        return None
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        try:
            amount = parse_decimal(raw, locale=locale)
        except (NumberFormatError, ValueError):
            return None
    if not amount.is_finite() or amount < 0:
        return None
    if amount >= MAX_AMOUNT:  # before scaling, so "1e999999" can't overflow the context
        return MAX_AMOUNT
    return min(to_minor(amount, currency, ROUND_HALF_UP), MAX_AMOUNT)


def format_amount(amount_minor: int | None, currency: str) -> str:
    """Minor units as the plain decimal a person would type ("19.99"); "" for None.

    Also what schema.org's `price` wants: no symbol, no grouping, a dot for decimals.
    """
    if amount_minor is None:
        return ""
    return f"{to_decimal(amount_minor, currency):f}"


def shown_digits(currency: str) -> int:
    """Decimals shown for an amount with nothing after them: none where everyday prices have
    no minor units (CLDR's cash digits: IDR, HUF, TWD...), else the currency's own digits.

    ISO 4217 gives the rupiah two decimals, and amounts are stored that way, but nobody writes
    "Rp225.000,00"; Shopify and CLDR show it as "Rp225.000".
    """
    fractions = get_global("currency_fractions")
    _digits, _rounding, cash_digits, _cash_rounding = fractions.get(currency, fractions["DEFAULT"])
    return min(minor_digits(currency), cash_digits)


def format_money(amount_minor: int, currency: str, locale: str | None = None) -> str:
    """An amount for people: every page, email and message formats money here.

    `locale` is the store's (or the page's); `app.i18n.format_locale` swaps it for the spoken
    language's when a page or an email speaks another language. e.g. 123456 USD en_US ->
    '$1,234.56'; 22500000 IDR id_ID -> 'Rp225.000'. An amount with minor units that
    `shown_digits` would hide keeps all its decimals, so nothing is rounded.
    """
    return _formatted(amount_minor, currency, format_locale(locale))


@lru_cache(maxsize=8192)
def _formatted(amount_minor: int | Decimal, currency: str, locale: str) -> str:
    """format_money once the locale is settled: a pure function of its arguments, so each
    (amount, currency, locale) is formatted once per process. Babel takes about 0.1 ms an
    amount, and a dashboard page shows dozens of the same few prices."""
    amount = to_decimal(amount_minor, currency)
    digits = shown_digits(currency)
    if digits < minor_digits(currency) and amount == round(amount, digits):
        pattern = copy(Locale.parse(locale).currency_formats["standard"])
        pattern.frac_prec = (digits, digits)
        return format_currency(
            amount, currency, format=pattern, locale=locale, currency_digits=False
        )
    return format_currency(amount, currency, locale=locale, currency_digits=True)


def format_money_short(amount_minor: int, currency: str, locale: str | None = None) -> str:
    """A chart axis label: '$1.5K', 'IDR100M'; plain format_money below a thousand."""
    locale = format_locale(locale)
    amount = to_decimal(amount_minor, currency)
    if abs(amount) < 1000:
        return format_money(amount_minor, currency, locale)
    return format_compact_currency(amount, currency, locale=locale, fraction_digits=1)


def currency_label(currency: str, locale: str) -> str:
    """e.g. 'Indonesian Rupiah (Rp)' in `locale`; just the name where the symbol is the code."""
    locale = format_locale(locale)
    name = get_currency_name(currency, locale=locale)
    symbol = get_currency_symbol(currency, locale=locale)
    return f"{name} ({symbol})" if symbol != currency else name
