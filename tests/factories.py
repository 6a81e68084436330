"""Builders for test rows; each commits and returns a detached, fully loaded object."""

from app.accounts.service import create_user
from app.extensions import db
from tenants.provisioning import create_store

PASSWORD = "correct-horse-battery"


def detach(obj):
    """Load every column, then detach, so tests can read the object outside the context."""
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


def make_user(email: str, *, superuser: bool = False, verified: bool = True, name: str = ""):
    user = create_user(email, PASSWORD, name=name, is_superuser=superuser, verified=verified)
    db.session.commit()
    return detach(user)


def make_store(slug: str, name: str | None = None, *, owner_email: str | None = None, **settings):
    owner = create_user(owner_email or f"owner@{slug}.example.com", PASSWORD, verified=True)
    db.session.flush()
    store = create_store(slug=slug, name=name or slug.title(), owner=owner, **settings)
    return detach(store)
