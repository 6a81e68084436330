"""The checkout in progress: its steps, what each step keeps, the quote and placing the order.

A shopper's checkout for a store lives in their session under the store's id (the session
cookie is shared by every store host), so two stores' checkouts never mix. Only choices are
kept there: email, address, shipping method, coupon code and the idempotency key. Prices, lines
and totals are always worked out again from the cart and the catalog.
"""

import secrets
from dataclasses import asdict, dataclass, field

from flask_babel import gettext, lazy_gettext
from sqlalchemy import Integer, bindparam, delete

from app.accounts.service import AccountError, normalise_email
from app.addresses import rules as address_rules
from app.addresses.service import get_address
from app.cart.models import Cart, CartItem
from app.cart.service import CartView
from app.checkout.models import CheckoutSettings
from app.extensions import db
from app.i18n import N_, current_language
from app.inventory import holds
from app.orders.pricing import Coupon as CouponTerms
from app.orders.pricing import Line, Totals, compute_totals
from app.orders.service import Checkout, CheckoutError, place_order, valid_coupon
from app.payments.test_mode import CANT_TAKE_PAYMENTS, is_test_provider, payment_problem
from tenants.models import Store

SESSION_KEY = "checkout"
STEPS = ("contact", "address", "shipping", "review")
STEP_LABELS = {
    "contact": lazy_gettext("Contact"),
    "address": lazy_gettext("Address"),
    "shipping": lazy_gettext("Shipping"),
    "review": lazy_gettext("Review and pay"),
}
MAX_COUPON_INPUT = 40


class StepError(ValueError):
    """A step's input was refused; `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class State:
    """What the shopper has chosen so far in one store's checkout."""

    email: str | None = None
    address: dict | None = None  # cleaned address fields, as an order stores them
    address_id: int | None = None  # the address book entry it came from, if any
    shipping_method: str | None = None
    coupon: str | None = None
    key: str | None = None  # the idempotency key of the review form on screen

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ShippingMethod:
    code: str
    label: str
    price: int
    note: str = ""


@dataclass
class Quote:
    """The order as it would be placed now: lines at current prices and the totals."""

    totals: Totals
    coupon_error: str | None = None
    method: ShippingMethod | None = None
    notes: list[str] = field(default_factory=list)


def _all_states(session) -> dict:
    states = session.get(SESSION_KEY)
    return dict(states) if isinstance(states, dict) else {}


def load(session, store: Store) -> State:
    """The store's checkout state from the session (fresh if there is none or it is junk)."""
    raw = _all_states(session).get(str(store.id))
    if not isinstance(raw, dict):
        return State()
    known = {name: raw.get(name) for name in State.__dataclass_fields__}
    try:
        return State(**known)
    except TypeError:
        return State()


def save(session, store: Store, state: State) -> None:
    """Keep the store's checkout state in the session."""
    all_states = _all_states(session)
    all_states[str(store.id)] = state.as_dict()
    session[SESSION_KEY] = all_states


def forget(session, store: Store) -> None:
    """Drop the store's checkout state (after the order is placed)."""
    all_states = _all_states(session)
    all_states.pop(str(store.id), None)
    session[SESSION_KEY] = all_states


def first_incomplete(state: State) -> str:
    """The first step the shopper still has to do."""
    if not state.email:
        return "contact"
    if not state.address:
        return "address"
    if not state.shipping_method:
        return "shipping"
    return "review"


def reachable(state: State, step: str) -> bool:
    """Whether `step` may be shown: every step before it is done."""
    return STEPS.index(step) <= STEPS.index(first_incomplete(state))


def set_email(state: State, raw: str | None, user=None) -> State:
    """The contact step: a valid email address for the receipt and order updates.

    A signed-in shopper's orders go to their account's address, whatever the form says.
    """
    if user is not None:
        state.email = user.email
        return state
    raw = (raw or "").strip()
    if not raw:
        raise StepError({"email": gettext("Enter your email address.")})
    try:
        state.email = normalise_email(raw[:320])
    except AccountError as error:
        raise StepError({"email": error.message}) from None
    return state


def set_new_address(state: State, values: dict) -> State:
    """The address step with a typed address (validated by the address book's rules)."""
    clean, errors = address_rules.validate_address(values)
    if errors:
        raise StepError(errors)
    state.address = clean
    state.address_id = None
    return state


def set_saved_address(state: State, user, address_id) -> State:
    """The address step with one of the signed-in user's saved addresses."""
    address = get_address(user, address_id) if user is not None else None
    if address is None:
        raise StepError({"address_id": gettext("Choose one of your saved addresses.")})
    state.address = {name: getattr(address, name) for name in address_rules.FIELDS}
    state.address_id = address.id
    return state


def shipping_methods(settings: CheckoutSettings, discounted_subtotal: int) -> list[ShippingMethod]:
    """The store's shipping choices and their price for this cart."""
    rate = settings.shipping_rate
    price = rate.flat
    note = ""
    if rate.free_over is not None:
        if discounted_subtotal >= rate.free_over:
            price = 0
            note = "free_over_reached"
        else:
            note = "free_over"
    return [ShippingMethod("standard", N_("Standard shipping"), price, note)]


def shipping_label(settings: CheckoutSettings, code: str | None) -> str:
    """The name of a shipping method, as the order records it."""
    return next((m.label for m in shipping_methods(settings, 0) if m.code == code), "Shipping")


