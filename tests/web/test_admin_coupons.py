"""The dashboard's coupons: create, edit, deactivate, validation and tenancy."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.orders.models import Coupon
from app.orders.service import Checkout, CheckoutError, place_order
from tenants.models import Store
from tests.conftest import sign_in_as
from tests.factories import add_member, make_store, make_user
from tests.web.order_helpers import ADDRESS, make_variant, owner_of

GOOD = {
    "code": "summer-10",
    "kind": "percent",
    "value": "10",
    "min_subtotal": "",
    "starts_on": "",
    "ends_on": "",
    "usage_limit": "",
    "per_customer_limit": "",
    "active": "y",
}


@pytest.fixture
def owner_client(app, client_for, store_a):
    client = client_for(store_a)
    sign_in_as(client, owner_of(app, store_a))
    return client


def coupons(app) -> list[Coupon]:
    with app.app_context():
        rows = list(db.session.scalars(select(Coupon).order_by(Coupon.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_create_list_edit_and_deactivate(app, owner_client, store_a):
    form = owner_client.get("/admin/coupons/new")
    assert form.status_code == 200 and 'name="code"' in form.text
    response = owner_client.post(
        "/admin/coupons/new",
        data={
            **GOOD,
            "kind": "fixed",
            "value": "5.50",
            "min_subtotal": "20",
            "starts_on": "2026-01-01",
            "ends_on": "2026-01-31",
            "usage_limit": "100",
            "per_customer_limit": "1",
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == "/admin/coupons/"
    (coupon,) = coupons(app)
    assert (coupon.code, coupon.kind, coupon.value, coupon.min_subtotal) == (
        "SUMMER-10",
        "fixed",
        550,
        2000,
    )
    assert coupon.starts_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert coupon.ends_at == datetime(2026, 2, 1, tzinfo=UTC)  # the last day is included
    assert (coupon.usage_limit, coupon.per_customer_limit, coupon.active) == (100, 1, True)
    listing = owner_client.get("/admin/coupons/").get_data(as_text=True)
    assert "SUMMER-10" in listing and "$5.50 off" in listing and "0 of 100" in listing
    assert "until 31 Jan 2026" in listing
    edit = owner_client.get(f"/admin/coupons/{coupon.id}/edit").get_data(as_text=True)
    assert 'value="5.50"' in edit and 'value="2026-01-31"' in edit
    saved = owner_client.post(
        f"/admin/coupons/{coupon.id}/edit", data={**GOOD, "code": "Summer-10", "value": "15"}
    )
    assert saved.status_code == 303
    (coupon,) = coupons(app)
    assert (coupon.kind, coupon.value, coupon.ends_at, coupon.usage_limit) == (
        "percent",
        15,
        None,
        None,
    )
    assert owner_client.post(f"/admin/coupons/{coupon.id}/deactivate").status_code == 303
    assert coupons(app)[0].active is False
    assert "Off" in owner_client.get("/admin/coupons/").get_data(as_text=True)


@pytest.mark.backends("sqlite")  # form messages
@pytest.mark.parametrize(
    "changes, message",
    [
        ({"code": "SUM MER"}, "3 to 40 letters"),
        ({"code": "<script>alert(1)</script>"}, "3 to 40 letters"),
        ({"code": "AB"}, "3 to 40 letters"),
        ({"code": "A" * 41}, "3 to 40 letters"),
        ({"value": "0"}, "from 1 to 100"),
        ({"value": "150"}, "from 1 to 100"),
        ({"value": "abc"}, "from 1 to 100"),
        ({"kind": "fixed", "value": "-5"}, "can&#39;t be negative"),
        ({"kind": "fixed", "value": "0"}, "more than zero"),
        ({"kind": "fixed", "value": "ten"}, "must be a number"),
        ({"kind": "bogus"}, "percentage or a fixed amount"),
        ({"min_subtotal": "abc"}, "minimum subtotal must be a number"),
        ({"starts_on": "2026-02-10", "ends_on": "2026-02-01"}, "on or after the first day"),
        ({"starts_on": "tomorrow"}, "must be a date"),
        ({"usage_limit": "0"}, "from 1 to 1,000,000"),
        ({"per_customer_limit": "-1"}, "from 1 to 1,000,000"),
    ],
)
def test_bad_coupons_are_refused_and_nothing_is_written(
    app, owner_client, store_a, changes, message
):
    response = owner_client.post("/admin/coupons/new", data={**GOOD, **changes})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body
    assert "<script>alert" not in body
    assert coupons(app) == []


def test_codes_are_unique_per_store_in_any_case(app, owner_client, store_a, client_for):
    assert owner_client.post("/admin/coupons/new", data=GOOD).status_code == 303
    again = owner_client.post("/admin/coupons/new", data={**GOOD, "code": "SUMMER-10"})
    assert again.status_code == 422 and "already a coupon" in again.get_data(as_text=True)
    store_b = make_store("bravo", "Bravo Supply")
    other = client_for(store_b)
    sign_in_as(other, owner_of(app, store_b))
    assert other.post("/admin/coupons/new", data=GOOD).status_code == 303
    assert len(coupons(app)) == 2


def test_the_usage_limit_cannot_go_below_times_used(app, owner_client, store_a):
    owner_client.post("/admin/coupons/new", data={**GOOD, "usage_limit": "5"})
    (coupon,) = coupons(app)
    variant = make_variant(store_a, "CAP", 2000)
    for n in range(2):
        with app.app_context():
            place_order(
                db.session.get(Store, store_a.id),
                Checkout(
                    email=f"c{n}@example.com",
                    lines=[(variant, 1)],
                    idempotency_key=uuid.uuid4().hex,
                    shipping_address=ADDRESS,
                    coupon_code="summer-10",
                ),
            )
    response = owner_client.post(
        f"/admin/coupons/{coupon.id}/edit", data={**GOOD, "usage_limit": "1"}
    )
    assert response.status_code == 422 and "used 2 times" in response.get_data(as_text=True)
    assert coupons(app)[0].usage_limit == 5
    assert "2 of 5" in owner_client.get("/admin/coupons/").get_data(as_text=True)


@pytest.mark.backends("sqlite")  # a flag read in Python
def test_a_deactivated_coupon_no_longer_works_at_checkout(app, owner_client, store_a):
    owner_client.post("/admin/coupons/new", data=GOOD)
    (coupon,) = coupons(app)
    owner_client.post(f"/admin/coupons/{coupon.id}/deactivate")
    variant = make_variant(store_a, "CAP", 2000)
    with app.app_context(), pytest.raises(CheckoutError, match="isn't valid"):
        place_order(
            db.session.get(Store, store_a.id),
            Checkout(
                email="c@example.com",
                lines=[(variant, 1)],
                idempotency_key=uuid.uuid4().hex,
                shipping_address=ADDRESS,
                coupon_code="SUMMER-10",
            ),
        )


@pytest.mark.parametrize(
    "method, suffix", [("GET", "/edit"), ("POST", "/edit"), ("POST", "/deactivate")]
)
def test_another_stores_coupon_is_404(app, owner_client, client_for, store_a, method, suffix):
    store_b = make_store("bravo", "Bravo Supply")
    other = client_for(store_b)
    sign_in_as(other, owner_of(app, store_b))
    other.post("/admin/coupons/new", data=GOOD)
    (theirs,) = coupons(app)
    response = owner_client.open(
        f"/admin/coupons/{theirs.id}{suffix}", method=method, data={**GOOD, "value": "50"}
    )
    assert response.status_code == 404
    (after,) = coupons(app)
    assert (after.value, after.active) == (10, True)
    for junk in ("abc", "0", "99999999999"):
        assert owner_client.get(f"/admin/coupons/{junk}/edit").status_code == 404


@pytest.mark.backends("sqlite")  # a role refusal
def test_staff_cannot_manage_coupons(app, client_for, store_a):
    staff = make_user("staff@example.com")
    add_member(store_a, staff, "staff")
    client = client_for(store_a)
    sign_in_as(client, staff)
    assert client.get("/admin/coupons/").status_code == 403
    assert client.post("/admin/coupons/new", data=GOOD).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Coupon)) == 0
    assert "/admin/coupons/" not in client.get("/admin/orders/").get_data(as_text=True)
