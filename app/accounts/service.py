"""Creating and finding accounts."""

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from app.accounts.models import User
from app.database import utcnow
from app.extensions import db


class AccountError(ValueError):
    """An account operation was refused; the message is safe to show."""


def normalise_email(raw: str) -> str:
    """The canonical form of an email address, or AccountError if it isn't one."""
    raw = (raw or "").strip()
    if len(raw) > 254:
        raise AccountError("That email address is too long.")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(str(exc)) from None
    return result.normalized.lower()


def find_user_by_email(email: str) -> User | None:
    """The account with this email (any letter case), if there is one."""
    try:
        email = normalise_email(email)
    except AccountError:
        return None
    return db.session.scalar(select(User).where(User.email == email))


def create_user(
    email: str,
    password: str | None = None,
    *,
    name: str = "",
    is_superuser: bool = False,
    verified: bool = False,
) -> User:
    """Add a new account to the session (not committed); AccountError if the email is taken."""
    email = normalise_email(email)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError("An account with that email already exists.")
    user = User(email=email, name=name, is_superuser=is_superuser)
    if password:
        user.set_password(password)
    if verified:
        user.email_verified_at = utcnow()
    db.session.add(user)
    return user
