"""Builders for test rows; each commits and returns a detached, fully loaded object.

Outside an app context they use the test's app (set by the `app` fixture), so a test can call
them between requests without holding a session open.
"""

from contextlib import nullcontext

from flask import has_app_context

from app.accounts.service import create_user
from app.extensions import db
from tenants.provisioning import create_store

PASSWORD = "correct-horse-battery"


def detach(obj):
    """Load every column, then detach, so tests can read the object outside the context."""
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


CURRENT_APP = None  # the app of the running test


def _context():
    if has_app_context() or CURRENT_APP is None:
        return nullcontext()
    return CURRENT_APP.app_context()


def make_user(email: str, *, superuser: bool = False, verified: bool = True, name: str = ""):
    with _context():
        user = create_user(email, PASSWORD, name=name, is_superuser=superuser, verified=verified)
        db.session.commit()
        return detach(user)


def make_store(slug: str, name: str | None = None, *, owner_email: str | None = None, **settings):
    with _context():
        owner = create_user(owner_email or f"owner@{slug}.example.com", PASSWORD, verified=True)
        db.session.flush()
        store = create_store(slug=slug, name=name or slug.title(), owner=owner, **settings)
        return detach(store)


def add_member(store, user, role: str):
    """Give `user` a role in `store`; returns the membership."""
    from app.accounts.models import Membership

    with _context():
        membership = Membership(store_id=store.id, user_id=user.id, role=role)
        db.session.add(membership)
        db.session.commit()
        return detach(membership)


def make_product(
    store,
    title: str = "Test Shirt",
    *,
    status: str = "active",
    variants=None,
    option_names=None,
    **fields,
):
    """A product in `store` (one $19.99 variant unless `variants` says otherwise)."""
    from app.catalog.service import VariantData, create_product
    from tenants.models import Store

    with _context():
        if variants is None:
            sku = f"SKU-{title.upper().replace(' ', '-')[:40]}-{store.id}"
            variants = [VariantData(sku=sku, price=1999, stock=10)]
        product = create_product(
            db.session.get(Store, store.id),
            title=title,
            status=status,
            variants=variants,
            option_names=option_names,
            **fields,
        )
        db.session.refresh(product)
        variants = list(product.variants)  # loaded (with their columns) before detaching
        for variant in variants:
            db.session.refresh(variant)
            db.session.expunge(variant)
        db.session.expunge(product)
        return product


def make_category(store, name: str, *, parent=None, position: int = 0, slug: str | None = None):
    """A category of `store` (under `parent`, if given)."""
    from app.catalog.models import Category
    from app.catalog.text import slugify

    with _context():
        category = Category(
            store_id=store.id,
            name=name,
            slug=slug or slugify(name),
            parent_id=parent.id if parent is not None else None,
            position=position,
        )
        db.session.add(category)
        db.session.commit()
        return detach(category)


def png_bytes(size=(640, 480), colour=(200, 80, 40)) -> bytes:
    """A small PNG picture."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def make_image(product, *, alt: str = "", size=(64, 48)):
    """An image of `product`, processed at once (jobs run inline in tests)."""
    from app.catalog.images import add_image
    from app.catalog.models import Product

    with _context():
        image = add_image(db.session.get(Product, product.id), png_bytes(size), alt=alt)
        return detach(image)
