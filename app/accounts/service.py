"""Accounts: registration, verification, sign-in (password or email code), resets, changes."""

import logging

from email_validator import EmailNotValidError, validate_email
from flask import after_this_request, session
from flask_babel import gettext, lazy_gettext
from flask_login import login_user, logout_user
from sqlalchemy import select

from app.accounts import otp, pending, sessions, throttle
from app.accounts.models import User
from app.accounts.passwords import hash_password, needs_rehash, password_problem
from app.audit.service import record
from app.database import utcnow
from app.extensions import db
from app.field_errors import FieldError
from app.i18n import clean_language, language_for_user
from app.notifications.service import queue_email

log = logging.getLogger(__name__)


class AccountError(FieldError):
    """An account operation was refused; the message is safe to show (it reveals no account)."""


class AddressNotProven(AccountError):
    """The password was right, but the account's address was never proven: verify it first."""

    def __init__(self, user: User):
        super().__init__("password", gettext("Confirm your email address to finish signing in."))
        self.user = user


def normalise_email(raw: str) -> str:
    """The canonical (lower-case, ASCII) form of an email address, or AccountError."""
    raw = (raw or "").strip()
    if not raw:
        raise AccountError("email", gettext("Enter your email address."))
    if len(raw) > 254:
        raise AccountError("email", gettext("That email address is too long."))
    try:
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AccountError(
            "email", gettext("That email address isn't valid: %(why)s", why=exc)
        ) from None
    return (result.ascii_email or result.normalized).lower()


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
        raise AccountError("email", gettext("An account with that email already exists."))
    user = User(email=email, name=(name or "").strip()[:120], is_superuser=is_superuser)
    if password:
        user.set_password(password)
    if verified:
        user.email_verified_at = utcnow()
    db.session.add(user)
    return user


def check_new_password(password: str, email: str | None) -> None:
    """AccountError (field "password") unless the password meets the policy."""
    problem = password_problem(password or "", email)
    if problem:
        raise AccountError("password", problem)


def send_code(purpose: str, email: str, ip: str | None, *, template: str | None = None) -> None:
    """Issue a code for `email` and mail it (or mail `template` instead, without the code).

    Raises otp.OtpRefused when the cooldown or the hourly limits say no; the limits apply
    the same way whether or not an account exists.
    """
    code = otp.issue_code(purpose, email, ip)
    subjects = {
        "verify": lazy_gettext("Your Pasar verification code"),
        "signin": lazy_gettext("Your Pasar sign-in code"),
        "email_change": lazy_gettext("Confirm your new email address"),
        "confirm": lazy_gettext("Your Pasar confirmation code"),
        "account_exists": lazy_gettext("Someone tried to register with your email"),
    }
    chosen = template or {
        "verify": "verify_email",
        "signin": "signin_code",
        "confirm": "confirm_code",
    }.get(purpose, "email_change_code")
    subject = subjects["account_exists" if chosen == "account_exists" else purpose]
    context = {"code": code} if chosen != "account_exists" else {}
    known = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    queue_email(
        email,
        subject,
        chosen,
        language=language_for_user(known),
        ttl_minutes=otp.CODE_TTL // 60,
        **context,
    )


def register(email: str, password: str, name: str, ip: str | None) -> str:
    """Start a registration and return the normalised email; the same outcome for a taken email.

    A new address gets an account (unverified, without a password) and a code; an address
    that already has an account gets a notice instead (or, if that account was never
    verified, a fresh code). The password waits with this browser's session and is set only
    when the code is entered here: until the address is proven, nobody's password counts.
    """
    email = normalise_email(email)
    check_new_password(password, email)
    user = db.session.scalar(select(User).where(User.email == email))
    # Held for every address alike, so the session cookie doesn't tell which ones exist.
    pending.keep(email, hash_password(password), (name or "").strip()[:120])
    if user is None:
        user = create_user(email, name=name)
        record("account.registered", actor=user)
        db.session.commit()
        send_code("verify", email, ip)
    else:
        template = None if not user.is_verified else "account_exists"
        send_code("verify", email, ip, template=template)
    return email


def resend_verification(email: str, ip: str | None) -> None:
    """Another verification mail: a code for an unverified account, else the notice."""
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        otp.issue_code("verify", email, ip)  # the same limits and answer, but nothing to send
        return
    send_code("verify", email, ip, template=None if not user.is_verified else "account_exists")


def verify_email(email: str, code: str) -> User:
    """Check the verification code and mark the account verified; AccountError if wrong."""
    email = normalise_email(email)
    result = otp.check_code("verify", email, code)
    user = db.session.scalar(select(User).where(User.email == email))
    if not result.ok or user is None:
        raise AccountError("code", result.message or gettext("That code isn't right."))
    if not user.is_verified:
        claim_address(user)
        record("account.verified", actor=user)
        db.session.commit()
        queue_email(
            user.email,
            lazy_gettext("Welcome to Pasar"),
            "welcome",
            user=user,
            language=language_for_user(user),
        )
    return user


def claim_address(user: User) -> None:
    """The address of an unverified account was just proven here: what came before goes.

    Until now anyone could have registered it (pre-account hijacking), so any password set
    before the proof is dropped and every session ends; the password this browser typed when
    registering, if any, is the one that counts. Not committed.
    """
    held = pending.take(user.email)
    user.password_hash = held.password_hash if held else None
    if held and held.name:
        user.name = held.name
    user.rotate_session_token()
    user.email_verified_at = utcnow()


