"""Shared helpers of the dashboard catalog tests: signed-in clients and image bytes."""

import io

from PIL import Image
from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from tests.conftest import sign_in_as

HX = {"HX-Request": "true"}


def owner_of(app, store):
    """The owner account of a test store (made by make_store), detached."""
    with app.app_context():
        user = db.session.scalar(
            select(User).where(User.email == f"owner@{store.slug}.example.com")
        )
        db.session.expunge(user)
        return user


def signed_in(app, client_for, store, user=None):
    """A client on `store`'s host, signed in as `user` (the store's owner by default)."""
    client = client_for(store)
    sign_in_as(client, user or owner_of(app, store))
    return client


def png_bytes(size=(640, 480), colour=(30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def text_of(response) -> str:
    return response.get_data(as_text=True)
