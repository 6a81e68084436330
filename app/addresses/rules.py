"""Address rules: pure functions that clean a submitted address and say what is wrong with it.

Each `check_*` function takes raw input and returns `(clean value, error message or None)`;
`validate_address` runs them all and returns the clean values with one message per bad field.
Nothing here touches the database or the request, so the rules are tested directly.
"""

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import phonenumbers
import pycountry
from babel import Locale
from flask_babel import gettext

from app.i18n import N_, current_language

# Longest accepted value of each free-text field, in characters (the columns are this wide).
MAX_LENGTHS = {
    "full_name": 120,
    "company": 120,
    "line1": 150,
    "line2": 150,
    "city": 100,
    "region": 100,
}
MAX_POSTAL_INPUT = 32
MAX_PHONE_INPUT = 32

FIELDS = (
    "full_name",
    "company",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
)

# Countries whose postal addresses name a first-level subdivision, chosen from ISO 3166-2.
REGION_REQUIRED = frozenset(
    {"AU", "BR", "CA", "CN", "ES", "ID", "IN", "IT", "JP", "MX", "MY", "US"}
)
REGION_LABELS = {
    "AU": N_("State or territory"),
    "BR": N_("State"),
    "CA": N_("Province or territory"),
    "CN": N_("Province"),
    "ES": N_("Province"),
    "ID": N_("Province"),
    "IN": N_("State"),
    "IT": N_("Province"),
    "JP": N_("Prefecture"),
    "MX": N_("State"),
    "MY": N_("State"),
    "US": N_("State"),
}
# ISO lists Hong Kong, Macao and Taiwan under CN too, but they have their own country codes
# and postal systems, so an address there is entered with that country instead.
EXCLUDED_SUBDIVISIONS = frozenset({"CN-HK", "CN-MO", "CN-TW"})

# Countries with no postal code system: a code entered for them is a mistake. Ghana and
# Jamaica are left out on purpose: both are bringing in new address codes, so the generic
# rule (optional, 2-10 characters) applies to them instead.
NO_POSTAL_CODE = frozenset(
    {
        "AE", "AG", "AO", "AW", "BF", "BI", "BJ", "BO", "BS", "BW", "BZ", "CD", "CF", "CG",
        "CI", "CK", "CM", "DJ", "DM", "ER", "FJ", "GA", "GD", "GM", "GQ", "GY", "HK",
        "KI", "KM", "KN", "KP", "LY", "ML", "MO", "MR", "MW", "NR", "NU", "QA", "RW",
        "SB", "SC", "SL", "SR", "SS", "ST", "SY", "TD", "TF", "TG", "TK", "TL", "TO", "TV",
        "UG", "VU", "YE", "ZW",
    }
)  # fmt: skip


def _spaced(at: int, sep: str = " ") -> Callable[[str], str]:
    """A layout that puts `sep` after the first `at` characters (negative: before the last)."""
    return lambda compact: f"{compact[:at]}{sep}{compact[at:]}"


def _as_is(compact: str) -> str:
    return compact


@dataclass(frozen=True)
class PostalFormat:
    """How one country writes postal codes. `pattern` matches the code without spaces/hyphens."""

    pattern: str
    example: str
    layout: Callable[[str], str] = _as_is
    label: str = N_("Postal code")
    required: bool = True


def _us_zip(compact: str) -> str:
    return compact if len(compact) == 5 else f"{compact[:5]}-{compact[5:]}"