def authenticate(email: str, password: str) -> User | None:
    """The account if the password is right and the account enabled; records failures.

    An account whose address was never proven can't sign in with a password (whoever
    registered first chose it): AddressNotProven says to prove the address first.
    """
    user = find_user_by_email(email)
    if user is None:
        hash_password(password or "x")  # don't answer faster for unknown emails
        record("signin.failed", reason="unknown email")
        db.session.commit()
        return None
    if not user.check_password(password or "") or not user.is_active:
        reason = "disabled" if not user.is_active else "wrong password"
        record("signin.failed", actor=user, target=user, reason=reason)
        db.session.commit()
        return None
    if not user.is_verified:
        raise AddressNotProven(user)
    if needs_rehash(user.password_hash):
        user.set_password(password)
    return user


def prove_address_to_sign_in(user: User, ip: str | None) -> None:
    """Email a verification code to an unverified account whose password was just typed here.

    The password typed here is held for this browser, like a registration's: entering the
    code signs in with it, and drops any other password and every older session.
    """
    pending.keep(user.email, user.password_hash, user.name)
    send_code("verify", user.email, ip)


def sign_in(user: User, *, remember: bool = False, method: str = "password") -> None:
    """Start a fresh server-side session for `user` in this browser (the old one ends)."""
    sessions.end_current()
    session.clear()
    if not remember:
        session["_remember"] = "clear"  # an older remember-me cookie here goes too
    sessions.start(user, method=method, remember=remember)
    login_user(user, remember=remember, fresh=True)
    user.last_login_at = utcnow()
    record("signin", actor=user, target=user, method=method)
    db.session.commit()
    user_id = user.id
    after_this_request(lambda response: throttle.remember_device(response, user_id))


def sign_out() -> None:
    """End this browser's session on the server, and drop its cookies."""
    sessions.end_current()
    db.session.commit()
    logout_user()
    session.clear()
    # Flask-Login deletes the remember-me cookie after the request only if this survives.
    session["_remember"] = "clear"


def finish_code_sign_in(email: str, code: str) -> User:
    """Sign-in by emailed code: the account for `email`, created (verified) if new."""
    email = normalise_email(email)
    result = otp.check_code("signin", email, code)
    if not result.ok:
        raise AccountError("code", result.message)
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = create_user(email, verified=True)
        record("account.registered", actor=user, method="email code")
        db.session.commit()
        queue_email(
            user.email,
            lazy_gettext("Welcome to Pasar"),
            "welcome",
            user=user,
            language=language_for_user(user),
        )
    elif not user.is_active:
        raise AccountError("code", gettext("This account can't sign in. Contact support."))
    elif not user.is_verified:
        claim_address(user)
        record("account.verified", actor=user, method="email code")
        db.session.commit()
    return user


def reset_password(user: User, password: str) -> None:
    """Set a new password from a reset link: every other session ends, the link is spent."""
    check_new_password(password, user.email)
    user.set_password(password)
    user.rotate_session_token()
    if not user.is_verified:
        user.email_verified_at = utcnow()  # following the emailed link proves the inbox
    record("password.reset", actor=user, target=user)
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    """Change the password after checking the current one; signs out other sessions."""
    if user.password_hash and not user.check_password(current or ""):
        raise AccountError("current_password", gettext("Your current password isn't right."))
    check_new_password(new, user.email)
    user.set_password(new)
    user.rotate_session_token(keep=user.session_id)  # this browser's session stays
    record("password.changed", actor=user, target=user)
    db.session.commit()


def update_profile(user: User, name: str, language: str | None = None) -> None:
    """Save the profile's name and the person's own language ("" or None: their browser's)."""
    name = (name or "").strip()
    if len(name) > 120:
        raise AccountError("name", gettext("Use at most 120 characters."))
    if language and clean_language(language) != language:
        raise AccountError("language", gettext("Choose a language from the list."))
    user.name = name
    user.language = language or None
    db.session.commit()


def start_email_change(user: User, new_email: str, password: str, ip: str | None) -> str:
    """Send a code to the new address; the change happens when it is entered."""
    if user.password_hash and not user.check_password(password or ""):
        raise AccountError("password", gettext("Your password isn't right."))
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise AccountError("email", gettext("That is already your email address."))
    send_code("email_change", new_email, ip)
    return new_email


def finish_email_change(user: User, new_email: str, code: str) -> None:
    """Switch to the new (now verified) address; the old one is told."""
    new_email = normalise_email(new_email)
    result = otp.check_code("email_change", new_email, code)
    if not result.ok:
        raise AccountError("code", result.message)
    if db.session.scalar(select(User.id).where(User.email == new_email)) is not None:
        raise AccountError("code", gettext("That email address can't be used. Choose another one."))
    old_email = user.email
    user.email = new_email
    user.email_verified_at = utcnow()
    record("email.changed", actor=user, target=user, old=old_email, new=new_email)
    db.session.commit()
    queue_email(
        old_email,
        lazy_gettext("Your Pasar email address was changed"),
        "email_changed",
        user=user,
        language=language_for_user(user),
        new_email=new_email,
    )


def end_session(user: User, session_id: int) -> bool:
    """Sign one of `user`'s browsers out; False if it isn't theirs or already over."""
    ended = sessions.revoke(user.id, session_id)
    if ended:
        record("signout.session", actor=user, target=user, session_id=session_id)
    db.session.commit()
    return ended


def sign_out_everywhere(user: User) -> None:
    """Rotate the session token: every session and remember-me cookie stops working."""
    user.rotate_session_token()
    record("signout.everywhere", actor=user, target=user)
    db.session.commit()