def set_shipping(state: State, settings: CheckoutSettings, code: str | None) -> State:
    """The shipping step: one of the store's methods."""
    if code not in {m.code for m in shipping_methods(settings, 0)}:
        raise StepError({"shipping_method": gettext("Choose a shipping method.")})
    state.shipping_method = code
    return state


def coupon_terms(store: Store, code: str | None, email: str | None):
    """(terms, error): the coupon's terms if it can be used now by this email, else why not."""
    if not code:
        return None, None
    try:
        coupon = valid_coupon(store, code, email or "")
    except CheckoutError as error:
        return None, error.message
    return CouponTerms(coupon.kind, coupon.value, coupon.min_subtotal), None


def set_coupon(store: Store, state: State, raw: str | None, view: CartView, settings) -> Quote:
    """Apply a coupon code; StepError (nothing kept) if it can't be used on this cart."""
    code = (raw or "").strip().upper()[:MAX_COUPON_INPUT]
    if not code:
        raise StepError({"coupon": gettext("Enter a coupon code.")})
    terms, error = coupon_terms(store, code, state.email)
    if error:
        raise StepError({"coupon": error})
    quote_now = _quote(view, terms, settings)
    if quote_now.totals.discount == 0:
        reason = gettext(quote_now.totals.notes[0]) if quote_now.totals.notes else None
        raise StepError({"coupon": reason or gettext("That coupon doesn't apply to your cart.")})
    state.coupon = code
    return quote_now


def quote(store: Store, state: State, view: CartView, settings: CheckoutSettings) -> Quote:
    """The totals for the cart as it is now, with the state's coupon if it still applies."""
    terms, error = coupon_terms(store, state.coupon, state.email)
    result = _quote(view, terms, settings)
    if state.coupon and (error or result.totals.discount == 0):
        result.coupon_error = error or gettext("That coupon no longer applies to your cart.")
    return result


def _quote(view: CartView, terms, settings: CheckoutSettings) -> Quote:
    lines = [Line(line.unit_price, line.item.quantity) for line in view.lines if line.available]
    totals = compute_totals(
        lines, coupon=terms, shipping=settings.shipping_rate, tax=settings.tax_rule
    )
    methods = shipping_methods(settings, totals.subtotal - totals.discount)
    return Quote(totals=totals, method=methods[0], notes=list(totals.notes))


def review_key(state: State) -> str:
    """The idempotency key for the review form on screen (kept until the order is placed)."""
    if not state.key:
        state.key = secrets.token_urlsafe(24)
    return state.key


_ITEMS = CartItem.__table__
# Built once, on the table (see app.orders.service): the cart's lines are read no more after it.
_EMPTY_LINES = delete(_ITEMS).where(
    _ITEMS.c.cart_id == bindparam("cart_id", type_=Integer),
    _ITEMS.c.store_id == bindparam("store_id", type_=Integer),
    _ITEMS.c.variant_id.in_(bindparam("variant_ids", expanding=True)),
)


def place(store: Store, state: State, cart: Cart, view: CartView, settings, *, key, user):
    """Place the order from the cart (CheckoutError when it can't be), then empty the cart.

    `key` comes from the submitted form: a second submit of the same form returns the order
    the first one placed.
    """
    if first_incomplete(state) != "review":
        raise CheckoutError(
            "cart", gettext("Your checkout details are incomplete. Please check each step.")
        )
    if not key or key != state.key:
        # Only the review form this session rendered may place the order.
        raise CheckoutError(
            "cart", gettext("This checkout form is invalid. Reload the page and try again.")
        )
    if not view.lines:
        raise CheckoutError("cart", gettext("Your cart is empty."))
    if not view.can_check_out:
        raise CheckoutError("cart", gettext("Some items in your cart aren't available any more."))
    if payment_problem(store, settings):
        # In production a store on the test gateway takes no orders unless the platform allows.
        raise CheckoutError("cart", CANT_TAKE_PAYMENTS)
    ordered_ids = [line.variant.id for line in view.lines]
    # The cart's hold becomes this sale: in the order's transaction, so a refused order
    # (rolled back) keeps its hold.
    holds.convert_for_order(store, cart, ordered_ids)

    def empty_cart():
        # The ordered lines leave the cart in the order's transaction (a line added meanwhile
        # in another tab stays).
        db.session.execute(
            _EMPTY_LINES, {"cart_id": cart.id, "store_id": store.id, "variant_ids": ordered_ids}
        )

    return place_order(
        store,
        Checkout(
            email=state.email,
            lines=[(line.variant.id, line.item.quantity) for line in view.lines],
            idempotency_key=key or "",
            shipping_address=state.address,
            shipping=settings.shipping_rate,
            shipping_method=shipping_label(settings, state.shipping_method),
            tax=settings.tax_rule,
            coupon_code=state.coupon,
            user_id=getattr(user, "id", None),
            payment_provider=settings.payment_provider,
            is_test=is_test_provider(settings.payment_provider),
            locale=current_language(),
        ),
        then=empty_cart,
        keep_loaded=True,
        # The cart's variants and products were read in this transaction a moment ago.
        catalog={line.variant.id: (line.variant, line.product) for line in view.lines},
    )
