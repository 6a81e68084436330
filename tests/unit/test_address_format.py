"""Address layout: one function writes every address the way its country does, with names."""

import pytest

from app.addresses.formatting import address_lines, layout


@pytest.mark.parametrize(
    ("address", "lines"),
    [
        (
            {"full_name": "Jane Doe", "line1": "1 Main St", "city": "Little Rock",
             "region": "US-AR", "postal_code": "72201", "country": "US"},
            ["Jane Doe", "1 Main St", "Little Rock, Arkansas 72201", "United States"],
        ),
        (  # postal code before the city; a free-text region the German layout has no place for
            {"full_name": "Max Muster", "company": "Muster GmbH", "line1": "Hauptstr. 1",
             "city": "München", "region": "Bayern", "postal_code": "80331", "country": "DE"},
            ["Max Muster", "Muster GmbH", "Hauptstr. 1", "80331 München", "Bayern", "Germany"],
        ),
        (  # company first
            {"full_name": "Léa Martin", "company": "ACME", "line1": "8 rue de la Paix",
             "city": "Paris", "postal_code": "75002", "country": "FR"},
            ["ACME", "Léa Martin", "8 rue de la Paix", "75002 Paris", "France"],
        ),
        (
            {"full_name": "Sam Smith", "line1": "10 Downing Street", "city": "London",
             "postal_code": "SW1A 2AA", "country": "GB"},
            ["Sam Smith", "10 Downing Street", "London", "SW1A 2AA", "United Kingdom"],
        ),
        (
            {"full_name": "山田 太郎", "line1": "千代田1-1", "city": "千代田区", "region": "JP-13",
             "postal_code": "100-0001", "country": "JP"},
            ["山田 太郎", "千代田1-1", "千代田区, Tokyo 100-0001", "Japan"],
        ),
        (
            {"full_name": "Ana Souza", "line1": "Av. Paulista, 1578", "city": "São Paulo",
             "region": "BR-SP", "postal_code": "01310-200", "country": "BR"},
            ["Ana Souza", "Av. Paulista, 1578", "São Paulo - São Paulo", "01310-200", "Brazil"],
        ),
        (  # no postal codes in Qatar; nothing dangles where a field is empty
            {"full_name": "Omar", "line1": "Street 1", "city": "Doha", "country": "QA"},
            ["Omar", "Street 1", "Doha", "Qatar"],
        ),
        (  # a country Google's data doesn't lay out keeps every field
            {"full_name": "Ice", "line1": "Base 1", "city": "McMurdo", "region": "Ross",
             "postal_code": "123", "country": "AQ"},
            ["Ice", "Base 1", "McMurdo", "Ross 123", "Antarctica"],
        ),
        ({"full_name": "Me", "country": "US"}, ["Me", "United States"]),
        ({}, []),
        (None, []),
    ],
)  # fmt: skip
def test_address_lines(address, lines):
    assert address_lines(address) == lines


def test_saved_addresses_and_order_dicts_read_the_same():
    from app.addresses.models import Address

    values = {"full_name": "Siti Rahma", "line1": "Jl. Sudirman 5", "line2": "Lantai 12",
              "city": "Jakarta Pusat", "region": "ID-JK", "postal_code": "10110",
              "country": "ID", "phone": "+6281234567890"}  # fmt: skip
    expected = ["Siti Rahma", "Jl. Sudirman 5", "Lantai 12", "Jakarta Pusat, Jakarta Raya 10110",
                "Indonesia"]  # fmt: skip
    assert address_lines(values) == expected
    assert address_lines(Address(**values)) == expected


def test_every_layout_has_a_place_for_every_field():
    for country in ("US", "JP", "DE", "GB", "QA", "AQ", "ZZ", None):
        fmt = layout(country)
        assert all(code in fmt for code in ("%N", "%O", "%A", "%C", "%S", "%Z")), country
