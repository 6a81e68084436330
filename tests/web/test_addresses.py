"""The address book: pages, htmx fragments, ownership, hostile input and the database rules."""

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.addresses import service
from app.addresses.models import Address
from app.extensions import db
from tests.conftest import BACKENDS, sign_in_as
from tests.factories import make_user

# One backend: pages, fragments and forms; the database rules run on both (see "Which tests run on both databases" in the README).
pytestmark = pytest.mark.backends("sqlite")

JAKARTA = {
    "full_name": "Siti Rahma",
    "company": "",
    "line1": "Jl. Jend. Sudirman No. 5",
    "line2": "Lantai 12",
    "city": "Jakarta Pusat",
    "region": "ID-JK",
    "postal_code": "10110",
    "country": "ID",
    "phone": "0812 3456 7890",
}
SAN_FRANCISCO = {
    "full_name": "Alex Doe",
    "line1": "1 Market Street",
    "city": "San Francisco",
    "region": "US-CA",
    "postal_code": "94105",
    "country": "US",
}
LONDON = {
    "full_name": "Sam Smith",
    "line1": "10 Downing Street",
    "city": "London",
    "postal_code": "sw1a2aa",
    "country": "GB",
}
BASE = "/account/addresses"


@pytest.fixture
def shopper(app):
    with app.app_context():
        return make_user("shopper@example.com", name="Siti Rahma")


@pytest.fixture
def other(app):
    with app.app_context():
        return make_user("other@example.com", name="Other Person")


@pytest.fixture
def signed_in(client, shopper):
    sign_in_as(client, shopper)
    return client


def add_address(app, user, values=None, **flags) -> int:
    """Save an address through the service, outside any request; returns its id."""
    with app.app_context():
        owner = db.session.get(User, user.id)
        return service.create_address(owner, values or JAKARTA, **flags).id


def rows(app, user) -> list[dict]:
    """The user's addresses as plain dicts, read after the requests have finished."""
    with app.app_context():
        addresses = db.session.scalars(
            select(Address).where(Address.user_id == user.id).order_by(Address.id)
        )
        return [{c.name: getattr(a, c.name) for c in Address.__table__.columns} for a in addresses]


def defaults(app, user) -> dict[str, list[int]]:
    found = rows(app, user)
    return {
        "shipping": [r["id"] for r in found if r["is_default_shipping"]],
        "billing": [r["id"] for r in found if r["is_default_billing"]],
    }


def text(response) -> str:
    return response.get_data(as_text=True)


# Signing in


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"{BASE}/"),
        ("get", f"{BASE}/new"),
        ("post", f"{BASE}/new"),
        ("get", f"{BASE}/1/edit"),
        ("post", f"{BASE}/1/edit"),
        ("post", f"{BASE}/1/delete"),
        ("post", f"{BASE}/1/default"),
        ("get", f"{BASE}/regions?country=US"),
    ],
)
def test_anonymous_visitors_must_sign_in(app, client, shopper, method, path):
    address_id = add_address(app, shopper)
    path = path.replace("/1/", f"/{address_id}/")
    response = getattr(client, method)(path, data={**JAKARTA, "kind": "shipping"})
    assert response.status_code != 200
    assert response.status_code in (302, 401)
    if response.status_code == 302:
        assert "signin" in response.headers["Location"]
    assert len(rows(app, shopper)) == 1 and rows(app, shopper)[0]["full_name"] == "Siti Rahma"


# The list


def test_empty_book_invites_a_first_address(signed_in):
    response = signed_in.get(f"{BASE}/")
    assert response.status_code == 200
    html = text(response)
    assert "No saved addresses yet" in html
    assert f'href="{BASE}/new"' in html
    assert 'aria-current="page"' in html  # the account menu marks Addresses


def test_list_shows_addresses_with_default_badges(app, signed_in, shopper):
    add_address(app, shopper, JAKARTA)
    add_address(app, shopper, SAN_FRANCISCO)
    html = text(signed_in.get(f"{BASE}/"))
    assert html.count('<li class="address-card') == 2
    assert "Default shipping" in html and "Default billing" in html
    assert "Jakarta Pusat, Jakarta Raya 10110" in html
    assert "Indonesia" in html
    assert "+62 812-3456-7890" in html
    assert "San Francisco, California 94105" in html
    # The defaults come first.
    assert html.index("Siti Rahma</strong>") < html.index("Alex Doe</strong>")