POSTAL_FORMATS = {
    "US": PostalFormat(r"\d{5}(?:\d{4})?", "94103 or 94103-1234", _us_zip, N_("ZIP code")),
    "CA": PostalFormat(
        r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\d[ABCEGHJ-NPRSTV-Z]\d", "K1A 0B1", _spaced(3)
    ),
    "GB": PostalFormat(
        r"GIR0AA|[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}", "SW1A 1AA", _spaced(-3), N_("Postcode")
    ),
    "IE": PostalFormat(
        r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W)[0-9AC-FHKNPRTV-Y]{4}",
        "D02 X285",
        _spaced(3),
        "Eircode",
        required=False,
    ),
    "DE": PostalFormat(r"\d{5}", "10115"),
    "FR": PostalFormat(r"\d{5}", "75008"),
    "NL": PostalFormat(r"[1-9]\d{3}[A-Z]{2}", "1012 AB", _spaced(4), N_("Postcode")),
    "BE": PostalFormat(r"[1-9]\d{3}", "1000"),
    "AT": PostalFormat(r"[1-9]\d{3}", "1010"),
    "CH": PostalFormat(r"[1-9]\d{3}", "8001"),
    "DK": PostalFormat(r"\d{4}", "1050"),
    "NO": PostalFormat(r"\d{4}", "0150"),
    "SE": PostalFormat(r"[1-9]\d{4}", "114 55", _spaced(3)),
    "FI": PostalFormat(r"\d{5}", "00100"),
    "PL": PostalFormat(r"\d{5}", "00-950", _spaced(2, "-")),
    "PT": PostalFormat(r"\d{7}", "1000-001", _spaced(4, "-")),
    "IT": PostalFormat(r"\d{5}", "00184"),
    "ES": PostalFormat(r"(?:0[1-9]|[1-4]\d|5[0-2])\d{3}", "28013"),
    "ID": PostalFormat(r"[1-9]\d{4}", "10110"),
    "MY": PostalFormat(r"\d{5}", "50450", label=N_("Postcode")),
    "SG": PostalFormat(r"\d{6}", "018956"),
    "TH": PostalFormat(r"[1-9]\d{4}", "10200"),
    "PH": PostalFormat(r"\d{4}", "1000", label=N_("ZIP code")),
    "VN": PostalFormat(r"\d{6}", "100000"),
    "KR": PostalFormat(r"\d{5}", "03187"),
    "JP": PostalFormat(r"\d{7}", "100-0001", _spaced(3, "-")),
    "CN": PostalFormat(r"\d{6}", "100000"),
    "IN": PostalFormat(r"[1-9]\d{5}", "110001", label=N_("PIN code")),
    "AU": PostalFormat(r"\d{4}", "2000", label=N_("Postcode")),
    "NZ": PostalFormat(r"\d{4}", "6011", label=N_("Postcode")),
    "BR": PostalFormat(r"\d{8}", "01310-100", _spaced(5, "-"), "CEP"),
    "MX": PostalFormat(r"\d{5}", "06600"),
}
PROPER_NOUNS = frozenset({"Eircode"})
GENERIC_POSTAL = re.compile(r"[A-Z0-9][A-Z0-9 \-]{0,8}[A-Z0-9]", re.ASCII)

# Invisible characters that reorder text (bidi embeddings, overrides and isolates): they make
# a label read differently from what is stored, so they have no place in an address.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control, surrogate and private-use characters, and line or paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Zl", "Zp"})

Result = tuple[str | None, str | None]


def has_control_characters(value: str) -> bool:
    """True if `value` holds control characters (tabs and line breaks too) or bidi overrides."""
    return any(
        ch in _BIDI_CONTROLS or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in value
    )


def _lower_first(label: str) -> str:
    """'Postal code' -> 'postal code', but 'ZIP code' and other acronyms stay as they are
    (and German nouns, which are always capitalised)."""
    if label in PROPER_NOUNS or label[1:2].isupper() or current_language() == "de":
        return label
    return label[:1].lower() + label[1:]


def fold(text: str) -> str:
    """Case- and accent-insensitive form, for matching and sorting names ('Québec' ~ 'quebec')."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _as_text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def clean_text(value, *, label: str, max_length: int, required: str | None = None) -> Result:
    """Trim, normalise (NFC) and collapse the spaces of one line of text; check its length.

    `required` is the message for an empty value; without it the field is optional.
    """
    text = unicodedata.normalize("NFC", _as_text(value))
    if has_control_characters(text):
        return None, gettext(
            "%(label)s can't contain line breaks, tabs or other control characters.",
            label=gettext(label),
        )
    text = " ".join(text.split())
    if not text:
        return None, required
    if len(text) > max_length:
        return None, gettext(
            "%(label)s is too long: use at most %(max)s characters.",
            label=gettext(label),
            max=max_length,
        )
    return text, None


# Countries whose English name takes "the" in a sentence ("in the United States").
_THE_NAMES = frozenset(
    {"AE", "BS", "CF", "DO", "GB", "GM", "KY", "MH", "MV", "NL", "PH", "SB", "US", "VA"}
)


def country_in_sentence(code: str | None) -> str:
    """The country's name as it reads mid-sentence: 'the United States', 'Indonesia'."""
    name = country_name(code)
    return f"the {name}" if code in _THE_NAMES and current_language() == "en" else name


