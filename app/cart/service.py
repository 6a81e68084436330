"""The cart's rules: finding a shopper's cart, adding, changing and removing lines, merging.

Plain functions that take the store explicitly. Amounts are integer minor units of the store's
currency. Mutations lock the cart row first, so two tabs adding at once queue up instead of
colliding on the one-line-per-variant constraint.
"""

import secrets
from dataclasses import dataclass, field
from functools import cache

from flask_babel import gettext, lazy_gettext
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from app.cart.models import Cart, CartItem
from app.catalog.browse import first_images
from app.catalog.models import Product, ProductImage, Variant
from app.database import utcnow
from app.extensions import db
from app.inventory import holds
from app.money import format_money
from tenants.models import Store
from tenants.query import MAX_ID, scoped_select

MAX_QUANTITY = 999
TOKEN_BYTES = 32  # token_urlsafe(32) is 43 characters; the column holds 64
UNAVAILABLE = lazy_gettext("That product isn't available.")
BAD_QUANTITY = lazy_gettext("Enter a quantity from 1 to %(max)s.", max=MAX_QUANTITY)


class CartError(Exception):
    """A change to the cart that can't be made; `message` is for the shopper."""

    def __init__(self, message: str):
        message = str(message)  # a lazy translation, in the language of the page that asked
        super().__init__(message)
        self.message = message


@dataclass
class Change:
    """What a mutation did: the line (None when removed) and a notice when it was capped."""

    item: CartItem | None
    notice: str | None = None


@dataclass
class Line:
    """A cart line as the shopper sees it, at the current price."""

    item: CartItem
    variant: Variant
    product: Product
    image: ProductImage | None
    unit_price: int
    available: bool
    price_notice: str | None = None
    stock_notice: str | None = None

    @property
    def total(self) -> int:
        return self.unit_price * self.item.quantity if self.available else 0


@dataclass
class CartView:
    """Everything the cart page shows."""

    lines: list[Line] = field(default_factory=list)

    @property
    def subtotal(self) -> int:
        return sum(line.total for line in self.lines)

    @property
    def count(self) -> int:
        return sum(line.item.quantity for line in self.lines)

    @property
    def can_check_out(self) -> bool:
        return bool(self.lines) and all(line.available for line in self.lines)


def parse_quantity(raw, *, allow_zero: bool = False) -> int:
    """A quantity typed by the shopper as a whole number in range, or CartError."""
    text = str(raw if raw is not None else "").strip()
    if not text.isdigit() or len(text) > 4:  # isdigit refuses "-1", "1.5" and "two"
        raise CartError(BAD_QUANTITY)
    quantity = int(text)
    if quantity > MAX_QUANTITY or quantity < (0 if allow_zero else 1):
        raise CartError(BAD_QUANTITY)
    return quantity


def find_cart(store: Store, *, user_id: int | None, token: str | None) -> Cart | None:
    """The signed-in shopper's open cart in the store, else the guest cart the token names."""
    query = scoped_select(Cart, store).where(Cart.status == "open")
    if user_id is not None:
        return db.session.scalar(query.where(Cart.user_id == user_id))
    if not token or len(token) > 64:
        return None
    return db.session.scalar(query.where(Cart.token == token, Cart.user_id.is_(None)))


@cache
def _cart_with_lines(signed_in: bool):
    """The query of find_cart_view, built once per kind of shopper (placing an order runs it)."""
    whose = (
        [Cart.user_id == bindparam("user")]
        if signed_in
        else [Cart.token == bindparam("token"), Cart.user_id.is_(None)]
    )
    store = bindparam("store")
    return (
        # What other carts' live holds keep of each line's variant, in the same query.
        select(Cart, CartItem, Variant, Product, holds.held_by_others_column(Cart.id))
        .outerjoin(CartItem, (CartItem.cart_id == Cart.id) & (CartItem.store_id == store))
        .outerjoin(Variant, Variant.id == CartItem.variant_id)
        .outerjoin(Product, Product.id == Variant.product_id)
        .where(Cart.store_id == store, Cart.status == "open", *whose)
        .order_by(CartItem.id)
    )