def test_htmx_gets_only_the_list_fragment(app, signed_in, shopper):
    add_address(app, shopper)
    response = signed_in.get(f"{BASE}/", headers={"HX-Request": "true"})
    body = text(response).strip()
    assert response.status_code == 200
    assert body.startswith('<div id="address-list"') and "Siti Rahma" in body
    assert "<html" not in body
    assert "HX-Request" in response.headers["Vary"]


# Creating


@pytest.mark.backends(*BACKENDS)  # a database rule or column limit
def test_first_address_is_saved_normalised_and_becomes_both_defaults(app, signed_in, shopper):
    response = signed_in.post(
        f"{BASE}/new", data={**LONDON, "full_name": "  Sam   Smith ", "phone": "020 7925 0918"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{BASE}/"
    [saved] = rows(app, shopper)
    assert saved["full_name"] == "Sam Smith"
    assert saved["postal_code"] == "SW1A 2AA"
    assert saved["country"] == "GB" and saved["region"] is None
    assert saved["phone"] == "+442079250918"
    assert saved["is_default_shipping"] and saved["is_default_billing"]
    page = text(signed_in.get(response.headers["Location"]))
    assert "Address saved." in page


def test_new_form_offers_the_store_country_and_its_regions(client_for, store_a, shopper):
    client = client_for(store_a)  # en_US store: the form starts on the United States
    sign_in_as(client, shopper)
    html = text(client.get(f"{BASE}/new"))
    assert '<option selected value="US">United States</option>' in html
    assert '<select id="region" name="region"' in html and ">California</option>" in html
    assert 'hx-get="/account/addresses/regions"' in html
    assert "first address becomes your default" in html
    assert 'style="' not in html and "<script>" not in html


def test_new_form_suggests_the_country_of_the_latest_address(app, signed_in, shopper):
    add_address(app, shopper, JAKARTA)
    html = text(signed_in.get(f"{BASE}/new"))
    assert '<option selected value="ID">Indonesia</option>' in html
    assert ">Jawa Barat</option>" in html and ">Jawa</option>" not in html
    assert "Use as my default shipping address" in html


def test_a_new_address_can_take_over_a_default(app, signed_in, shopper):
    first = add_address(app, shopper, JAKARTA)
    response = signed_in.post(f"{BASE}/new", data={**SAN_FRANCISCO, "is_default_billing": "y"})
    assert response.status_code == 303
    second = rows(app, shopper)[1]["id"]
    assert defaults(app, shopper) == {"shipping": [first], "billing": [second]}


def test_address_book_works_on_a_store_host_and_is_shared_with_the_platform(
    app, client_for, store_a, shopper
):
    on_store = client_for(store_a)
    sign_in_as(on_store, shopper)
    page = on_store.get(f"{BASE}/")
    assert page.status_code == 200 and "Alpha Goods" in text(page)
    assert on_store.post(f"{BASE}/new", data=SAN_FRANCISCO).status_code == 303
    on_platform = client_for(None)
    sign_in_as(on_platform, shopper)
    assert "1 Market Street" in text(on_platform.get(f"{BASE}/"))
    with app.app_context():
        assert not hasattr(Address, "store_id")


# Hostile and wrong input


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"full_name": None}, "full_name", "Enter the full name"),
        ({"line1": None, "city": None}, "line1", "Enter the street address"),
        ({"line1": "x" * 300}, "line1", "at most 150 characters"),
        ({"full_name": "y" * 300}, "full_name", "at most 120 characters"),
        # NUL and most other C0 characters are refused for every form before any view runs
        # (tests/security/test_control_characters.py); tabs reach the address rules.
        ({"full_name": "Siti\tRahma"}, "full_name", "control characters"),
        ({"city": "Jakarta\r\nSet-Cookie: x=1"}, "city", "control characters"),
        ({"line2": "Lantai\u202e21"}, "line2", "control characters"),
        ({"country": "XX"}, "country", "Choose a country from the list"),
        ({"country": None}, "country", "Choose a country."),
        ({"country": "<script>"}, "country", "Choose a country from the list"),
        ({"region": "CA-ON"}, "region", "Choose a province of Indonesia from the list"),
        ({"region": ""}, "region", "Choose a province."),
        ({"postal_code": "1011"}, "postal_code", "for Indonesia, for example 10110"),
        ({"postal_code": "9" * 40}, "postal_code", "too long"),
        ({"phone": "12"}, "phone", "valid phone number for Indonesia"),
    ],
)
@pytest.mark.backends(*BACKENDS)  # a database rule or column limit
def test_bad_input_is_refused_with_a_message_and_writes_nothing(
    app, signed_in, shopper, changes, field, message
):
    data = {k: v for k, v in {**JAKARTA, **changes}.items() if v is not None}
    response = signed_in.post(f"{BASE}/new", data=data)
    assert response.status_code == 422
    html = text(response)
    assert message in html
    assert "Please correct the highlighted" in html
    assert f'id="{field}"' in html
    assert rows(app, shopper) == []
    # What was typed is kept (escaped) so it can be fixed.
    assert "Siti Rahma" in html or field == "full_name"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({**SAN_FRANCISCO, "region": "CA-ON"}, "Choose a state of the United States"),
        ({**SAN_FRANCISCO, "postal_code": "SW1A 1AA"}, "valid ZIP code for the United States"),
        ({**LONDON, "postal_code": "94105"}, "valid postcode for the United Kingdom"),
        ({**LONDON, "country": "HK", "postal_code": "999077"}, "Hong Kong has no postal codes"),
    ],
)
def test_region_and_postal_code_must_fit_the_country(app, signed_in, shopper, values, message):
    response = signed_in.post(f"{BASE}/new", data=values)
    assert response.status_code == 422
    assert message in text(response)
    assert rows(app, shopper) == []


