"""A shipping address reads the same, region and all, wherever Pasar shows it (issue 16 bug 1).

Before, the review step, the shopper's order page and the confirmation email dropped the region
("Springfield 62701 United States") and the vendor's order page showed the raw code in the
wrong order ("62701 Springfield, US-IL").
"""

import re

import pytest

from tests.accounts_helpers import last_email
from tests.conftest import sign_in_as
from tests.web.order_helpers import owner_of
from tests.web.test_checkout import add, to_review, variant_of

pytestmark = pytest.mark.backends("sqlite")  # addresses as pages and emails show them

SPRINGFIELD = {
    "country": "US",
    "full_name": "Jane Doe",
    "line1": "100 Capitol Ave",
    "city": "Springfield",
    "region": "US-IL",
    "postal_code": "62701",
}
BANDUNG = {
    "country": "ID",
    "full_name": "Dewi Lestari",
    "line1": "Jl. Asia Afrika No. 8",
    "line2": "Lantai 3",
    "city": "Bandung",
    "region": "ID-JB",
    "postal_code": "40111",
}
TORONTO = {
    "country": "CA",
    "full_name": "Lee Chan",
    "company": "Maple & Co",
    "line1": "290 Bremner Blvd",
    "city": "Toronto",
    "region": "CA-ON",
    "postal_code": "m5v3l9",
}


CASES = {
    "us": (
        SPRINGFIELD,
        ["Jane Doe", "100 Capitol Ave", "Springfield, Illinois 62701", "United States"],
    ),
    "id": (
        BANDUNG,
        [
            "Dewi Lestari",
            "Jl. Asia Afrika No. 8",
            "Lantai 3",
            "Bandung, Jawa Barat 40111",
            "Indonesia",
        ],
    ),
    "ca": (
        TORONTO,
        ["Lee Chan", "Maple &amp; Co", "290 Bremner Blvd", "Toronto, Ontario M5V 3L9", "Canada"],
    ),
}
# The lines as HTML shows them (escaped); a US address with a region and two other countries.
each_address = pytest.mark.parametrize(("address", "lines"), CASES.values(), ids=CASES.keys())


def _review(client_for, store, address):
    """A guest's client on the review step with `address`, and the step's idempotency key."""
    client = client_for(store)
    add(client, variant_of(store, price=1500))
    return client, to_review(client, email="buyer@example.com", address=address)


def _place_and_pay(client_for, store, address):
    """Check out as a guest with `address` and approve on the test gateway: (client, number, page)."""
    client, key = _review(client_for, store, address)
    pay_url = client.post("/checkout/place", data={"idempotency_key": key}).location
    number, order_key = re.search(r"/pay/test/(\d+)\?key=([^&\"]+)", pay_url).groups()
    approved = client.post(f"/pay/test/{number}/approve?key={order_key}")
    assert approved.status_code == 303
    return client, number, client.get(approved.location).text


@each_address
def test_the_review_step_shows_the_region(client_for, store_a, address, lines):
    client, _ = _review(client_for, store_a, address)
    assert f"<dd>{', '.join(lines)}</dd>" in client.get("/checkout/review").text


@each_address
def test_the_order_page_shows_the_region(client_for, store_a, address, lines):
    _, _, page = _place_and_pay(client_for, store_a, address)
    assert "<p>" + "<br>".join(lines) + "</p>" in page


@each_address
def test_the_confirmation_email_shows_the_region(app, client_for, store_a, address, lines):
    _place_and_pay(client_for, store_a, address)
    mail = last_email(app, "buyer@example.com")
    assert mail.template == "order_confirmation"
    plain = [line.replace("&amp;", "&") for line in lines]
    assert "Shipping to:\n" + "\n".join(plain) + "\n" in mail.text_body
    assert "<br>".join(lines) + "<br>" in mail.html_body


@each_address
def test_the_vendor_sees_region_names_in_the_countrys_order(
    app, client_for, store_a, address, lines
):
    _, number, _ = _place_and_pay(client_for, store_a, address)
    vendor = client_for(store_a)
    sign_in_as(vendor, owner_of(app, store_a))
    block = "".join(f"<span>{line}</span>" for line in lines)
    for path in ("", "/packing-slip", "/invoice"):
        body = vendor.get(f"/admin/orders/{number}{path}").text
        assert block in body
        assert address["region"] not in body  # a name, never the raw ISO code


def test_the_shipping_step_and_saved_addresses_show_the_region(app, client_for, store_a):
    from tests.factories import make_user

    shopper = make_user("saver@example.com")
    client = client_for(store_a)
    sign_in_as(client, shopper)
    add(client, variant_of(store_a))
    assert client.post("/checkout/contact", data={"email": "saver@example.com"}).status_code == 303
    saved = client.post("/checkout/address", data={**SPRINGFIELD, "save_address": "1"})
    assert saved.status_code == 303
    shipping = client.get("/checkout/shipping").text
    assert (
        "<strong>Jane Doe</strong>, 100 Capitol Ave, Springfield, Illinois 62701, United States"
        in shipping
    )
    choices = client.get("/checkout/address").text
    assert "100 Capitol Ave, Springfield, Illinois 62701, United States</span>" in choices


def _address_fields(html: str) -> str:
    """The shared address fields of a page: from the country field to the phone field."""
    start = html.index('<label for="country">')
    return html[start : html.index("</div>", html.index('id="phone"')) + len("</div>")]


def test_the_checkout_and_the_address_book_share_one_set_of_address_fields(client_for, store_a):
    """The two forms had drifted apart: the checkout's lacked the error links and hints."""
    from tests.factories import make_user

    client = client_for(store_a)
    sign_in_as(client, make_user("fields@example.com"))
    add(client, variant_of(store_a))
    client.post("/checkout/contact", data={"email": "fields@example.com"})
    wrong = {**SPRINGFIELD, "postal_code": "ABC", "country": "US"}
    checkout = client.post("/checkout/address", data=wrong)
    book = client.post("/account/addresses/new", data=wrong)
    assert checkout.status_code == book.status_code == 422
    fields = _address_fields(checkout.text)
    assert 'aria-describedby="postal-code-error postal-code-help"' in fields
    assert '<p class="field__error" id="postal-code-error">' in fields
    assert 'class="field address-form__phone"' in fields
    assert 'hx-get="/checkout/regions"' in fields
    book_fields = _address_fields(book.text)
    assert book_fields.replace("/account/addresses/regions", "/checkout/regions") == fields
