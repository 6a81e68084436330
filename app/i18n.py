"""Languages: which one a request, a page or an email speaks, and the locale that formats it.

The rules live here and nowhere else:

- On a store's host (storefront, cart, checkout, account): a `lang` query parameter for that one
  page, else the shopper's choice from the switcher (kept in the session), else the browser's
  `Accept-Language` among the languages the store offers, else the store's own language
  (derived from `Store.locale`: id_ID -> id).
- On the dashboard and the console (and the platform host): the member's own language (the
  preference on their account), else `Accept-Language`, else English.
- Emails: the caller names the language (the order's, the member's); `use_language` renders
  under it.

Dates, numbers and money are formatted in `format_locale()`: the store's full locale (en_US,
id_ID) when the page speaks the store's language, else the language's usual locale, so an
amount reads the same way as the words around it.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager

from babel import Locale, UnknownLocaleError
from flask import current_app, g, has_app_context, has_request_context, request, session
from flask_babel import force_locale, get_locale, get_translations
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

SUPPORTED = ("en", "id", "de")
DEFAULT = "en"
# Each language's own name: a switcher lists them as their readers know them, untranslated.
LANGUAGE_NAMES = {"en": "English", "id": "Bahasa Indonesia", "de": "Deutsch"}
# The locale that formats a language's dates and money when the store's own doesn't apply.
USUAL_LOCALE = {"en": "en_US", "id": "id_ID", "de": "de_DE"}
SESSION_KEY = "lang"
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*", re.ASCII)
MAX_ACCEPT_LANGUAGE = 500  # longer headers are junk; nobody lists that many languages
# Endpoints that belong to members rather than shoppers, even on a store's host.
MEMBER_AREAS = ("dashboard.", "console.", "onboarding.")


def N_(message: str) -> str:
    """Mark a message for the catalog without translating it here: it is stored or compared in
    English (an order's shipping method) and translated where it is shown (`_(label)`)."""
    return message


def clean_language(raw) -> str | None:
    """A supported language code from untrusted text ("de", "DE", "de-AT", "id_ID"), else None."""
    if not isinstance(raw, str) or len(raw) > 16 or not _LANGUAGE_TAG.fullmatch(raw):
        return None
    primary = raw.replace("-", "_").split("_", 1)[0].lower()
    return primary if primary in SUPPORTED else None


def language_of_locale(locale_code: str | None) -> str:
    """A store locale's language if Pasar speaks it (id_ID -> id), else English."""
    try:
        language = Locale.parse(locale_code or DEFAULT).language
    except (UnknownLocaleError, ValueError, TypeError):
        return DEFAULT
    return language if language in SUPPORTED else DEFAULT


def store_language(store) -> str:
    """The language a store speaks when nobody has asked for another."""
    return language_of_locale(getattr(store, "locale", None))


def offered_languages(store) -> tuple[str, ...]:
    """The languages a store's pages come in, its own first."""
    own = store_language(store)
    return (own, *(code for code in SUPPORTED if code != own))


def from_accept_language(header: str | None, offered: tuple[str, ...] = SUPPORTED) -> str | None:
    """The browser's most preferred language among `offered`, or None (junk is ignored)."""
    if not header or len(header) > MAX_ACCEPT_LANGUAGE:
        return None
    try:
        accepted = parse_accept_header(header, LanguageAccept)
        best = accepted.best_match(offered)
    except (ValueError, TypeError):
        return None
    return clean_language(best)


def shopper_language(
    *, asked=None, chosen=None, accept_language=None, store=None
) -> tuple[str, str]:
    """The language for a shopper on `store`'s host, and which rule picked it.

    `asked` is this page's `lang` parameter, `chosen` the switcher's remembered choice.
    """
    offered = offered_languages(store)
    for rule, value in (("param", asked), ("choice", chosen)):
        language = clean_language(value)
        if language in offered:
            return language, rule
    language = from_accept_language(accept_language, offered)
    if language:
        return language, "browser"
    return offered[0], "store"


def member_language(*, preference=None, accept_language=None) -> tuple[str, str]:
    """The language for a member on the dashboard or console, and which rule picked it."""
    language = clean_language(preference)
    if language:
        return language, "account"
    language = from_accept_language(accept_language)
    if language:
        return language, "browser"
    return DEFAULT, "default"


def _user_preference() -> str | None:
    from flask_login import current_user

    if current_user and current_user.is_authenticated:
        return getattr(current_user, "language", None)
    return None


def select_locale() -> str | None:
    """Flask-Babel's locale selector: this request's language (None outside a request)."""
    if not has_request_context():
        return None
    accept = request.headers.get("Accept-Language")
    store = g.get("store")
    endpoint = request.endpoint or ""
    if store is not None and not endpoint.startswith(MEMBER_AREAS):
        language, _rule = shopper_language(
            asked=request.args.get("lang"),
            chosen=session.get(SESSION_KEY),
            accept_language=accept,
            store=store,
        )
        return language
    language, _rule = member_language(preference=_user_preference(), accept_language=accept)
    return language


def current_language() -> str:
    """The language being spoken now: the request's, or the one an email is rendered in."""
    if not has_app_context():
        return DEFAULT
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


def _speaking() -> bool:
    """Whether a language is in force: a request, or `use_language` (an email, a job)."""
    return has_request_context() or bool(g.get("_pasar_languages"))


def format_locale(store_locale: str | None = None) -> str:
    """The locale for dates, numbers and money, given the store's (or the page's) locale.

    The store's own locale while its language is spoken; else the spoken language's usual
    locale. Outside a request and outside `use_language` (a job, a unit test), the store's.
    """
    if not has_app_context() or not _speaking():
        return store_locale or USUAL_LOCALE[DEFAULT]
    language = current_language()
    if store_locale and language_of_locale(store_locale) == language:
        return store_locale
    return USUAL_LOCALE.get(language, USUAL_LOCALE[DEFAULT])


def number(value, store_locale: str | None = None) -> str:
    """A count for a message ("at most %(max)s"), grouped as the spoken language writes it."""
    from babel.numbers import format_decimal

    return format_decimal(value, locale=format_locale(store_locale))


@contextmanager
def use_language(language: str | None) -> Iterator[str]:
    """Render (an email, a message) in `language` (a code or a locale; junk means English)."""
    language = clean_language(language) or DEFAULT
    stack = g.setdefault("_pasar_languages", [])
    stack.append(language)
    try:
        with force_locale(language):
            yield language
    finally:
        stack.pop()


def language_for_user(user, fallback: str | None = None) -> str:
    """The language to write to a person in: their own preference, else `fallback`, else the
    language being spoken now (the page that caused the email)."""
    return (
        clean_language(getattr(user, "language", None))
        or clean_language(fallback)
        or current_language()
    )


def language_for_order(order, store=None) -> str:
    """The language an order's shopper reads: the one they checked out in."""
    return clean_language(getattr(order, "locale", None)) or store_language(store)


def language_choices() -> list[tuple[str, str]]:
    """(code, own name) pairs for a language field."""
    return [(code, LANGUAGE_NAMES[code]) for code in SUPPORTED]


def init_app(app) -> None:
    """Bind Flask-Babel with Pasar's selector and make sure the catalogs are compiled."""
    from app.extensions import babel

    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(_translations_dir(app)))
    ensure_compiled(_translations_dir(app))
    babel.init_app(app, locale_selector=select_locale, default_locale=DEFAULT)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )

    @app.after_request
    def _vary_on_language(response):
        spoken = g.get("_flask_babel")
        if spoken is not None and getattr(spoken, "babel_locale", None) is not None:
            # The page's words depend on the browser's languages and the session's choice.
            response.vary.add("Accept-Language")
            response.headers.setdefault("Content-Language", spoken.babel_locale.language)
        return response

    @app.context_processor
    def inject_languages():
        return {
            "current_language": current_language,
            "language_names": LANGUAGE_NAMES,
            "offered_languages": offered_languages,
        }