def test_markup_in_a_name_is_stored_as_text_and_shown_escaped(app, signed_in, shopper):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = signed_in.post(f"{BASE}/new", data={**JAKARTA, "full_name": hostile})
    assert response.status_code == 303
    assert rows(app, shopper)[0]["full_name"] == hostile
    html = text(signed_in.get(f"{BASE}/"))
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


@pytest.mark.backends(*BACKENDS)  # a database rule or column limit
def test_unicode_addresses_are_welcome(app, signed_in, shopper):
    values = {
        "full_name": "山田 太郎",
        "line1": "千代田1-1",
        "city": "千代田区",
        "region": "JP-13",
        "postal_code": "１００－０００１",  # fullwidth, as Japanese keyboards type it
        "country": "JP",
    }
    assert signed_in.post(f"{BASE}/new", data=values).status_code == 303
    [saved] = rows(app, shopper)
    assert saved["full_name"] == "山田 太郎" and saved["postal_code"] == "100-0001"
    assert "千代田区, Tokyo 100-0001" in text(signed_in.get(f"{BASE}/"))


@pytest.mark.backends(*BACKENDS)  # a database rule or column limit
def test_the_fifty_first_address_is_refused(app, signed_in, shopper):
    with app.app_context():
        owner = db.session.get(User, shopper.id)
        for n in range(service.MAX_ADDRESSES):
            service.create_address(owner, {**JAKARTA, "line1": f"Jl. Sudirman No. {n + 1}"})
    response = signed_in.post(f"{BASE}/new", data=SAN_FRANCISCO)
    assert response.status_code == 422
    assert "You can keep up to 50 addresses" in text(response)
    assert len(rows(app, shopper)) == 50
    assert "the most you can keep" in text(signed_in.get(f"{BASE}/new"))
    listing = text(signed_in.get(f"{BASE}/"))
    assert "the most you can keep" in listing and f'href="{BASE}/new"' not in listing


# Editing and deleting


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_edit_shows_the_address_and_saves_changes(app, signed_in, shopper):
    address_id = add_address(app, shopper, SAN_FRANCISCO)
    form = text(signed_in.get(f"{BASE}/{address_id}/edit"))
    assert 'value="1 Market Street"' in form
    assert '<option value="US-CA" selected>California</option>' in form
    # Picking another country in the form fetches its regions.
    assert ">Roma</option>" in text(signed_in.get(f"{BASE}/regions?country=IT"))
    response = signed_in.post(
        f"{BASE}/{address_id}/edit",
        data={
            **SAN_FRANCISCO,
            "region": "ny",
            "city": "New York",
            "postal_code": "100019999",
            "is_default_shipping": "y",
            "is_default_billing": "y",
        },
    )
    assert response.status_code == 303
    [saved] = rows(app, shopper)
    assert (saved["city"], saved["region"], saved["postal_code"]) == (
        "New York",
        "US-NY",
        "10001-9999",
    )
    assert saved["updated_at"] >= saved["created_at"]
    assert "Address updated." in text(signed_in.get(f"{BASE}/"))


