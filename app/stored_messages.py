"""Messages a job writes in English and a page shows in its reader's language.

A worker has no request and no reader: it stores English text (the row stays readable in a shell,
a log or a CSV export, and rows written before this existed are no different). The page that
shows the text translates it: `translate_stored` finds which of a registry's msgids the text was
made from, reads its placeholders back out, translates those that are messages themselves (a
field label, notes joined with "; "), regroups English-grouped numbers for the reader's locale,
and formats the translation. Text that no registered message made is shown as it is.
"""

import re
from functools import cache

from flask_babel import gettext

from app.i18n import number

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_ENGLISH_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")
NOTE_SEPARATOR = "; "


def english(msgid: str, **params) -> str:
    """The English text of a registered message, as a job stores it."""
    return msgid % params if params else msgid


@cache
def _pattern(msgid: str) -> re.Pattern:
    parts, last = [], 0
    for found in _PLACEHOLDER.finditer(msgid):
        parts.append(re.escape(msgid[last : found.start()]))
        parts.append(f"(?P<{found.group(1)}>.+?)")
        last = found.end()
    parts.append(re.escape(msgid[last:]))
    return re.compile("".join(parts), re.DOTALL)


def _param(value: str, registry: tuple[str, ...], store_locale: str | None) -> str:
    if _ENGLISH_NUMBER.fullmatch(value):
        return number(int(value.replace(",", "")), store_locale)
    whole = _translate(value, registry, store_locale)
    if whole is not None:
        return whole
    if NOTE_SEPARATOR in value:
        notes = value.split(NOTE_SEPARATOR)
        return NOTE_SEPARATOR.join(
            _translate(note, registry, store_locale) or note for note in notes
        )
    return value


def _translate(text: str, registry: tuple[str, ...], store_locale: str | None) -> str | None:
    # Messages without placeholders first: "Stock can't be negative." is its own message, not
    # "%(label)s can't be negative." with a label of "Stock".
    if text in registry and not _PLACEHOLDER.search(text):
        return gettext(text)
    for msgid in registry:
        if not _PLACEHOLDER.search(msgid):
            continue
        found = _pattern(msgid).fullmatch(text)
        if found is None:
            continue
        params = {
            name: _param(value, registry, store_locale) for name, value in found.groupdict().items()
        }
        return gettext(msgid, **params)
    return None


def translate_stored(text: str | None, registry: tuple[str, ...], store_locale=None) -> str:
    """`text` (English, from `english`) in the language being spoken; unknown text unchanged."""
    if not text:
        return text or ""
    return _translate(text, registry, store_locale) or text
