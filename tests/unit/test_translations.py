"""The shipped catalogs: every string of Pasar's own translated in every language (none empty or
fuzzy), no placeholder lost or invented, and the catalogs up to date with the sources (a string
marked in the code but missing from a catalog, or left in a catalog after leaving the code)."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from app.i18n import SUPPORTED

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [code for code in SUPPORTED if code != "en"]
# The same keywords as `make translations-extract` (Makefile, BABEL_EXTRACT).
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "lazy_ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def catalog(language: str):
    with (ROOT / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=language)


def messages(language: str):
    return [message for message in catalog(language) if message.id]


def as_key(msgid) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    """Every msgid marked in app/, tenants/, jobs/ and templates/, as babel.cfg reads them."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)

    def wanted(path: str) -> bool:
        name = Path(path).name
        return not name.startswith(".") and name not in {"__pycache__", "node_modules", ".venv"}

    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords=KEYWORDS,
        directory_filter=wanted,
    ):
        found.add(as_key(message))
    return found


def test_the_sources_mark_the_shopper_side():
    """A smoke check that extraction sees templates in `_partials` folders and Python alike."""
    ids = {as_key(m.id) for m in messages("de")}
    for sample in ("Add to cart", "Sold out", "Thank you for your order!", "Your cart is empty."):
        assert sample in ids


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_string_is_translated_and_none_is_fuzzy(language):
    untranslated = []
    for message in messages(language):
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if "fuzzy" in message.flags or not all(form and form.strip() for form in forms):
            untranslated.append(as_key(message.id))
    assert untranslated == [], f"{language}: translate these (and drop any fuzzy flag)"
    assert not catalog(language).fuzzy


@pytest.mark.parametrize("language", TRANSLATED)
def test_placeholders_survive_translation(language):
    broken = []
    for message in messages(language):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set().union(*(PLACEHOLDER.findall(text) for text in ids))
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        for form in forms:
            if set(PLACEHOLDER.findall(form)) != wanted or form.count("%%") != ids[0].count("%%"):
                broken.append((as_key(message.id), form))
    assert broken == []
    # Babel's own checks (python-format placeholders and plural forms) agree.
    problems = [(message.id, errors) for message, errors in catalog(language).check()]
    assert problems == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogs_match_the_sources(language, extracted):
    in_catalog = {as_key(m.id) for m in messages(language)}
    missing = sorted(extracted - in_catalog)
    stale = sorted(in_catalog - extracted)
    assert missing == [], "marked in the code but not in the catalog: run make translations-extract"
    assert stale == [], "in the catalog but no longer in the code: run make translations-extract"


def test_the_placeholder_check_catches_a_broken_translation():
    """The rule above would refuse a translation that drops or renames a placeholder."""
    msgid = "Order #%(number)s confirmed: thank you for shopping at %(store)s"
    good = "Pesanan #%(number)s dikonfirmasi: terima kasih telah berbelanja di %(store)s"
    bad = "Pesanan #%(nomor)s dikonfirmasi"
    assert set(PLACEHOLDER.findall(good)) == set(PLACEHOLDER.findall(msgid))
    assert set(PLACEHOLDER.findall(bad)) != set(PLACEHOLDER.findall(msgid))