@pytest.mark.backends(*BACKENDS)  # a database rule or column limit
def test_a_refused_edit_changes_nothing(app, signed_in, shopper):
    address_id = add_address(app, shopper, SAN_FRANCISCO)
    before = rows(app, shopper)
    response = signed_in.post(
        f"{BASE}/{address_id}/edit", data={**SAN_FRANCISCO, "city": "", "postal_code": "abc"}
    )
    assert response.status_code == 422
    html = text(response)
    assert "Enter the city or town." in html and "valid ZIP code" in html
    assert rows(app, shopper) == before


def test_unticking_a_default_on_edit_leaves_no_default(app, signed_in, shopper):
    address_id = add_address(app, shopper, SAN_FRANCISCO)
    response = signed_in.post(
        f"{BASE}/{address_id}/edit", data={**SAN_FRANCISCO, "is_default_billing": "y"}
    )
    assert response.status_code == 303
    assert defaults(app, shopper) == {"shipping": [], "billing": [address_id]}


def test_delete_with_a_plain_form_redirects(app, signed_in, shopper):
    address_id = add_address(app, shopper)
    response = signed_in.post(f"{BASE}/{address_id}/delete")
    assert response.status_code == 303
    assert response.headers["Location"] == f"{BASE}/"
    assert rows(app, shopper) == []
    assert "Address deleted." in text(signed_in.get(f"{BASE}/"))


def test_delete_from_htmx_answers_an_empty_body(app, signed_in, shopper):
    keep = add_address(app, shopper, SAN_FRANCISCO)
    gone = add_address(app, shopper, JAKARTA)
    response = signed_in.post(f"{BASE}/{gone}/delete", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert text(response) == ""
    assert [r["id"] for r in rows(app, shopper)] == [keep]


@pytest.mark.backends(*BACKENDS)  # a database rule or column limit
def test_deleting_the_account_deletes_its_addresses(app, shopper):
    add_address(app, shopper)
    with app.app_context():
        db.session.delete(db.session.get(User, shopper.id))
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Address)) == 0


# Defaults


@pytest.mark.backends(*BACKENDS)  # a database rule or column limit
def test_setting_a_default_unsets_the_old_one(app, signed_in, shopper):
    first = add_address(app, shopper, JAKARTA)
    second = add_address(app, shopper, SAN_FRANCISCO)
    assert defaults(app, shopper) == {"shipping": [first], "billing": [first]}
    response = signed_in.post(f"{BASE}/{second}/default", data={"kind": "shipping"})
    assert response.status_code == 303
    assert defaults(app, shopper) == {"shipping": [second], "billing": [first]}
    assert "Default shipping address updated." in text(signed_in.get(f"{BASE}/"))
    signed_in.post(f"{BASE}/{second}/default", data={"kind": "billing"})
    assert defaults(app, shopper) == {"shipping": [second], "billing": [second]}


def test_htmx_default_answers_the_new_list(app, signed_in, shopper):
    add_address(app, shopper, JAKARTA)
    second = add_address(app, shopper, SAN_FRANCISCO)
    response = signed_in.post(
        f"{BASE}/{second}/default", data={"kind": "billing"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    body = text(response).strip()
    assert body.startswith('<div id="address-list"') and "<html" not in body
    # The badge moves: the first card keeps only shipping, the second now has billing.
    first_card, second_card = body.split("</li>")[:2]
    assert "Siti Rahma" in first_card and "Default shipping" in first_card
    assert "Default billing" not in first_card
    assert "Alex Doe" in second_card and "Default billing" in second_card


@pytest.mark.parametrize("kind", ["", "both", "is_default_shipping", "x" * 300])
def test_unknown_default_kind_is_a_bad_request(app, signed_in, shopper, kind):
    address_id = add_address(app, shopper, JAKARTA)
    other_id = add_address(app, shopper, SAN_FRANCISCO)
    response = signed_in.post(f"{BASE}/{other_id}/default", data={"kind": kind})
    assert response.status_code == 400
    assert defaults(app, shopper) == {"shipping": [address_id], "billing": [address_id]}


@pytest.mark.backends(*BACKENDS)  # a database rule or column limit
def test_the_database_refuses_two_defaults_of_a_kind(app, shopper):
    add_address(app, shopper, JAKARTA)
    with app.app_context():
        db.session.add(
            Address(
                user_id=shopper.id,
                full_name="Sneaky",
                line1="x",
                city="y",
                country="DE",
                is_default_shipping=True,
            )
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


# Other people's addresses


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "{id}/edit"),
        ("post", "{id}/edit"),
        ("post", "{id}/delete"),
        ("post", "{id}/default"),
    ],
)
def test_another_users_address_is_not_found(app, signed_in, shopper, other, method, path):
    add_address(app, shopper, JAKARTA)
    theirs = add_address(app, other, SAN_FRANCISCO)
    before = rows(app, other)
    url = f"{BASE}/" + path.format(id=theirs)
    response = getattr(signed_in, method)(url, data={**JAKARTA, "kind": "shipping"})
    assert response.status_code == 404
    assert rows(app, other) == before
    assert "Alex Doe" not in text(response)


