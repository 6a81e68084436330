"""Checkout flow rules without a database: the session state, step order, each step's checks."""

from types import SimpleNamespace

import pytest

from app.checkout import flow
from app.checkout.models import CheckoutSettings
from app.orders.service import CheckoutError

STORE_A, STORE_B = SimpleNamespace(id=1), SimpleNamespace(id=2)
ADDRESS = {
    "country": "US",
    "full_name": "Gina Guest",
    "line1": "1 Market St",
    "city": "San Francisco",
    "region": "US-CA",
    "postal_code": "94105",
}


def store_settings(flat=700, free_over=None, tax=0, inclusive=False) -> CheckoutSettings:
    return CheckoutSettings(
        store_id=1,
        shipping_flat=flat,
        shipping_free_over=free_over,
        tax_basis_points=tax,
        tax_inclusive=inclusive,
        payment_provider="test",
    )


def cart(*lines):
    """A stand-in for the cart view: (unit price, quantity, available) per line."""
    return SimpleNamespace(
        lines=[
            SimpleNamespace(unit_price=price, item=SimpleNamespace(quantity=qty), available=ok)
            for price, qty, ok in lines
        ]
    )


def complete_state(**changes) -> flow.State:
    state = flow.State(
        email="gina@example.com", address=dict(ADDRESS), shipping_method="standard", key="k" * 32
    )
    for name, value in changes.items():
        setattr(state, name, value)
    return state


# The session


def test_each_store_keeps_its_own_checkout_in_the_shared_session():
    session = {}
    flow.save(session, STORE_A, flow.State(email="a@example.com"))
    flow.save(session, STORE_B, flow.State(email="b@example.com", coupon="BRAVO"))
    assert flow.load(session, STORE_A).email == "a@example.com"
    assert flow.load(session, STORE_A).coupon is None
    assert flow.load(session, STORE_B).coupon == "BRAVO"
    flow.forget(session, STORE_A)
    assert flow.load(session, STORE_A) == flow.State()
    assert flow.load(session, STORE_B).email == "b@example.com"


@pytest.mark.parametrize(
    "junk",
    [None, "text", {"1": "text"}, {"1": ["list"]}, {"1": {"unknown": 1}}, {"1": {"email": None}}],
)
def test_a_missing_or_junk_session_entry_starts_afresh(junk):
    session = {} if junk is None else {flow.SESSION_KEY: junk}
    assert flow.load(session, STORE_A) == flow.State()


def test_only_choices_are_kept_never_prices():
    state = complete_state(coupon="SAVE10")
    assert set(state.as_dict()) == {
        "email",
        "address",
        "address_id",
        "shipping_method",
        "coupon",
        "key",
    }


# Step order


@pytest.mark.parametrize(
    ("changes", "first"),
    [
        ({"email": None}, "contact"),
        ({"email": None, "address": None}, "contact"),
        ({"address": None}, "address"),
        ({"address": None, "shipping_method": None}, "address"),
        ({"shipping_method": None}, "shipping"),
        ({}, "review"),
    ],
)
def test_the_first_incomplete_step(changes, first):
    state = complete_state(**changes)
    assert flow.first_incomplete(state) == first
    for step in flow.STEPS:
        assert flow.reachable(state, step) == (flow.STEPS.index(step) <= flow.STEPS.index(first))


# Contact


@pytest.mark.parametrize("raw", ["", "   ", None, "not-an-email", "a@b", "x" * 400 + "@x.com"])
def test_a_bad_email_is_refused_and_nothing_kept(raw):
    state = flow.State()
    with pytest.raises(flow.StepError) as refused:
        flow.set_email(state, raw)
    assert set(refused.value.errors) == {"email"}
    assert state.email is None


def test_an_email_is_normalised():
    assert flow.set_email(flow.State(), "  Gina@Example.COM ").email == "gina@example.com"


def test_a_signed_in_shoppers_email_is_their_accounts_whatever_is_typed():
    user = SimpleNamespace(email="me@example.com")
    assert flow.set_email(flow.State(), "else@example.com", user).email == "me@example.com"
    assert flow.set_email(flow.State(), "", user).email == "me@example.com"


# Address


def test_a_typed_address_is_cleaned_and_replaces_a_saved_choice():
    state = flow.State(address_id=7)
    flow.set_new_address(state, {**ADDRESS, "full_name": "  Gina   Guest "})
    assert state.address["full_name"] == "Gina Guest" and state.address_id is None


def test_an_incomplete_address_names_every_missing_field():
    state = flow.State()
    with pytest.raises(flow.StepError) as refused:
        flow.set_new_address(state, {"country": "US"})
    assert {"full_name", "line1", "city", "region", "postal_code"} <= set(refused.value.errors)
    assert state.address is None


def test_a_saved_address_needs_a_signed_in_user():
    with pytest.raises(flow.StepError) as refused:
        flow.set_saved_address(flow.State(), None, 1)
    assert "address_id" in refused.value.errors


# Shipping


@pytest.mark.parametrize(
    ("flat", "free_over", "subtotal", "price", "note"),
    [
        (700, None, 100, 700, ""),
        (700, 5000, 4999, 700, "free_over"),
        (700, 5000, 5000, 0, "free_over_reached"),
        (0, None, 100, 0, ""),
    ],
)
def test_shipping_is_priced_for_this_cart(flat, free_over, subtotal, price, note):
    (method,) = flow.shipping_methods(store_settings(flat, free_over), subtotal)
    assert (method.code, method.price, method.note) == ("standard", price, note)


@pytest.mark.parametrize("code", [None, "", "teleport", "STANDARD"])
def test_an_unknown_shipping_method_is_refused(code):
    state = flow.State()
    with pytest.raises(flow.StepError):
        flow.set_shipping(state, store_settings(), code)
    assert state.shipping_method is None


def test_a_known_method_is_kept_with_its_label():
    assert flow.set_shipping(flow.State(), store_settings(), "standard").shipping_method
    assert flow.shipping_label(store_settings(), "standard") == "Standard shipping"


# Quote and key


def test_the_quote_takes_available_lines_at_current_prices():
    quote = flow.quote(
        STORE_A,
        complete_state(),
        cart((1200, 2, True), (999, 1, False)),
        store_settings(flat=700, tax=1000),
    )
    # 24.00 + 7.00 shipping, 10 % tax on top: 3.10.
    totals = quote.totals
    assert (totals.subtotal, totals.shipping, totals.tax, totals.total) == (2400, 700, 310, 3410)
    assert quote.method.price == 700 and quote.coupon_error is None


def test_free_shipping_is_judged_on_the_cart():
    quote = flow.quote(STORE_A, complete_state(), cart((3000, 2, True)), store_settings(700, 5000))
    assert quote.totals.shipping == 0 and quote.method.note == "free_over_reached"


def test_the_review_key_is_random_and_stays_until_the_order_is_placed():
    first, second = flow.State(), flow.State()
    key = flow.review_key(first)
    assert len(key) >= 32 and flow.review_key(first) == key
    assert flow.review_key(second) != key


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"address": None}, "k" * 32, "incomplete"),
        ({}, "", "invalid"),
        ({}, "x" * 32, "invalid"),
        ({"key": None}, "k" * 32, "invalid"),
    ],
)
def test_placing_needs_every_step_and_this_sessions_key(changes, key, message):
    with pytest.raises(CheckoutError, match=message):
        flow.place(
            STORE_A,
            complete_state(**changes),
            cart=None,
            view=cart((1200, 1, True)),
            settings=store_settings(),
            key=key,
            user=None,
        )
