"""Password policy and hashing (argon2id)."""

from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from flask_babel import gettext
from werkzeug.security import check_password_hash

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 has no limit; this just bounds the work an attacker can ask for


@cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most common passwords from real leaks.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why `password` is not acceptable, or None if it is."""
    if len(password) < MIN_LENGTH:
        return gettext("Use at least %(min)s characters.", min=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return gettext("Use at most %(max)s characters.", max=MAX_LENGTH)
    lowered = password.lower()
    if lowered in _common_passwords() or lowered.strip("0123456789!") in _common_passwords():
        return gettext("That password is too common. Choose one that's harder to guess.")
    if len(set(password)) < 4:
        return gettext("That password is too easy to guess. Mix more different characters.")
    if email:
        local = email.split("@", 1)[0].lower()
        if len(local) >= 4 and local in lowered:
            return gettext("Don't use your email address in your password.")
    return None


def _hasher() -> PasswordHasher:
    if has_app_context() and current_app.testing:
        return PasswordHasher.from_parameters(profiles.CHEAPEST)  # tests hash thousands
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; accounts without a password never match."""
    if not password_hash:
        _hasher().hash(password)  # spend the same time as a real check
        return False
    if password_hash.startswith(("scrypt:", "pbkdf2:")):
        return check_password_hash(password_hash, password)
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True if the hash uses an older scheme or weaker parameters than today's."""
    if password_hash.startswith(("scrypt:", "pbkdf2:")):
        return True
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