@pytest.mark.parametrize("address_id", ["0", "99999", "2147483648", "99999999999999999999"])
@pytest.mark.backends(*BACKENDS)  # a database rule or column limit
def test_ids_that_cannot_exist_are_not_found(signed_in, address_id):
    assert signed_in.get(f"{BASE}/{address_id}/edit").status_code == 404
    assert signed_in.post(f"{BASE}/{address_id}/delete").status_code == 404


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_owner_and_id_in_the_form_are_ignored(app, signed_in, shopper, other):
    mine = add_address(app, shopper, JAKARTA)
    theirs = add_address(app, other, SAN_FRANCISCO)
    before = rows(app, other)
    response = signed_in.post(
        f"{BASE}/{mine}/edit",
        data={**LONDON, "id": str(theirs), "user_id": str(other.id)},
    )
    assert response.status_code == 303
    assert rows(app, other) == before
    [saved] = rows(app, shopper)
    assert saved["id"] == mine and saved["user_id"] == shopper.id and saved["country"] == "GB"
    response = signed_in.post(f"{BASE}/new", data={**LONDON, "user_id": str(other.id)})
    assert response.status_code == 303
    assert len(rows(app, shopper)) == 2 and rows(app, other) == before


# The region field


@pytest.mark.parametrize(
    ("country", "expected", "absent"),
    [
        (
            "CA",
            ['<select id="region"', ">Ontario</option>", "Province or territory", ">Postal code<"],
            ['<input id="region"'],
        ),
        ("US", [">California</option>", ">ZIP code<"], ['type="text"']),
        ("IT", [">Milano</option>", ">Roma</option>"], [">Lombardia</option>"]),
        ("CN", [">Beijing Shi</option>"], [">Xianggang (en)</option>", "Taiwan"]),
        (
            "GB",
            ['<input id="region" name="region" type="text"', "(optional)", ">Postcode<"],
            ["<select"],
        ),
        ("HK", ['type="text"', "Hong Kong has no postal codes"], ["<select"]),
        ("XX", ['type="text"', "(optional)"], ["<select"]),
        ("", ['type="text"'], ["<select"]),
    ],
)
def test_regions_fragment_follows_the_country(signed_in, country, expected, absent):
    response = signed_in.get(f"{BASE}/regions?country={country}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = text(response)
    assert body.lstrip().startswith('<div id="region-field"') and "<html" not in body
    assert 'hx-swap-oob="true"' in body
    for snippet in expected:
        assert snippet in body
    for snippet in absent:
        assert snippet not in body


# Forms carry their CSRF token


@pytest.mark.backends(*BACKENDS)  # this route's test on PostgreSQL (row-level security)
def test_forms_post_their_csrf_token(app, signed_in, shopper):
    app.config["WTF_CSRF_ENABLED"] = True
    address_id = add_address(app, shopper)
    add_address(app, shopper, SAN_FRANCISCO)
    refused = signed_in.post(f"{BASE}/{address_id}/delete")
    assert refused.status_code == 400 and len(rows(app, shopper)) == 2
    page = text(signed_in.get(f"{BASE}/"))
    cards = page[page.index('<div id="address-list"') :]
    assert cards.count('<form method="post"') == cards.count('name="csrf_token"') == 4
    form = text(signed_in.get(f"{BASE}/new"))
    assert 'name="csrf_token" value="' in form[form.index('action="/account/addresses/new"') :]
    token = re.search(r'name="csrf_token" value="([^"]+)"', cards).group(1)
    response = signed_in.post(f"{BASE}/{address_id}/delete", data={"csrf_token": token})
    assert response.status_code == 303 and len(rows(app, shopper)) == 1
