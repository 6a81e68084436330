"""Checkout on a store's host: contact, address, shipping, review (with coupons), place and pay."""

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user

from app.addresses import rules as address_rules
from app.addresses.forms import AddressForm
from app.addresses.service import AddressError, create_address, list_addresses
from app.cart import service as cart_service
from app.cart.views import _shopper
from app.checkout import flow
from app.checkout.store_settings import settings_for
from app.database import utcnow
from app.extensions import db, limiter
from app.inventory import holds
from app.orders import states
from app.orders.links import key_opens, order_key, order_path
from app.orders.models import Order
from app.orders.service import CheckoutError, find_order_by_key
from app.payments.providers import (
    ProviderError,
    hosted_page_origins,
    start_midtrans,
    start_stripe,
)
from app.payments.test_mode import CANT_TAKE_PAYMENTS, payment_problem
from app.rendering import is_htmx, render_partial
from app.security import allow_form_action
from tenants.context import current_store, store_blueprint
from tenants.query import MAX_ID, scoped_select
from tenants.urls import store_url

bp = store_blueprint("checkout", __name__, url_prefix="/checkout")


@bp.before_request
def _allow_payment_pages():
    """Placing an order redirects the review form to the provider's hosted payment page."""
    allow_form_action(*hosted_page_origins())


@bp.context_processor
def _address_helpers():
    """Checkout pages label and list addresses with the address book's rules."""
    return {"address_rules": address_rules}


def _cart_view() -> cart_service.CartView:
    """The shopper's cart as the checkout pages show it, read once per request (one query,
    and one for the pictures): a step's guard and its page both need it."""
    if "checkout_cart_view" not in g:
        g.checkout_cart, g.checkout_cart_view = cart_service.find_cart_view(
            current_store(), **_shopper()
        )
    return g.checkout_cart_view


def _context(step: str, state: flow.State, **extra):
    """What every step's page shows: the steps, the cart and its totals so far."""
    store = current_store()
    view = _cart_view()
    settings = settings_for(store)
    quote = flow.quote(store, state, view, settings)
    # A live refresh of the summary (a stock event) keeps saying what the coupon did, rather
    # than wiping the line the shopper just read.
    keep = state.coupon and not quote.coupon_error and "coupon_message" not in extra
    if keep and _summary_refresh():
        extra["coupon_message"] = gettext("Coupon %(code)s applied.", code=state.coupon)
        extra["coupon_category"] = "success"
    return {
        "step": step,
        "steps": flow.STEPS,
        "step_labels": flow.STEP_LABELS,
        "state": state,
        "view": view,
        "quote": quote,
        "settings": settings,
        "hold": holds.status(g.get("checkout_cart")),
        **extra,
    }


def _summary_refresh() -> bool:
    """True for the summary's own htmx refresh (its live stream's events), not a page load."""
    return is_htmx() and request.headers.get("HX-Trigger") == "checkout-summary"


def _guard(step: str):
    """The checkout state, or a redirect when the cart is empty or an earlier step is undone."""
    store = current_store()
    view = _cart_view()
    if not view.lines:
        flash(gettext("Your cart is empty: add something before checking out."), "info")
        return None, redirect(url_for("cart.show"), 303)
    state = flow.load(session, store)
    if current_user.is_authenticated and state.email != current_user.email:
        flow.set_email(state, None, current_user)
        flow.save(session, store, state)
    if not flow.reachable(state, step):
        return None, redirect(url_for(f".{flow.first_incomplete(state)}"), 303)
    return state, None


@bp.get("/")
def start():
    """Checkout's front door: the first step the shopper still has to do."""
    state, refusal = _guard("contact")
    if refusal:
        return refusal
    return redirect(url_for(f".{flow.first_incomplete(state)}"), 303)


@bp.post("/hold")
@limiter.limit("30 per minute")
def hold():
    """Start (or try again): hold the cart's units for the store's hold time, then check out."""
    store = current_store()
    cart = cart_service.find_cart(store, **_shopper())
    if cart is None or not cart.items:
        flash(gettext("Your cart is empty: add something before checking out."), "info")
        return redirect(url_for("cart.show"), 303)
    result = holds.hold_cart(store, cart)
    db.session.commit()
    if result.short:
        flash(
            gettext(
                "We couldn't hold everything in your cart: some items have fewer left than you"
                " asked for, or more than one cart may hold."
            ),
            "warning",
        )
    return redirect(url_for(".start"), 303)