def _translations():
    """The catalog of the locale spoken now, for templates: Flask-Babel's, kept beside the
    locale it was loaded for on the request's Babel state (`g._flask_babel`, where
    `force_locale` and `refresh` change the locale). Flask-Babel looks the locale up and renders
    its name for every message, and a page has fifty: a tenth of a dashboard page's time."""
    state = g.get("_flask_babel") if has_app_context() else None
    cached = getattr(state, "pasar_translations", None)
    if cached is not None and cached[0] is getattr(state, "babel_locale", None):
        return cached[1]
    translations = get_translations()  # sets the locale on the state, making the state if need be
    state = g.get("_flask_babel") if has_app_context() else None
    if getattr(state, "babel_locale", None) is not None:
        state.pasar_translations = (state.babel_locale, translations)
    return translations


def _translations_dir(app=None):
    from app.config import PROJECT_ROOT

    return PROJECT_ROOT / "translations"


def ensure_compiled(directory) -> list[str]:
    """Compile each `messages.po` whose `.mo` is missing or older (atomic, safe in parallel)."""
    import os
    import tempfile

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as source:
            catalog = read_po(source, locale=po_path.parent.parent.name)
        fd, tmp = tempfile.mkstemp(dir=po_path.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as target:
            write_mo(target, catalog)
        os.replace(tmp, mo_path)
        compiled.append(str(mo_path))
    if compiled and has_app_context():
        current_app.logger.info("compiled translations: %s", ", ".join(compiled))
    return compiled