def country_name(code: str | None) -> str:
    """The country's usual name ('South Korea', not 'Korea, Republic of'), in the spoken
    language ('Südkorea')."""
    language = current_language()
    if code and language != "en":
        localised = Locale.parse(language).territories.get(code)
        if localised:
            return localised
    country = pycountry.countries.get(alpha_2=code) if code else None
    if country is None:
        return code or ""
    return getattr(country, "common_name", None) or country.name


def country_choices() -> tuple[tuple[str, str], ...]:
    """Every ISO 3166-1 country as `(alpha-2 code, name)`, in alphabetical order of name (in the
    spoken language)."""
    return _country_choices(current_language())


@cache
def _country_choices(language: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            ((c.alpha_2, country_name(c.alpha_2)) for c in pycountry.countries),
            key=lambda item: fold(item[1]),
        )
    )


def check_country(value) -> Result:
    """An ISO 3166-1 alpha-2 code of a real country, upper-cased."""
    code = _as_text(value).strip().upper()
    if not code:
        return None, gettext("Choose a country.")
    if not re.fullmatch(r"[A-Z]{2}", code, re.ASCII) or not pycountry.countries.get(alpha_2=code):
        return None, gettext("Choose a country from the list.")
    return code, None


def region_required(country: str | None) -> bool:
    """True if addresses in `country` must name a subdivision from the ISO list."""
    return country in REGION_REQUIRED


def region_label(country: str | None) -> str:
    """What the region is called in `country` ('State', 'Prefecture', …)."""
    return gettext(REGION_LABELS.get(country or "", N_("Region")))


@cache
def region_choices(country: str | None) -> tuple[tuple[str, str], ...]:
    """The subdivisions to choose from for `country` as `(ISO 3166-2 code, name)`.

    Only for countries that require a region; empty elsewhere (the field is free text there).
    Where ISO nests subdivisions (Italian regions hold provinces, Indonesian island groups hold
    provinces) addresses use the innermost level, so parents are left out.
    """
    if not region_required(country):
        return ()
    subdivisions = list(pycountry.subdivisions.get(country_code=country) or [])
    parents = {s.parent_code for s in subdivisions if s.parent_code}
    return tuple(
        sorted(
            (
                (s.code, s.name)
                for s in subdivisions
                if s.code not in parents and s.code not in EXCLUDED_SUBDIVISIONS
            ),
            key=lambda item: fold(item[1]),
        )
    )


def region_name(country: str | None, region: str | None) -> str:
    """A stored region for display: the subdivision's name, or the free text as entered."""
    if not region:
        return ""
    return dict(region_choices(country)).get(region, region)


def check_region(country: str | None, value) -> Result:
    """The ISO 3166-2 code where `country` needs one (code, bare suffix or name accepted).

    Elsewhere the region is optional free text.
    """
    label = region_label(country)
    required = (
        gettext("Choose a %(label)s.", label=_lower_first(label))
        if region_required(country)
        else None
    )
    text, error = clean_text(
        value, label=label, max_length=MAX_LENGTHS["region"], required=required
    )
    if error or text is None or not region_required(country):
        return text, error
    choices = region_choices(country)
    wanted, folded = text.upper(), fold(text)
    for code, name in choices:
        if wanted in (code, code.split("-", 1)[1]) or folded == fold(name):
            return code, None
    return None, (
        gettext(
            "Choose a %(label)s of %(country)s from the list.",
            label=_lower_first(label),
            country=country_in_sentence(country),
        )
    )


def postal_code_label(country: str | None) -> str:
    """What postal codes are called in `country` ('ZIP code', 'PIN code', …)."""
    postal_format = POSTAL_FORMATS.get(country or "")
    return gettext(postal_format.label if postal_format else "Postal code")


def postal_code_hint(country: str | None) -> str:
    """A short hint for the postal code field of `country`."""
    if country in NO_POSTAL_CODE:
        return gettext(
            "Leave this empty: %(country)s has no postal codes.",
            country=country_in_sentence(country),
        )
    postal_format = POSTAL_FORMATS.get(country or "")
    if postal_format is None:
        return gettext("If your address has one.")
    if postal_format.required:
        return gettext("For example %(example)s.", example=postal_format.example)
    return gettext("Optional. For example %(example)s.", example=postal_format.example)


