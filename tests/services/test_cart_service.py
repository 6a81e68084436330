"""The cart's rules, called directly: quantities, stock caps, store scoping, prices, merging."""

import pytest

from app.cart import service
from app.cart.models import Cart, CartItem
from app.catalog.models import Variant
from app.catalog.service import VariantData
from app.extensions import db
from tenants.models import Store
from tests.factories import make_product, make_user


def one_variant(store, title="Mug", *, price=1200, stock=5, track_inventory=True, **fields):
    sku = f"{title.upper().replace(' ', '-')}-{store.id}"
    product = make_product(
        store,
        title,
        variants=[VariantData(sku, price, stock=stock, track_inventory=track_inventory)],
        **fields,
    )
    return product.variants[0]


def guest_cart(store):
    return service.get_or_create_cart(db.session.get(Store, store.id), user_id=None, token=None)


def test_a_new_guest_cart_gets_a_random_token_and_is_found_by_it(ctx, store_a):
    store = db.session.get(Store, store_a.id)
    cart = guest_cart(store_a)
    db.session.commit()
    assert len(cart.token) == 43 and cart.status == "open" and cart.user_id is None
    assert service.find_cart(store, user_id=None, token=cart.token).id == cart.id
    assert service.find_cart(store, user_id=None, token="nope") is None
    assert service.find_cart(store, user_id=None, token=None) is None


def test_add_sums_quantities_on_one_line(ctx, store_a):
    variant = one_variant(store_a, stock=10)
    store = db.session.get(Store, store_a.id)
    cart = guest_cart(store_a)
    service.add_item(store, cart, variant.id, 2)
    change = service.add_item(store, cart, str(variant.id), "3")
    db.session.commit()
    assert change.notice is None and change.item.quantity == 5
    assert change.item.price_seen == 1200
    assert service.item_count(store, user_id=None, token=cart.token) == 5


@pytest.mark.parametrize("quantity", ["0", "-1", str(10**9), "two", "1.5", "", None, "1000"])
def test_bad_quantities_are_refused(ctx, store_a, quantity):
    variant = one_variant(store_a)
    store = db.session.get(Store, store_a.id)
    with pytest.raises(service.CartError, match="Enter a quantity from 1 to 999"):
        service.add_item(store, guest_cart(store_a), variant.id, quantity)


def test_another_stores_variant_is_refused_like_an_unknown_one(ctx, store_a, store_b):
    theirs = one_variant(store_b)
    store = db.session.get(Store, store_a.id)
    cart = guest_cart(store_a)
    messages = []
    for variant_id in (theirs.id, 999_999, "x", 10**12):
        with pytest.raises(service.CartError) as raised:
            service.add_item(store, cart, variant_id, 1)
        messages.append(raised.value.message)
    assert set(messages) == {"That product isn't available."}


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_a_product_not_on_sale_cant_be_added(ctx, store_a, status):
    variant = one_variant(store_a, status=status)
    store = db.session.get(Store, store_a.id)
    with pytest.raises(service.CartError, match="isn't available"):
        service.add_item(store, guest_cart(store_a), variant.id, 1)


def test_quantities_are_capped_at_stock(ctx, store_a):
    variant = one_variant(store_a, stock=4)
    store = db.session.get(Store, store_a.id)
    cart = guest_cart(store_a)
    change = service.add_item(store, cart, variant.id, 3)
    assert change.notice is None
    change = service.add_item(store, cart, variant.id, 3)
    assert change.item.quantity == 4 and change.notice == "Only 4 left; your cart has 4."
    with pytest.raises(service.CartError, match="Only 4 left; your cart has 4"):
        service.add_item(store, cart, variant.id, 1)
    change = service.update_quantity(store, cart, change.item, "9")
    assert change.item.quantity == 4 and change.notice == "Only 4 left; your cart has 4."


def test_untracked_stock_and_sold_out(ctx, store_a):
    untracked = one_variant(store_a, "Ebook", stock=0, track_inventory=False)
    sold_out = one_variant(store_a, "Rare", stock=0)
    store = db.session.get(Store, store_a.id)
    cart = guest_cart(store_a)
    assert service.add_item(store, cart, untracked.id, 50).item.quantity == 50
    with pytest.raises(service.CartError, match="sold out"):
        service.add_item(store, cart, sold_out.id, 1)


def test_update_to_zero_removes_and_remove_deletes(ctx, store_a):
    first = one_variant(store_a, "One")
    second = one_variant(store_a, "Two")
    store = db.session.get(Store, store_a.id)
    cart = guest_cart(store_a)
    a = service.add_item(store, cart, first.id, 1).item
    b = service.add_item(store, cart, second.id, 1).item
    assert service.update_quantity(store, cart, a, "0").item is None
    service.remove_item(store, cart, b)
    db.session.commit()
    assert db.session.scalars(db.select(CartItem)).all() == []


def test_cart_view_uses_current_prices_and_points_out_changes(ctx, store_a):
    cheap = one_variant(store_a, "Cheap", price=500)
    dear = one_variant(store_a, "Dear", price=1000)
    store = db.session.get(Store, store_a.id)
    cart = guest_cart(store_a)
    service.add_item(store, cart, cheap.id, 2)
    service.add_item(store, cart, dear.id, 1)
    db.session.get(Variant, dear.id).price = 1500
    db.session.commit()
    view = service.cart_view(store, cart)
    assert [line.unit_price for line in view.lines] == [500, 1500]
    assert [line.total for line in view.lines] == [1000, 1500]
    assert view.subtotal == 2500 and view.count == 3
    assert view.lines[0].price_notice is None
    assert view.lines[1].price_notice == (
        "The price changed from $10.00 to $15.00 since you added it."
    )


def test_merge_sums_per_variant_caps_at_stock_and_marks_the_guest_cart(ctx, store_a):
    user = make_user("merge@example.com")
    mug = one_variant(store_a, "Mug", stock=5)
    cap = one_variant(store_a, "Cap", stock=50)
    store = db.session.get(Store, store_a.id)
    mine = service.get_or_create_cart(store, user_id=user.id, token=None)
    service.add_item(store, mine, mug.id, 3)
    guest = guest_cart(store_a)
    service.add_item(store, guest, mug.id, 4)
    service.add_item(store, guest, cap.id, 2)
    db.session.commit()
    merged = service.merge_guest_cart(store, guest.token, user.id)
    db.session.commit()
    assert merged.id == mine.id
    assert {i.variant_id: i.quantity for i in merged.items} == {mug.id: 5, cap.id: 2}
    assert db.session.get(Cart, guest.id).status == "merged"
    assert service.merge_guest_cart(store, guest.token, user.id) is None


def test_merge_without_a_user_cart_adopts_the_guest_cart(ctx, store_a):
    user = make_user("adopt@example.com")
    mug = one_variant(store_a)
    store = db.session.get(Store, store_a.id)
    guest = guest_cart(store_a)
    service.add_item(store, guest, mug.id, 2)
    db.session.commit()
    service.merge_guest_cart(store, guest.token, user.id)
    db.session.commit()
    cart = service.find_cart(store, user_id=user.id, token=None)
    assert cart.id == guest.id and cart.items[0].quantity == 2
    assert service.find_cart(store, user_id=None, token=guest.token) is None


def test_a_token_from_another_store_finds_nothing(ctx, store_a, store_b):
    cart = guest_cart(store_a)
    db.session.commit()
    other = db.session.get(Store, store_b.id)
    assert service.find_cart(other, user_id=None, token=cart.token) is None
