"""Address rules: countries, regions, postal codes, phones and free text, without a database."""

import pytest

from app.addresses import rules

VALID = {
    "full_name": "Siti Rahma",
    "company": "",
    "line1": "Jl. Jend. Sudirman No. 5",
    "line2": "",
    "city": "Jakarta Pusat",
    "region": "ID-JK",
    "postal_code": "10110",
    "country": "ID",
    "phone": "0812-3456-7890",
}


# Whole addresses


def test_a_valid_address_is_cleaned():
    values, errors = rules.validate_address(
        {**VALID, "full_name": "  Siti   Rahma ", "line2": "   ", "company": None}
    )
    assert errors == {}
    assert values == {
        "full_name": "Siti Rahma",
        "company": None,
        "line1": "Jl. Jend. Sudirman No. 5",
        "line2": None,
        "city": "Jakarta Pusat",
        "region": "ID-JK",
        "postal_code": "10110",
        "country": "ID",
        "phone": "+6281234567890",
    }


def test_an_empty_submission_names_every_required_field():
    _, errors = rules.validate_address({})
    assert set(errors) == {"full_name", "line1", "city", "country"}
    assert errors["country"] == "Choose a country."


def test_every_problem_is_reported_at_once():
    _, errors = rules.validate_address(
        {**VALID, "full_name": "x" * 300, "city": "", "postal_code": "abc", "phone": "1"}
    )
    assert set(errors) == {"full_name", "city", "postal_code", "phone"}


def test_non_string_input_does_not_crash():
    _, errors = rules.validate_address({**VALID, "full_name": 42, "line1": ["a"], "country": 7})
    assert "full_name" not in errors
    assert errors["country"] == "Choose a country from the list."


# Free text


@pytest.mark.parametrize(
    "value",
    [
        "José Ñúñez",
        "山田 太郎",
        "Мария Иванова",
        "محمد علي",
        "Zoë O'Brien-Smith",
        "Nguyễn Văn A",
        "श्री राम",  # Devanagari relies on combining marks
        "👩‍💻 Ada",  # a zero-width joiner inside an emoji sequence is fine
    ],
)
def test_names_in_any_script_are_accepted(value):
    assert rules.clean_text(value, label="Full name", max_length=120) == (value, None)


def test_text_is_nfc_normalised():
    decomposed = "Jose\u0301"
    assert rules.clean_text(decomposed, label="Name", max_length=10)[0] == "José"


@pytest.mark.parametrize(
    "value",
    [
        "a\x00b",
        "line\nbreak",
        "carriage\rreturn",
        "tab\there",
        "bell\x07",
        "delete\x7f",
        "c1\x85control",
        "right-to-left\u202eoverride",
        "isolate\u2066x\u2069",
        "line\u2028separator",
        "private\ue000use",
    ],
)
def test_control_characters_are_refused(value):
    text, error = rules.clean_text(value, label="Address line 1", max_length=150)
    assert text is None
    assert error == "Address line 1 can't contain line breaks, tabs or other control characters."


def test_length_limits_count_characters_after_trimming():
    assert rules.clean_text("  " + "a" * 120 + "  ", label="Full name", max_length=120)[1] is None
    text, error = rules.clean_text("a" * 121, label="Full name", max_length=120)
    assert text is None and error == "Full name is too long: use at most 120 characters."
    assert rules.clean_text("界" * 300, label="City", max_length=100)[1] is not None


@pytest.mark.parametrize("field", ["full_name", "company", "line1", "line2", "city"])
def test_300_character_values_are_refused(field):
    _, errors = rules.validate_address({**VALID, field: "x" * 300})
    assert "too long" in errors[field]


def test_required_and_optional_text():
    assert rules.clean_text("   ", label="City", max_length=10, required="Enter the city.") == (
        None,
        "Enter the city.",
    )
    assert rules.clean_text(None, label="Company", max_length=10) == (None, None)


