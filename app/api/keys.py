"""API keys: made with a random secret shown once, kept as an HMAC, revoked at once."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select

from app.api.models import ApiKey
from app.audit.service import record
from app.database import utcnow
from app.extensions import db
from app.field_errors import FieldError
from app.i18n import N_

SCOPES = (
    "products:read",
    "products:write",
    "stock:read",
    "stock:write",
    "orders:read",
    "orders:write",
    "coupons:read",
    "coupons:write",
)
SCOPE_LABELS = {
    "products:read": N_("Read products"),
    "products:write": N_("Create and edit products"),
    "stock:read": N_("Read stock levels"),
    "stock:write": N_("Adjust stock"),
    "orders:read": N_("Read orders"),
    "orders:write": N_("Ship and deliver orders"),
    "coupons:read": N_("Read coupons"),
    "coupons:write": N_("Create and edit coupons"),
}
KEY_START = "pk_"  # says "Pasar key" in logs and secret scanners
PREFIX_LENGTH = len(KEY_START) + 8
MAX_NAME = 80


class ApiKeyError(FieldError):
    """A key form refused (422)."""


@dataclass(frozen=True)
class NewKey:
    """A key just made: the row, and the secret, which exists nowhere else after this."""

    key: ApiKey
    secret: str


def hash_key(secret: str) -> str:
    """The stored form of a key: HMAC-SHA256 with the app's secret (the key is random)."""
    pepper = current_app.config["SECRET_KEY"].encode()
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def new_secret() -> str:
    """A fresh key: the marker, then 256 random bits."""
    return KEY_START + secrets.token_urlsafe(32)


def clean_scopes(chosen) -> list[str]:
    """The known scopes among `chosen`, in the canonical order; at least one is needed."""
    wanted = set(chosen or ())
    scopes = [scope for scope in SCOPES if scope in wanted]
    if not scopes:
        raise ApiKeyError("scopes", gettext("Choose at least one permission for the key."))
    return scopes


def create_key(store, name: str, scopes, *, actor=None, secret: str | None = None) -> NewKey:
    """Make a key for `store` (audited; not committed). `secret` only for the demo seed."""
    name = " ".join((name or "").split())
    if not name:
        raise ApiKeyError("name", gettext("Give the key a name, like the system that will use it."))
    if len(name) > MAX_NAME:
        raise ApiKeyError("name", gettext("Keep the name to %(num)s characters.", num=MAX_NAME))
    scopes = clean_scopes(scopes)
    secret = secret or new_secret()
    key = ApiKey(
        store_id=store.id,
        name=name,
        prefix=secret[:PREFIX_LENGTH],
        key_hash=hash_key(secret),
        scopes=" ".join(scopes),
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(key)
    db.session.flush()
    record("api_key.created", actor=actor, store=store, target=key, name=name, scopes=scopes)
    return NewKey(key, secret)


def revoke_key(store, key: ApiKey, *, actor=None) -> bool:
    """Revoke `key` now (audited; not committed); False if it already was."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    record("api_key.revoked", actor=actor, store=store, target=key, name=key.name)
    return True


def list_keys(store) -> list[ApiKey]:
    """The store's keys, newest first, revoked ones included (they show when they stopped)."""
    return list(
        db.session.scalars(
            select(ApiKey).where(ApiKey.store_id == store.id).order_by(ApiKey.id.desc())
        )
    )


def find_active_key(store, secret: str) -> ApiKey | None:
    """The store's unrevoked key with this secret; another store's key is not found here."""
    if not secret or len(secret) > 200:
        return None
    return db.session.scalar(
        select(ApiKey).where(
            ApiKey.store_id == store.id,
            ApiKey.key_hash == hash_key(secret),
            ApiKey.revoked_at.is_(None),
        )
    )
