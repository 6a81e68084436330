"""Helpers for the API tests: a key for a store, and a client that sends it."""

from app.api.keys import SCOPES, create_key
from app.extensions import db
from tenants.models import Store


def make_key(app, store, scopes=SCOPES, name: str = "ERP") -> str:
    """A new API key of `store` with `scopes`; returns the secret."""
    with app.app_context():
        made = create_key(db.session.get(Store, store.id), name, scopes)
        db.session.commit()
        return made.secret


def bearer(secret: str, **headers) -> dict:
    return {"Authorization": f"Bearer {secret}", **headers}