def test_markup_is_just_text_to_the_rules():
    # Escaping is the templates' job; the rules keep what was typed.
    value = "<script>alert(1)</script>"
    assert rules.clean_text(value, label="Full name", max_length=120) == (value, None)


# Countries


@pytest.mark.parametrize(
    ("value", "expected"), [("US", "US"), ("id", "ID"), (" gb ", "GB"), ("AX", "AX")]
)
def test_real_country_codes_are_accepted(value, expected):
    assert rules.check_country(value) == (expected, None)


@pytest.mark.parametrize(
    "value", ["XX", "UK", "USA", "U", "840", "ＵＳ", "İD", "<script>", "x" * 300, "US\x00"]
)
def test_unknown_country_codes_are_refused(value):
    assert rules.check_country(value) == (None, "Choose a country from the list.")


def test_country_choices_are_sorted_by_their_usual_names():
    choices = rules.country_choices()
    names = [name for _, name in choices]
    assert len(choices) == 249
    assert ("KR", "South Korea") in choices and ("TW", "Taiwan") in choices
    assert names.index("Åland Islands") < names.index("Albania")  # accents don't sort last
    assert names.index("Zimbabwe") == len(names) - 1


def test_country_names_read_well_in_sentences():
    assert rules.country_in_sentence("US") == "the United States"
    assert rules.country_in_sentence("ID") == "Indonesia"
    assert rules.country_name("XX") == "XX"


# Regions


@pytest.mark.parametrize(
    ("country", "value", "expected"),
    [
        ("US", "US-CA", "US-CA"),
        ("US", "ca", "US-CA"),
        ("US", "california", "US-CA"),
        ("US", "DC", "US-DC"),
        ("US", "PR", "US-PR"),
        ("CA", "ON", "CA-ON"),
        ("CA", "Québec", "CA-QC"),
        ("AU", "NSW", "AU-NSW"),
        ("ID", "ID-JB", "ID-JB"),
        ("ID", "Bali", "ID-BA"),
        ("IN", "MH", "IN-MH"),
        ("BR", "SP", "BR-SP"),
        ("MX", "CMX", "MX-CMX"),
        ("JP", "13", "JP-13"),
        ("JP", "Tokyo", "JP-13"),
        ("CN", "CN-BJ", "CN-BJ"),
        ("IT", "MI", "IT-MI"),
        ("IT", "RM", "IT-RM"),
        ("ES", "M", "ES-M"),
        ("ES", "ES-CE", "ES-CE"),
        ("MY", "MY-14", "MY-14"),
    ],
)
def test_regions_are_matched_to_iso_codes(country, value, expected):
    assert rules.check_region(country, value) == (expected, None)


@pytest.mark.parametrize(
    ("country", "value", "message"),
    [
        ("US", "", "Choose a state."),
        ("US", "CA-ON", "Choose a state of the United States from the list."),
        ("US", "ZZ", "Choose a state of the United States from the list."),
        ("CA", "US-CA", "Choose a province or territory of Canada from the list."),
        ("JP", None, "Choose a prefecture."),
        ("ID", "ID-JW", "Choose a province of Indonesia from the list."),  # an island group
        ("IT", "IT-25", "Choose a province of Italy from the list."),  # a region, not a province
        ("ES", "ES-MD", "Choose a province of Spain from the list."),  # a community
        ("CN", "CN-HK", "Choose a province of China from the list."),  # has its own country code
        ("AU", "x" * 300, "State or territory is too long: use at most 100 characters."),
        ("BR", "S\nP", "State can't contain line breaks, tabs or other control characters."),
    ],
)
def test_wrong_regions_are_refused(country, value, message):
    assert rules.check_region(country, value) == (None, message)


@pytest.mark.parametrize("country", ["GB", "DE", "FR", "IE", "SG", "HK", None])
def test_region_is_optional_free_text_elsewhere(country):
    assert rules.check_region(country, "") == (None, None)
    assert rules.check_region(country, "  County   Kerry ") == ("County Kerry", None)
    assert rules.region_choices(country) == ()