def find_cart_view(
    store: Store, *, user_id: int | None, token: str | None, images: bool = True
) -> tuple[Cart | None, CartView]:
    """find_cart and cart_view in one query (the cart, its lines, their variants and products).

    A shopper has at most one open cart per store (a unique index, and a unique token).
    """
    now = utcnow()
    if user_id is not None:
        rows = db.session.execute(
            _cart_with_lines(True), {"store": store.id, "user": user_id, "now": now}
        )
    elif token and len(token) <= 64:
        rows = db.session.execute(
            _cart_with_lines(False), {"store": store.id, "token": token, "now": now}
        )
    else:
        return None, CartView()
    rows = rows.all()
    if not rows:
        return None, CartView()
    lines = []
    for _, item, variant, product, held_by_others in rows:
        if product is not None:
            variant.held_by_others = int(held_by_others or 0)
            lines.append((item, variant, product))
    return rows[0][0], _view(store, rows[0][0], lines, images, counted=True)


def get_or_create_cart(store: Store, *, user_id: int | None, token: str | None) -> Cart:
    """The shopper's cart, created on first use (a guest's gets a fresh random token)."""
    cart = find_cart(store, user_id=user_id, token=token)
    if cart is not None:
        return cart
    cart = Cart(store_id=store.id, user_id=user_id, token=secrets.token_urlsafe(TOKEN_BYTES))
    try:
        with db.session.begin_nested():
            db.session.add(cart)
    except IntegrityError:
        # Another request made this user's cart a moment ago: use that one.
        found = find_cart(store, user_id=user_id, token=None)
        if found is None:
            raise
        return found
    return cart


def item_count(store: Store, *, user_id: int | None, token: str | None) -> int:
    """How many pieces the shopper's open cart holds, in one query."""
    query = (
        select(func.coalesce(func.sum(CartItem.quantity), 0))
        .join(Cart, Cart.id == CartItem.cart_id)
        .where(Cart.store_id == store.id, CartItem.store_id == store.id, Cart.status == "open")
    )
    if user_id is not None:
        query = query.where(Cart.user_id == user_id)
    elif token and len(token) <= 64:
        query = query.where(Cart.token == token, Cart.user_id.is_(None))
    else:
        return 0
    return int(db.session.scalar(query))


def add_item(store: Store, cart: Cart, variant_id, quantity) -> Change:
    """Add `quantity` of a variant of an active product, capped at what is in stock."""
    variant = _sellable_variant(store, variant_id)
    quantity = parse_quantity(quantity)
    _lock(cart)
    holds.available_for([variant], cart)
    item = db.session.scalar(
        scoped_select(CartItem, store).where(
            CartItem.cart_id == cart.id, CartItem.variant_id == variant.id
        )
    )
    in_cart = item.quantity if item is not None else 0
    limit = _limit(variant)
    if limit == 0:
        raise CartError(gettext("Sorry, this is sold out."))
    if in_cart >= limit:
        raise CartError(_cap_message(variant, in_cart))
    wanted = in_cart + quantity
    total = min(wanted, limit)
    if item is None:
        item = CartItem(store_id=store.id, cart_id=cart.id, variant_id=variant.id)
        db.session.add(item)
    item.quantity = total
    # The shopper has just seen the current price, so any earlier price stops mattering.
    item.price_seen = variant.price
    db.session.flush()
    holds.hold_cart(store, cart, start=holds.holds_on_add(store))
    return Change(item, _cap_message(variant, total) if total < wanted else None)


def update_quantity(store: Store, cart: Cart, item: CartItem, quantity) -> Change:
    """Set a line's quantity (0 removes it), capped at what is in stock."""
    quantity = parse_quantity(quantity, allow_zero=True)
    _check_owner(cart, item)
    if quantity == 0:
        return remove_item(store, cart, item)
    _lock(cart)
    variant = db.session.scalar(scoped_select(Variant, store).where(Variant.id == item.variant_id))
    holds.available_for([variant], cart)
    limit = _limit(variant)
    if limit == 0:
        raise CartError(gettext("Sorry, this is sold out. Remove it from your cart."))
    item.quantity = min(quantity, limit)
    db.session.flush()
    holds.hold_cart(store, cart, start=False)  # a running hold follows the new quantity
    return Change(item, _cap_message(variant, item.quantity) if quantity > limit else None)


def remove_item(store: Store, cart: Cart, item: CartItem) -> Change:
    """Take a line out of the cart."""
    _check_owner(cart, item)
    _lock(cart)
    holds.release_cart(store, cart, [item.variant_id])
    db.session.delete(item)
    db.session.flush()
    return Change(None)


