"""Which language a page speaks (app/i18n.py): the shopper's rules on a store, the member's on
the dashboard and console, the formatting locale that follows, and junk that changes nothing."""

from types import SimpleNamespace

import pytest

from app.i18n import (
    clean_language,
    format_locale,
    from_accept_language,
    language_for_order,
    language_of_locale,
    member_language,
    offered_languages,
    shopper_language,
    store_language,
)

BATIK = SimpleNamespace(locale="id_ID")
KAFFEE = SimpleNamespace(locale="de_DE")
ACME = SimpleNamespace(locale="en_US")


@pytest.mark.parametrize(
    ("locale", "language"),
    [("id_ID", "id"), ("de_DE", "de"), ("de_AT", "de"), ("en_US", "en"), ("en_GB", "en")],
)
def test_a_store_speaks_its_locale_language(locale, language):
    assert language_of_locale(locale) == language


@pytest.mark.parametrize("locale", ["fr_FR", "ja_JP", "", None, "xx_YY", "not a locale", "en_US\n"])
def test_a_store_in_a_language_pasar_does_not_speak_gets_english(locale):
    assert language_of_locale(locale) == "en"


def test_a_store_offers_its_own_language_first():
    assert offered_languages(BATIK) == ("id", "en", "de")
    assert offered_languages(KAFFEE)[0] == "de"
    assert store_language(ACME) == "en"


def test_without_any_signal_a_shopper_reads_the_store_language():
    assert shopper_language(store=BATIK) == ("id", "store")
    assert shopper_language(store=KAFFEE) == ("de", "store")
    assert shopper_language(store=ACME) == ("en", "store")


def test_the_browser_language_beats_the_store_default():
    assert shopper_language(store=BATIK, accept_language="en-US,en;q=0.9") == ("en", "browser")
    assert shopper_language(store=ACME, accept_language="de-DE,de;q=0.9,en;q=0.8") == (
        "de",
        "browser",
    )


def test_the_browser_language_is_matched_by_quality_and_primary_tag():
    header = "fr-FR,fr;q=0.9,id;q=0.8,en;q=0.5"
    assert shopper_language(store=KAFFEE, accept_language=header) == ("id", "browser")


def test_a_browser_asking_only_for_languages_pasar_lacks_gets_the_store_language():
    assert shopper_language(store=KAFFEE, accept_language="fr-FR,ja;q=0.5") == ("de", "store")


def test_the_switcher_choice_beats_the_browser_and_a_page_parameter_beats_both():
    assert shopper_language(store=BATIK, chosen="de", accept_language="en") == ("de", "choice")
    assert shopper_language(store=BATIK, asked="en", chosen="de", accept_language="id") == (
        "en",
        "param",
    )


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "xx",
        "en-US\x00",
        "<script>alert(1)</script>",
        "de" * 200,
        ";;;,,,q=",
        "*",
        "en;q=abc",
        "id;q=-1",
        "\u0130d",
        "../../etc/passwd",
        ["de"],
        42,
    ],
)
def test_junk_choices_and_headers_are_ignored(junk):
    assert clean_language(junk) in (None, "en", "id", "de")
    assert shopper_language(store=BATIK, asked=junk, chosen=junk)[0] == "id"
    if isinstance(junk, str):
        language = from_accept_language(junk)
        assert language in (None, "en", "id", "de")
        assert shopper_language(store=KAFFEE, accept_language=junk)[0] in ("de", "en", "id")


def test_an_overlong_accept_language_header_is_ignored():
    assert from_accept_language("de," + "x" * 600) is None


def test_a_member_reads_their_own_language_then_their_browser_then_english():
    assert member_language(preference="de", accept_language="id") == ("de", "account")
    assert member_language(preference=None, accept_language="id-ID,id") == ("id", "browser")
    assert member_language(preference=None, accept_language=None) == ("en", "default")
    assert member_language(preference="klingon", accept_language="fr") == ("en", "default")


def test_an_order_email_speaks_the_checkout_language_else_the_store_one():
    assert language_for_order(SimpleNamespace(locale="de"), BATIK) == "de"
    assert language_for_order(SimpleNamespace(locale=None), BATIK) == "id"
    assert language_for_order(SimpleNamespace(locale="zz"), KAFFEE) == "de"


def test_outside_a_request_money_and_dates_keep_the_store_locale():
    assert format_locale("id_ID") == "id_ID"
    assert format_locale(None) == "en_US"
