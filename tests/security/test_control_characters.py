"""Control characters in an address or a form are a clear 400, never a 500 from the database.

PostgreSQL can't hold NUL in text, so `/admin/orders/?q=%00` used to fail with a 500 deep in
a query. Every request is checked once, before any view runs.
"""

import io

import pytest
from sqlalchemy import func, select

from app.catalog.models import Product
from app.extensions import db
from tests.accounts_helpers import text
from tests.conftest import sign_in_as
from tests.factories import add_member, make_product, make_user, png_bytes

ADDRESS_MESSAGE = "That address has characters we can't read"
FORM_MESSAGE = "The form has characters we can't read"

CONTROL = ["%00", "%1B"]


@pytest.fixture
def store(store_a):
    make_product(store_a, "Lamp")
    return store_a


@pytest.fixture
def shopper(client_for, store):
    return client_for(store)


@pytest.fixture
def owner(client_for, store):
    client = client_for(store)
    user = make_user("manager@alpha.example.com")
    add_member(store, user, "owner")
    sign_in_as(client, user)
    return client


@pytest.fixture
def member(client_for, store):
    client = client_for(store)
    sign_in_as(client, make_user("siti@example.com"))
    return client


@pytest.fixture
def root(client):
    sign_in_as(client, make_user("root@example.com", superuser=True))
    return client


GET_PAGES = [
    ("shopper", "/products/?q={c}"),
    ("shopper", "/products/?sort={c}&page=1"),
    ("shopper", "/search?q=lamp{c}"),
    ("shopper", "/search/suggest?q={c}"),
    ("shopper", "/categories/{c}/"),
    ("shopper", "/products/lamp{c}"),
    ("shopper", "/products/?q{c}=lamp"),
    ("shopper", "/account/signin?next=/{c}"),
    ("owner", "/admin/orders/?q={c}"),
    ("owner", "/admin/orders/?status={c}&payment={c}"),
    ("owner", "/admin/orders/?from=2026-01-01{c}"),
    ("owner", "/admin/products/?q=lamp{c}"),
    ("owner", "/admin/products/?status={c}&sort={c}"),
    ("owner", "/admin/audit?kind={c}&user={c}"),
    ("root", "/search?q={c}"),
    ("root", "/console/stores/?q={c}&status={c}"),
    ("root", "/console/users/?q={c}"),
    ("root", "/console/emails/?q={c}"),
    ("root", "/console/audit?store={c}&user={c}&action={c}"),
]


@pytest.mark.parametrize("char", CONTROL)
@pytest.mark.parametrize(("who", "path"), GET_PAGES)
def test_get_pages_answer_400_for_control_characters(app, request, who, path, char):
    client = request.getfixturevalue(who)
    response = client.get(path.format(c=char))
    assert response.status_code == 400, response.status_code
    assert ADDRESS_MESSAGE in text(response)


@pytest.mark.parametrize(("who", "path"), GET_PAGES[:3] + GET_PAGES[8:10] + GET_PAGES[15:17])
def test_the_same_pages_work_with_ordinary_text_and_tabs(app, request, who, path):
    client = request.getfixturevalue(who)
    assert client.get(path.format(c="%09caf%C3%A9")).status_code in (200, 301, 302)


def test_htmx_gets_the_message_as_a_fragment(owner):
    response = owner.get("/admin/orders/?q=%00", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#messages"
    assert ADDRESS_MESSAGE in text(response) and "<html" not in text(response)


POST_FORMS = [
    ("shopper", "/account/signin", {"email": "sam\x00@example.com", "password": "x"}),
    ("shopper", "/account/register", {"name": "Sam\x00", "email": "s@e.com", "password": "p"}),
    ("shopper", "/account/reset", {"email": "sam@example.com\x07"}),
    ("shopper", "/checkout/contact", {"email": "sam@example.com\x00"}),
    ("member", "/account/addresses/new", {"full_name": "Siti\x00Rahma", "city": "Jakarta"}),
    ("owner", "/admin/products/new", {"title": "Lamp\x00", "price": "10"}),
    ("owner", "/admin/categories/new", {"name": "\x1bLamps"}),
    ("owner", "/admin/orders/1/ship", {"carrier": "JNE", "tracking_number": "\x00"}),
    ("root", "/console/stores/1/suspend", {"reason": "spam\x00"}),
    ("root", "/console/users/1/disable", {"reason\x00": "x"}),
]


@pytest.mark.parametrize(("who", "path", "data"), POST_FORMS)
def test_forms_answer_400_for_control_characters(app, request, who, path, data):
    client = request.getfixturevalue(who)
    response = client.post(path, data=data)
    assert response.status_code == 400, response.status_code
    assert FORM_MESSAGE in text(response)


def test_an_upload_named_with_a_nul_is_refused(app, owner):
    before = count_products(app)
    response = owner.post(
        "/admin/products/new",
        data={"title": "Lamp", "image": (io.BytesIO(png_bytes()), "lamp\x00.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and FORM_MESSAGE in text(response)
    assert count_products(app) == before


def test_line_breaks_and_tabs_in_a_text_area_are_kept(app, owner):
    response = owner.post(
        "/admin/products/new",
        data={"title": "Desk lamp", "description": "Line one\r\n\tLine two", "price": "10"},
    )
    assert response.status_code in (200, 303, 422)
    assert FORM_MESSAGE not in text(response)


def count_products(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Product))
