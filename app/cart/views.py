"""The cart on a store's host: the cart page, and adding, changing and removing lines (htmx too)."""

from datetime import timedelta

from flask import (
    abort,
    after_this_request,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user

from app.accounts.redirects import safe_next
from app.cart import service
from app.cart.models import CartItem
from app.extensions import db
from app.rendering import is_htmx, render_fragment, render_partial, varied
from tenants.context import current_store, store_blueprint
from tenants.query import get_for_store_or_404

bp = store_blueprint("cart", __name__)

COOKIE = "cart"
COOKIE_MAX_AGE = timedelta(days=60)
MAX_TOKEN_LENGTH = 64


@bp.before_app_request
def load_cart_token():
    """On a store host, read the guest cart cookie; a signed-in shopper's guest cart is merged."""
    g.cart_token = None
    if g.get("host_kind") != "store":
        return
    token = request.cookies.get(COOKIE) or None
    if token is None or len(token) > MAX_TOKEN_LENGTH:
        return
    if not current_user.is_authenticated:
        g.cart_token = token
        return
    service.merge_guest_cart(g.store, token, current_user.id)
    db.session.commit()
    after_this_request(_forget_cookie)


@bp.app_context_processor
def inject_cart_count():
    """`cart_count()` for the store header: computed on first use, once per request."""
    return {"cart_count": current_cart_count}


def current_cart_count() -> int:
    """How many pieces the shopper's cart in this store holds (one query, cached on g)."""
    if g.get("cart_count") is None:
        store = g.get("store")
        g.cart_count = service.item_count(store, **_shopper()) if store is not None else 0
    return g.cart_count


@bp.get("/cart")
def show():
    """The cart page: each line at its current price, quantities, the subtotal."""
    store = current_store()
    view = service.cart_view(store, service.find_cart(store, **_shopper()))
    g.cart_count = view.count
    return varied(render_template("cart/show.html", view=view))


@bp.post("/cart/items")
def add():
    """Add a variant to the cart (from the product page's buy box or a listing card)."""
    store = current_store()
    variant_id = request.form.get("variant_id", "")
    try:
        cart = service.get_or_create_cart(store, **_shopper())
        change = service.add_item(store, cart, variant_id, request.form.get("quantity", "1"))
    except service.CartError as error:
        db.session.rollback()
        return _add_answer(variant_id, error.message, "error", status=422)
    db.session.commit()
    if cart.user_id is None:
        g.cart_token = cart.token
        after_this_request(lambda response: _remember_cookie(response, cart.token))
    g.cart_count = None
    if change.notice:
        return _add_answer(variant_id, change.notice, "warning")
    return _add_answer(variant_id, gettext("Added to your cart."), "success")


@bp.post("/cart/items/<int:item_id>")
def update(item_id: int):
    """Change a line's quantity; 0 removes it."""
    store = current_store()
    cart, item = _cart_and_item_or_404(store, item_id)
    try:
        change = service.update_quantity(store, cart, item, request.form.get("quantity"))
    except service.CartError as error:
        db.session.rollback()
        return _cart_answer(store, cart, error.message, "error", status=422)
    db.session.commit()
    if change.notice:
        return _cart_answer(store, cart, change.notice, "warning")
    return _cart_answer(
        store, cart, gettext("Cart updated.") if change.item else gettext("Removed."), "success"
    )


@bp.post("/cart/items/<int:item_id>/delete")
def remove(item_id: int):
    """Take a line out of the cart."""
    store = current_store()
    cart, item = _cart_and_item_or_404(store, item_id)
    service.remove_item(store, cart, item)
    db.session.commit()
    return _cart_answer(store, cart, gettext("Removed."), "success")


def _shopper() -> dict:
    """Who the cart belongs to: the signed-in user, else the guest's cookie token."""
    if current_user.is_authenticated:
        return {"user_id": current_user.id, "token": None}
    return {"user_id": None, "token": g.get("cart_token")}


def _cart_and_item_or_404(store, item_id: int):
    """The shopper's cart and one of its lines; 404 for anyone else's line."""
    item = get_for_store_or_404(CartItem, item_id, store)
    cart = service.find_cart(store, **_shopper())
    if cart is None or item.cart_id != cart.id:
        abort(404)
    return cart, item


def _add_answer(variant_id: str, message: str, category: str, status: int = 200):
    """htmx: the confirmation under the add button and the header count; else redirect or page."""
    if is_htmx():
        return render_partial(
            "cart/_partials/add_notice.html",
            status,
            oob=(_count_oob(),),
            notice_id=variant_id if variant_id.isdigit() and len(variant_id) <= 10 else "",
            message=message,
            category=category,
            ok=status < 400,
        )
    if status >= 400:
        store = current_store()
        view = service.cart_view(store, service.find_cart(store, **_shopper()))
        return _page(view, message, category, status)
    flash(message, category)
    return redirect(safe_next(request.form.get("next"), url_for(".show")), 303)


def _cart_answer(store, cart, message: str, category: str, status: int = 200):
    """htmx: the cart lines block and the header count; else redirect or the page with an error."""
    view = service.cart_view(store, cart)
    g.cart_count = view.count
    if is_htmx():
        lines = render_fragment(
            "cart/show.html", "lines", view=view, message=message, category=category
        )
        return varied(lines, _count_oob(), status=status)
    if status >= 400:
        return _page(view, message, category, status)
    flash(message, category)
    return redirect(url_for(".show"), 303)


def _count_oob() -> str:
    """The header's cart count, swapped out of band so it changes with the fragment."""
    return render_template("cart/_partials/cart_count.html", count=current_cart_count(), oob=True)


def _page(view, message: str, category: str, status: int):
    g.cart_count = view.count
    return varied(
        render_template("cart/show.html", view=view, message=message, category=category),
        status=status,
    )


def _remember_cookie(response, token: str):
    """The guest's cart token: this host only (no Domain), HttpOnly, Lax, 60 days."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return response


def _forget_cookie(response):
    response.delete_cookie(
        COOKIE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return response
