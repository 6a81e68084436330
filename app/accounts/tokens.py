"""Signed, expiring, single-use links (password reset)."""

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.accounts.models import User
from app.extensions import db

RESET_MAX_AGE = 3600


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(user: User) -> str:
    # Changes when the password (or session token) changes, so a used link stops working.
    material = f"{user.password_hash or ''}|{user.session_token}|{user.email}"
    return hashlib.sha256(material.encode()).hexdigest()[:20]


def make_reset_token(user: User) -> str:
    """A token for resetting `user`'s password, valid for an hour and only once."""
    return _serializer("password-reset").dumps({"u": user.id, "f": _fingerprint(user)})


def user_for_reset_token(token: str) -> User | None:
    """The user a reset token was made for, if it is genuine, fresh and unused."""
    try:
        data = _serializer("password-reset").loads(token, max_age=RESET_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    if user is None or not user.is_active or data.get("f") != _fingerprint(user):
        return None
    return user