@bp.post("/hold/extend")
@limiter.limit("20 per minute")
def extend_hold():
    """ "I need more time": the running hold gets the store's hold time again (at most twice)."""
    store = current_store()
    cart = cart_service.find_cart(store, **_shopper())
    if cart is None:
        return redirect(url_for("cart.show"), 303)
    try:
        holds.extend(store, cart)
    except holds.HoldError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(gettext("We'll hold your items a little longer."), "success")
    return redirect(url_for(".start"), 303)


@bp.route("/contact", methods=["GET", "POST"])
@limiter.limit("60 per minute", methods=["POST"])
def contact():
    """Step 1: the email address for the receipt (a signed-in shopper's own)."""
    state, refusal = _guard("contact")
    if refusal:
        return refusal
    errors, typed = {}, state.email or ""
    if request.method == "POST":
        typed = request.form.get("email", "")
        user = current_user if current_user.is_authenticated else None
        try:
            flow.set_email(state, typed, user)
        except flow.StepError as error:
            errors = error.errors
        else:
            flow.save(session, current_store(), state)
            return redirect(url_for(".address"), 303)
    page = render_template(
        "checkout/contact.html", **_context("contact", state, errors=errors, typed=typed)
    )
    return page, 422 if errors else 200


@bp.route("/address", methods=["GET", "POST"])
@limiter.limit("60 per minute", methods=["POST"])
def address():
    """Step 2: where it ships: a saved address or a new one (which can be saved)."""
    state, refusal = _guard("address")
    if refusal:
        return refusal
    user = current_user if current_user.is_authenticated else None
    saved = list_addresses(user) if user else []
    form = AddressForm(formdata=request.form if request.method == "POST" else None)
    if request.method == "GET" and state.address and not state.address_id:
        form.process(data=state.address)
    errors = {}
    choice = request.form.get("address_id", "new") if request.method == "POST" else None
    if request.method == "POST":
        try:
            if choice and choice != "new":
                flow.set_saved_address(state, user, choice)
            else:
                flow.set_new_address(state, form.address_values())
                if user and request.form.get("save_address") and len(saved) < 20:
                    _save_to_address_book(user, form.address_values())
        except flow.StepError as error:
            errors = error.errors
            form.add_errors({k: v for k, v in errors.items() if k != "address_id"})
        else:
            flow.save(session, current_store(), state)
            return redirect(url_for(".shipping"), 303)
    selected = choice or (
        str(state.address_id) if state.address_id else (str(saved[0].id) if saved else "new")
    )
    if not saved:
        selected = "new"
    page = render_template(
        "checkout/address.html",
        **_context(
            "address",
            state,
            form=form,
            saved=saved,
            selected=selected,
            errors=errors,
        ),
    )
    return page, 422 if errors else 200


@bp.get("/regions")
def regions():
    """The region field for the chosen country (htmx swaps it in when the country changes)."""
    country, _ = address_rules.check_country(request.args.get("country", ""))
    return render_template(
        "account/addresses/_partials/region_field.html",
        country=country,
        value=None,
        errors=(),
        oob=True,
    )


def _save_to_address_book(user, values):
    try:
        create_address(user, values)
    except AddressError as error:
        flash(
            gettext("We couldn't save the address to your address book: %(reason)s", reason=error),
            "warning",
        )


@bp.route("/shipping", methods=["GET", "POST"])
@limiter.limit("60 per minute", methods=["POST"])
def shipping():
    """Step 3: how it ships, with each method's price for this cart."""
    state, refusal = _guard("shipping")
    if refusal:
        return refusal
    store = current_store()
    settings = settings_for(store)
    errors = {}
    if request.method == "POST":
        try:
            flow.set_shipping(state, settings, request.form.get("shipping_method"))
        except flow.StepError as error:
            errors = error.errors
        else:
            flow.save(session, store, state)
            return redirect(url_for(".review"), 303)
    context = _context("shipping", state, errors=errors)
    context["methods"] = flow.shipping_methods(
        settings, context["quote"].totals.subtotal - context["quote"].totals.discount
    )
    return render_template("checkout/shipping.html", **context), 422 if errors else 200


@bp.get("/review")
def review():
    """Step 4: everything at current prices, the coupon box, and the button that pays."""
    state, refusal = _guard("review")
    if refusal:
        return refusal
    flow.review_key(state)
    flow.save(session, current_store(), state)
    # Said before the shopper tries: in production a store on the test gateway can't be paid.
    refusal = str(CANT_TAKE_PAYMENTS) if payment_problem(current_store()) else None
    return render_template("checkout/review.html", **_context("review", state, place_error=refusal))


