"""Encrypting stored provider keys (Fernet), so a database dump doesn't leak them."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def _fernet() -> Fernet:
    # SETTINGS_ENCRYPTION_KEY lets SECRET_KEY rotate without losing the stored keys.
    material = current_app.config.get("SETTINGS_ENCRYPTION_KEY") or current_app.config["SECRET_KEY"]
    digest = hashlib.sha256(f"pasar-settings:{material}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(value: str | None) -> str | None:
    """Encrypt a secret for storage (None stays None)."""
    return _fernet().encrypt(value.encode()).decode() if value else None


def decrypt(value: str | None) -> str | None:
    """Decrypt a stored secret; None if absent or if it was encrypted with another key."""
    if not value:
        return None
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        return None