@pytest.mark.parametrize(
    ("country", "count"),
    [("US", 57), ("CA", 13), ("AU", 8), ("JP", 47), ("ID", 38), ("CN", 31), ("ES", 52)],
)
def test_region_lists(country, count):
    choices = rules.region_choices(country)
    assert len(choices) == count
    names = [rules.fold(name) for _, name in choices]
    assert names == sorted(names)
    assert all(code.startswith(f"{country}-") for code, _ in choices)


def test_region_names_for_display():
    assert rules.region_name("US", "US-NY") == "New York"
    assert rules.region_name("GB", "Greater London") == "Greater London"
    assert rules.region_name("US", None) == ""


# Postal codes


@pytest.mark.parametrize(
    ("country", "value", "expected"),
    [
        ("US", "94103", "94103"),
        ("US", "94103-1234", "94103-1234"),
        ("US", "941031234", "94103-1234"),
        ("US", " 94103 1234 ", "94103-1234"),
        ("CA", "k1a0b1", "K1A 0B1"),
        ("CA", "K1A-0B1", "K1A 0B1"),
        ("GB", "sw1a1aa", "SW1A 1AA"),
        ("GB", "  ec1a   1bb ", "EC1A 1BB"),
        ("GB", "M1 1AE", "M1 1AE"),
        ("GB", "b338th", "B33 8TH"),
        ("GB", "GIR 0AA", "GIR 0AA"),
        ("IE", "d02x285", "D02 X285"),
        ("DE", "10115", "10115"),
        ("FR", "75 008", "75008"),
        ("NL", "1012ab", "1012 AB"),
        ("ID", "10110", "10110"),
        ("AU", "2000", "2000"),
        ("JP", "1000001", "100-0001"),
        ("JP", "〒100-0001".replace("〒", ""), "100-0001"),
        ("JP", "１００－０００１", "100-0001"),  # fullwidth digits and hyphen
        ("IN", "110 001", "110001"),
        ("IN", "११०००१", "110001"),  # Devanagari digits
        ("SG", "018956", "018956"),
        ("MY", "50450", "50450"),
        ("IT", "00184", "00184"),
        ("ES", "28013", "28013"),
        ("BR", "01310100", "01310-100"),
        ("BR", "01310-100", "01310-100"),
        ("MX", "06600", "06600"),
        ("CN", "100000", "100000"),
        ("PL", "00950", "00-950"),
        ("SE", "11455", "114 55"),
        ("ZA", "0001", "0001"),  # generic rule
        ("AR", "c1425dkf", "C1425DKF"),
        ("CL", "8320000", "8320000"),
    ],
)
def test_postal_codes_are_normalised(country, value, expected):
    assert rules.check_postal_code(country, value) == (expected, None)