@bp.post("/coupon")
@limiter.limit("30 per minute")
def apply_coupon():
    """Apply a coupon code (htmx swaps the totals; without JS, the review page again)."""
    state, refusal = _guard("review")
    if refusal:
        return refusal
    store = current_store()
    view = _cart_view()
    message, category, status = None, "success", 200
    try:
        flow.set_coupon(store, state, request.form.get("coupon"), view, settings_for(store))
    except flow.StepError as error:
        message, category, status = error.errors["coupon"], "error", 422
    else:
        flow.save(session, store, state)
        message = gettext("Coupon %(code)s applied.", code=state.coupon)
    typed = (request.form.get("coupon") or "")[: flow.MAX_COUPON_INPUT]
    return _summary(state, message, category, status, typed=typed)


@bp.post("/coupon/remove")
def remove_coupon():
    """Take the coupon off the order."""
    state, refusal = _guard("review")
    if refusal:
        return refusal
    state.coupon = None
    flow.save(session, current_store(), state)
    return _summary(state, gettext("Coupon removed."), "success", 200)


def _summary(state, message, category, status, typed=None):
    flow.review_key(state)
    flow.save(session, current_store(), state)
    context = _context(
        "review", state, coupon_message=message, coupon_category=category, typed_coupon=typed
    )
    if is_htmx():
        # The summary, and out of band the total on the "Place order" button.
        total = context["quote"].totals.total
        button = render_template("checkout/_partials/place_total.html", total=total)
        return render_partial("checkout/_partials/summary.html", status, oob=(button,), **context)
    if status < 400:
        flash(message, category)
        return redirect(url_for(".review"), 303)
    return render_template("checkout/review.html", **context), status


@bp.post("/place")
@limiter.limit("20 per minute")
def place():
    """Place the order (once per review form, however often it is sent) and go to payment."""
    store = current_store()
    key = request.form.get("idempotency_key") or ""
    state = flow.load(session, store)
    cart, view = cart_service.find_cart_view(store, images=False, **_shopper())
    settings = settings_for(store)
    # A form sent again after its order was placed (the checkout is forgotten then) goes to
    # that order; the review form on screen is looked up by place_order itself, which also
    # settles two submits racing each other.
    placed_before = _order_by_key(key) if key != state.key or not view.lines else None
    if placed_before is not None:
        return redirect(_payment_or_status(placed_before, settings), 303)
    if cart is None or not view.lines:
        flash(gettext("Your cart is empty: add something before checking out."), "info")
        return redirect(url_for("cart.show"), 303)
    try:
        order = flow.place(
            store,
            state,
            cart,
            view,
            settings,
            key=key,
            user=current_user if current_user.is_authenticated else None,
        )
    except CheckoutError as error:
        db.session.rollback()
        if flow.first_incomplete(state) != "review":
            flash(error.message, "error")
            return redirect(url_for(f".{flow.first_incomplete(state)}"), 303)
        flow.review_key(state)  # the page shown again can place the order
        flow.save(session, store, state)
        context = _context("review", state, place_error=error.message)
        return render_template("checkout/review.html", **context), 422
    flow.forget(session, store)
    return redirect(_payment_or_status(order, settings), 303)


def _order_by_key(key: str) -> Order | None:
    """The order a review form with this key already placed (keys are at most 64 long)."""
    if not key or len(key) > 64:
        return None
    return find_order_by_key(current_store(), key)


@bp.route("/pay/<int:number>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def pay(number: int):
    """Start (or restart) paying for an order still waiting for its payment."""
    if number > MAX_ID:
        abort(404)
    order = db.session.scalar(scoped_select(Order).where(Order.number == number))
    if order is None or not key_opens(order, request.values.get("key")):
        abort(404)
    return redirect(_payment_or_status(order), 303)


def _payment_or_status(order: Order, settings=None) -> str:
    """Where the shopper goes next: the provider's payment page, or the order's status page.

    `settings` are the store's checkout settings if the caller has them already.
    """
    store = current_store()
    status_path = order_path(order)
    waiting = order.status == states.PENDING_PAYMENT and (
        order.expires_at is None or order.expires_at > utcnow()
    )
    if not waiting:
        return status_path
    settings = settings or settings_for(store)
    provider = settings.payment_provider  # the store's provider now, if it changed meanwhile
    try:
        if provider == "stripe":
            back = store_url(store, status_path)
            return start_stripe(
                store, order, settings, success_url=back, cancel_url=back + "&payment=cancelled"
            ).redirect_url
        if provider == "midtrans":
            return start_midtrans(
                store, order, settings, finish_url=store_url(store, status_path)
            ).redirect_url
    except ProviderError as error:
        flash(str(error), "error")
        return status_path
    if payment_problem(store, settings):
        flash(str(CANT_TAKE_PAYMENTS), "error")
        return status_path
    return url_for("test_gateway.page", number=order.number, key=order_key(order))