def _ascii_digits(text: str) -> str:
    """Write every decimal digit (Arabic-Indic, fullwidth, …) as an ASCII digit."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def normalise_postal_code(value) -> str:
    """Upper case, ASCII digits, trimmed, runs of spaces collapsed to one."""
    text = unicodedata.normalize("NFKC", _as_text(value))
    return " ".join(_ascii_digits(text).upper().split())


def check_postal_code(country: str | None, value) -> Result:
    """The postal code in the country's own layout ('sw1a1aa' becomes 'SW1A 1AA')."""
    raw = _as_text(value)
    if has_control_characters(raw):
        return None, gettext(
            "The postal code can't contain line breaks, tabs or control characters."
        )
    if len(raw) > MAX_POSTAL_INPUT:
        return None, gettext("That postal code is too long.")
    code = normalise_postal_code(raw)
    label = _lower_first(postal_code_label(country))
    if country in NO_POSTAL_CODE:
        if code:
            return None, gettext(
                "Leave this empty: %(country)s has no postal codes.",
                country=country_in_sentence(country),
            )
        return None, None
    postal_format = POSTAL_FORMATS.get(country or "")
    if not code:
        if postal_format is not None and postal_format.required:
            return None, gettext("Enter the %(label)s.", label=label)
        return None, None
    if postal_format is None:
        if not GENERIC_POSTAL.fullmatch(code):
            return None, gettext(
                "Enter a postal code of 2 to 10 letters, digits, spaces or hyphens."
            )
        return code, None
    compact = code.replace(" ", "").replace("-", "")
    if not re.fullmatch(postal_format.pattern, compact, re.ASCII):
        return None, gettext(
            "Enter a valid %(label)s for %(country)s, for example %(example)s.",
            label=label,
            country=country_in_sentence(country),
            example=postal_format.example,
        )
    return postal_format.layout(compact), None


def check_phone(country: str | None, value) -> Result:
    """An optional phone number, valid in the address's country, stored in E.164 form.

    Numbers written with + and a country code are checked against that code instead.
    """
    text, error = clean_text(value, label=N_("Phone number"), max_length=MAX_PHONE_INPUT)
    if error or text is None:
        return None, error
    where = country_in_sentence(country) if country else gettext("the country")
    message = gettext(
        "Enter a valid phone number for %(where)s, or start with + and the country code.",
        where=where,
    )
    try:
        number = phonenumbers.parse(text, country or None)
    except phonenumbers.NumberParseException:
        return None, message
    if not phonenumbers.is_valid_number(number):
        return None, message
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def phone_display(e164: str | None) -> str:
    """A stored E.164 number in international layout, e.g. '+62 812-3456-7890'."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


LABELS = {
    "full_name": N_("Full name"),
    "company": N_("Company"),
    "line1": N_("Address line 1"),
    "line2": N_("Address line 2"),
    "city": N_("City"),
}
REQUIRED_MESSAGES = {
    "full_name": N_("Enter the full name of the person at this address."),
    "line1": N_("Enter the street address."),
    "city": N_("Enter the city or town."),
}


def validate_address(data: Mapping[str, object]) -> tuple[dict[str, str | None], dict[str, str]]:
    """Clean every field of a submitted address: `(values, errors)`, errors keyed by field.

    The values are only meaningful when `errors` is empty.
    """
    values: dict[str, str | None] = {}
    errors: dict[str, str] = {}

    def keep(field: str, result: Result) -> None:
        values[field], error = result
        if error:
            errors[field] = error

    for field, label in LABELS.items():
        keep(
            field,
            clean_text(
                data.get(field),
                label=label,
                max_length=MAX_LENGTHS[field],
                required=gettext(REQUIRED_MESSAGES[field]) if field in REQUIRED_MESSAGES else None,
            ),
        )
    keep("country", check_country(data.get("country")))
    # With no valid country, the country-specific checks fall back to the generic rules.
    country = values["country"]
    keep("region", check_region(country, data.get("region")))
    keep("postal_code", check_postal_code(country, data.get("postal_code")))
    keep("phone", check_phone(country, data.get("phone")))
    return values, errors