@pytest.mark.parametrize(
    ("country", "value", "message"),
    [
        ("US", "9410", "Enter a valid ZIP code for the United States, for example 94103"),
        ("US", "94103-12", "valid ZIP code"),
        ("US", "ABCDE", "valid ZIP code"),
        ("US", "٩٤١٠٣٤", "valid ZIP code"),  # six Arabic-Indic digits
        ("CA", "D1A 0B1", "valid postal code for Canada"),  # no D in Canadian codes
        ("GB", "94103", "valid postcode for the United Kingdom, for example SW1A 1AA"),
        ("GB", "SW1A", "valid postcode"),
        ("IE", "12345", "valid Eircode for Ireland"),
        ("DE", "1011", "valid postal code for Germany"),
        ("FR", "7500A", "valid postal code for France"),
        ("NL", "0123 AB", "valid postcode for the Netherlands"),
        ("ID", "01011", "valid postal code for Indonesia, for example 10110"),
        ("ID", "101100", "valid postal code for Indonesia"),
        ("AU", "20000", "valid postcode for Australia"),
        ("JP", "100-001", "valid postal code for Japan"),
        ("IN", "011001", "valid PIN code for India"),
        ("SG", "12345", "valid postal code for Singapore"),
        ("MY", "5045", "valid postcode for Malaysia"),
        ("IT", "0018", "valid postal code for Italy"),
        ("ES", "53001", "valid postal code for Spain"),
        ("BR", "0131010", "valid CEP for Brazil"),
        ("US", "", "Enter the ZIP code."),
        ("GB", None, "Enter the postcode."),
        ("IN", "  ", "Enter the PIN code."),
        ("HK", "999077", "Leave this empty: Hong Kong has no postal codes."),
        ("AE", "00000", "Leave this empty: the United Arab Emirates has no postal codes."),
        ("ZA", "1", "Enter a postal code of 2 to 10 letters, digits, spaces or hyphens."),
        ("ZA", "12345678901", "2 to 10 letters"),
        ("ZA", "12_34", "2 to 10 letters"),
        ("ZA", "-1234", "2 to 10 letters"),
        ("US", "9" * 300, "That postal code is too long."),
        ("US", "94103\n", "can't contain line breaks"),
        ("GB", "SW1A\x001AA", "can't contain line breaks"),
    ],
)
def test_wrong_postal_codes_are_refused(country, value, message):
    code, error = rules.check_postal_code(country, value)
    assert code is None
    assert message in error


@pytest.mark.parametrize(("country", "value"), [("IE", ""), ("HK", ""), ("ZA", ""), (None, "")])
def test_postal_code_can_be_left_out_where_it_is_optional(country, value):
    assert rules.check_postal_code(country, value) == (None, None)


def test_postal_code_labels_and_hints():
    assert rules.postal_code_label("US") == "ZIP code"
    assert rules.postal_code_label("IN") == "PIN code"
    assert rules.postal_code_label("DE") == "Postal code"
    assert rules.postal_code_hint("GB") == "For example SW1A 1AA."
    assert rules.postal_code_hint("IE").startswith("Optional.")
    assert "no postal codes" in rules.postal_code_hint("HK")


# Phones


@pytest.mark.parametrize(
    ("country", "value", "expected"),
    [
        ("ID", "0812-3456-7890", "+6281234567890"),
        ("ID", "+62 812 3456 7890", "+6281234567890"),
        ("US", "(650) 253-0000", "+16502530000"),
        ("GB", "020 7925 0918", "+442079250918"),
        ("DE", "030 901820", "+4930901820"),
        ("JP", "03-1234-5678", "+81312345678"),
        ("IN", "98765 43210", "+919876543210"),
        ("US", "+44 20 7925 0918", "+442079250918"),  # a foreign number given in full
        ("SG", "６５１２３４５６", "+6565123456"),  # fullwidth digits
        ("US", "", None),
        ("US", None, None),
    ],
)
def test_phone_numbers_are_stored_in_e164(country, value, expected):
    assert rules.check_phone(country, value) == (expected, None)


@pytest.mark.parametrize(
    ("country", "value"),
    [
        ("ID", "12"),
        ("US", "555-0100"),
        ("US", "+1 000 000 0000"),
        ("GB", "not a number"),
        ("DE", "+999 1234 5678"),
        ("US", "1" * 33),
        ("US", "+1 650\n253 0000"),
        ("US", "<script>"),
    ],
)
def test_bad_phone_numbers_are_refused(country, value):
    number, error = rules.check_phone(country, value)
    assert number is None
    assert error


def test_phone_message_names_the_country():
    assert rules.check_phone("ID", "12")[1] == (
        "Enter a valid phone number for Indonesia, or start with + and the country code."
    )
    assert "for the country" in rules.check_phone(None, "12")[1]


def test_phone_display():
    assert rules.phone_display("+6281234567890") == "+62 812-3456-7890"
    assert rules.phone_display("+16502530000") == "+1 650-253-0000"
    assert rules.phone_display(None) == ""