def cart_view(store: Store, cart: Cart | None, *, images: bool = True) -> CartView:
    """The cart's lines at the current prices, in a fixed number of queries.

    `images=False` leaves out the pictures (placing an order shows no page).
    """
    if cart is None:
        return CartView()
    rows = db.session.execute(
        select(CartItem, Variant, Product)
        .join(Variant, Variant.id == CartItem.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(CartItem.cart_id == cart.id, CartItem.store_id == store.id)
        .order_by(CartItem.id)
    ).all()
    return _view(store, cart, rows, images)


def _view(store: Store, cart: Cart | None, rows, images: bool, counted=False) -> CartView:
    pictures = first_images([product for _, _, product in rows]) if images else {}
    if not counted:
        # What other carts hold isn't this shopper's to buy; their own hold is (one query).
        holds.available_for([variant for _, variant, _ in rows], cart)
    lines = []
    for item, variant, product in rows:
        available = product.status == "active" and _limit(variant) > 0
        line = Line(item, variant, product, pictures.get(product.id), variant.price, available)
        if item.price_seen != variant.price:
            before = format_money(item.price_seen, store.currency, store.locale)
            now = format_money(variant.price, store.currency, store.locale)
            line.price_notice = gettext(
                "The price changed from %(before)s to %(now)s since you added it.",
                before=before,
                now=now,
            )
        if not available:
            line.stock_notice = gettext("No longer available.")
        elif item.quantity > _limit(variant):
            line.stock_notice = gettext(
                "Only %(count)s left; lower the quantity to check out.", count=variant.units_left
            )
            line.available = False
        lines.append(line)
    return CartView(lines)


def merge_guest_cart(store: Store, token: str | None, user_id: int) -> Cart | None:
    """Fold the guest cart the token names into the user's cart (summed, capped at stock)."""
    guest = find_cart(store, user_id=None, token=token)
    if guest is None:
        return None
    _lock(guest)
    mine = find_cart(store, user_id=user_id, token=None)
    if mine is None:
        # Nothing to merge into: the guest cart becomes the user's.
        guest.user_id = user_id
        db.session.flush()
        return guest
    _lock(mine)
    existing = {item.variant_id: item for item in mine.items}
    variants = {
        v.id: v
        for v in db.session.scalars(
            scoped_select(Variant, store).where(
                Variant.id.in_([item.variant_id for item in guest.items])
            )
        )
    }
    holds.available_for(variants.values(), mine)
    for theirs in guest.items:
        variant = variants.get(theirs.variant_id)
        if variant is None:
            continue
        item = existing.get(theirs.variant_id)
        limit = _limit(variant)
        if item is None:
            if limit == 0:
                continue
            item = CartItem(store_id=store.id, cart_id=mine.id, variant_id=variant.id, quantity=0)
            item.price_seen = theirs.price_seen
            mine.items.append(item)
        item.quantity = max(item.quantity, min(item.quantity + theirs.quantity, limit))
    # A hold the guest had moves with the lines (its timer starts again for the merged cart).
    had_hold = holds.status(guest).expires_at is not None
    holds.release_cart(store, guest)
    guest.status = "merged"
    db.session.flush()
    holds.hold_cart(store, mine, start=had_hold)
    return mine


def _sellable_variant(store: Store, variant_id) -> Variant:
    """The variant if it is the store's and its product is on sale; else CartError."""
    try:
        variant_id = int(str(variant_id).strip())
    except (TypeError, ValueError):
        raise CartError(UNAVAILABLE) from None
    if not 1 <= variant_id <= MAX_ID:
        raise CartError(UNAVAILABLE)
    variant = db.session.scalar(
        scoped_select(Variant, store)
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.id == variant_id, Product.status == "active")
    )
    if variant is None:
        raise CartError(UNAVAILABLE)
    return variant


def _limit(variant: Variant) -> int:
    """The most of this variant one cart may have: what isn't held for other carts
    (`holds.available_for` has counted those)."""
    if not variant.track_inventory:
        return MAX_QUANTITY
    return max(0, min(variant.units_left, MAX_QUANTITY))


def _cap_message(variant: Variant, in_cart: int) -> str:
    if not variant.track_inventory:
        return gettext(
            "You can add at most %(max)s; your cart has %(count)s.", max=MAX_QUANTITY, count=in_cart
        )
    return gettext(
        "Only %(left)s left; your cart has %(count)s.", left=variant.units_left, count=in_cart
    )


def _check_owner(cart: Cart, item: CartItem) -> None:
    if item.cart_id != cart.id:
        raise LookupError("the item is not in this cart")


def _lock(cart: Cart) -> None:
    """Serialise changes to one cart (FOR UPDATE on PostgreSQL; SQLite locks on BEGIN)."""
    db.session.execute(select(Cart.id).where(Cart.id == cart.id).with_for_update())
