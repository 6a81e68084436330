"""Two-factor rules: enrolling and checking TOTP, recovery codes, attempt limits, notices.

Passkeys have their own module (app.accounts.passkeys); the session side (pending sign-ins,
step-up freshness) lives in app.accounts.stepup.
"""

import contextlib
import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from flask import g
from flask_babel import gettext, lazy_gettext, lazy_ngettext
from sqlalchemy import delete, func, select, update

from app.accounts.factor_models import Passkey, RecoveryCode, TotpFactor
from app.accounts.models import User
from app.audit.service import record
from app.checkout.secrets import decrypt, encrypt
from app.database import utcnow
from app.extensions import db, redis_client
from app.field_errors import FieldError
from app.i18n import language_for_user
from app.notifications.service import queue_email

ISSUER = "Pasar"
RECOVERY_CODES = 10
MAX_ATTEMPTS = 10  # wrong second-factor answers per account before a pause
ATTEMPT_WINDOW = 15 * 60
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i look-alikes


class TwoFactorError(FieldError):
    """A second-factor operation was refused; the message is safe to show."""


class TooManyAttempts(TwoFactorError):
    """Too many wrong answers for this account lately; the step is paused."""


def confirmed_totp(user: User) -> TotpFactor | None:
    """The user's confirmed authenticator app, if any."""
    return db.session.scalar(
        select(TotpFactor).where(
            TotpFactor.user_id == user.id, TotpFactor.confirmed_at.is_not(None)
        )
    )


def passkeys_of(user: User) -> list[Passkey]:
    """The user's passkeys, oldest first."""
    return list(
        db.session.scalars(
            select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)
        ).all()
    )


def has_second_factor(user) -> bool:
    """True if the account has a confirmed authenticator app or a passkey (cached per request)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    cache = g.setdefault("_has_second_factor", {})
    if user.id not in cache:
        cache[user.id] = (
            db.session.scalar(
                select(func.count())
                .select_from(TotpFactor)
                .where(TotpFactor.user_id == user.id, TotpFactor.confirmed_at.is_not(None))
            )
            + db.session.scalar(
                select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id)
            )
        ) > 0
    return cache[user.id]


def forget_cached_state() -> None:
    """Drop the per-request cache after a factor was added or removed."""
    g.pop("_has_second_factor", None)


def unused_recovery_codes(user: User) -> int:
    """How many recovery codes the account has left."""
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def _notify(user: User, action: str, change: str, **details) -> None:
    """Audit a change of the account's second factors and tell its owner by email."""
    record(action, actor=user, target=user, **details)
    db.session.commit()
    forget_cached_state()
    queue_email(
        user.email,
        lazy_gettext("Your Pasar sign-in security changed"),
        "security_changed",
        user=user,
        language=language_for_user(user),
        change=change,
    )


# TOTP


def start_totp_enrolment(user: User) -> str:
    """A fresh, unconfirmed secret for the user's authenticator app (replacing an unconfirmed
    one); an account has one app at a time."""
    secret = pyotp.random_base32()
    pending = db.session.scalar(
        select(TotpFactor).where(TotpFactor.user_id == user.id, TotpFactor.confirmed_at.is_(None))
    )
    if confirmed_totp(user) is not None:
        raise TwoFactorError(
            None, gettext("Remove your current authenticator app first, then add the new one.")
        )
    if pending is None:
        pending = TotpFactor(user_id=user.id)
        db.session.add(pending)
    pending.secret_encrypted = encrypt(secret)
    pending.last_used_step = None
    db.session.commit()
    return secret


def pending_totp_secret(user: User) -> str | None:
    """The secret being enrolled (scanned, not yet confirmed), if any."""
    row = db.session.scalar(
        select(TotpFactor).where(TotpFactor.user_id == user.id, TotpFactor.confirmed_at.is_(None))
    )
    return decrypt(row.secret_encrypted) if row is not None else None


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_data_uri(text: str) -> str:
    """An SVG QR code of `text` as a data: URI (the CSP allows data: images, no inline SVG)."""
    return segno.make(text, error="m").svg_data_uri(scale=5, border=2, dark="#111827")


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (current, or one either side for clock drift) whose code is `code`."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(int(now if now is not None else time.time()))
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _claim_step(factor: TotpFactor, step: int) -> bool:
    """Record `step` as used unless it (or a later one) already was: one conditional UPDATE,
    so two requests with the same code can't both win."""
    result = db.session.execute(
        update(TotpFactor)
        .where(
            TotpFactor.id == factor.id,
            (TotpFactor.last_used_step.is_(None)) | (TotpFactor.last_used_step < step),
        )
        .values(last_used_step=step)
    )
    db.session.commit()
    return result.rowcount == 1


def confirm_totp(user: User, code: str) -> list[str] | None:
    """Confirm the app being enrolled with its first code; returns fresh recovery codes when
    this is the account's first second factor (None otherwise)."""
    row = db.session.scalar(
        select(TotpFactor).where(TotpFactor.user_id == user.id, TotpFactor.confirmed_at.is_(None))
    )
    secret = decrypt(row.secret_encrypted) if row is not None else None
    if secret is None:
        raise TwoFactorError("code", gettext("Start again: scan the new QR code first."))
    step = _matching_step(secret, code)
    if step is None:
        raise TwoFactorError(
            "code", gettext("That code isn't right. Check your app's clock and try again.")
        )
    first = not has_second_factor(user)
    row.confirmed_at = utcnow()
    row.last_used_step = step
    db.session.commit()
    codes = regenerate_recovery_codes(user, notify=False) if first else None
    _notify(
        user, "2fa.totp_enabled", lazy_gettext("An authenticator app was added to your account.")
    )
    return codes


def verify_totp(user: User, code: str) -> bool:
    """True if `code` is the account's current TOTP code and wasn't used before."""
    factor = confirmed_totp(user)
    if factor is None:
        return False
    secret = decrypt(factor.secret_encrypted)
    step = _matching_step(secret, code) if secret else None
    return step is not None and _claim_step(factor, step)


def remove_totp(user: User) -> None:
    """Remove the authenticator app."""
    db.session.execute(delete(TotpFactor).where(TotpFactor.user_id == user.id))
    db.session.commit()
    _notify(
        user,
        "2fa.totp_removed",
        lazy_gettext("The authenticator app was removed from your account."),
    )


# Recovery codes


def _recovery_hash(code: str) -> str:
    normalised = "".join(ch for ch in (code or "").lower() if ch.isalnum())
    return hashlib.sha256(f"pasar-recovery:{normalised}".encode()).hexdigest()


def _new_recovery_code() -> str:
    chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


def regenerate_recovery_codes(user: User, *, notify: bool = True) -> list[str]:
    """Ten new single-use codes (the old ones stop working); shown once, stored hashed."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(c)) for c in codes)
    db.session.commit()
    if notify:
        _notify(
            user, "2fa.recovery_codes_regenerated", lazy_gettext("New recovery codes were created.")
        )
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one recovery code: True once per code (a conditional UPDATE decides races)."""
    digest = _recovery_hash(code)
    row_id = db.session.scalar(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == digest,
            RecoveryCode.used_at.is_(None),
        )
    )
    if row_id is None:
        return False
    result = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == row_id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    db.session.commit()
    if result.rowcount != 1:
        return False
    left = unused_recovery_codes(user)
    _notify(
        user,
        "2fa.recovery_code_used",
        lazy_ngettext(
            "A recovery code was used to sign in. %(num)d code left.",
            "A recovery code was used to sign in. %(num)d codes left.",
            left,
        ),
        left=left,
    )
    return True


def turn_off(user: User) -> None:
    """Remove every second factor and recovery code (platform admins must keep one)."""
    if user.is_superuser:
        raise TwoFactorError(None, gettext("Platform admins must keep a second factor."))
    for model in (TotpFactor, Passkey, RecoveryCode):
        db.session.execute(delete(model).where(model.user_id == user.id))
    db.session.commit()
    _notify(
        user, "2fa.disabled", lazy_gettext("Two-factor sign-in was turned off for your account.")
    )


def reset_by_admin(user: User, *, admin: User, reason: str) -> None:
    """A platform admin removes a user's second factors, because they lost them: every factor
    and recovery code goes, every session ends, and the user is told by email."""
    if user.id == admin.id:
        raise TwoFactorError(None, gettext("You can't reset your own two-factor sign-in."))
    if not (reason or "").strip():
        raise TwoFactorError(None, gettext("Say why (how the user proved who they are)."))
    if not has_second_factor(user) and not unused_recovery_codes(user):
        raise TwoFactorError(
            None, gettext("%(email)s doesn't use two-factor sign-in.", email=user.email)
        )
    for model in (TotpFactor, Passkey, RecoveryCode):
        db.session.execute(delete(model).where(model.user_id == user.id))
    user.rotate_session_token()  # whoever holds the lost device's sessions is signed out too
    record("2fa.reset", actor=admin, target=user, reason=reason.strip())
    db.session.commit()
    forget_cached_state()
    queue_email(
        user.email,
        "Your Pasar sign-in security changed",
        "security_changed",
        user=user,
        change=(
            "A Pasar administrator removed your second factors (authenticator app, passkeys "
            "and recovery codes) at your request, and signed you out everywhere. Sign in with "
            "your password or an emailed code, then set up two-factor sign-in again."
        ),
    )


# Attempts


def count_attempt(user_id: int) -> None:
    """Count one second-factor answer for the account before it is checked (atomically, in
    Redis, so parallel guesses can't slip past the cap); TooManyAttempts once over it."""
    import redis

    key = f"2fa:attempts:{user_id}"
    try:
        with redis_client.get().pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, ATTEMPT_WINDOW, nx=True)
            attempts, _ = pipe.execute()
    except redis.RedisError:
        # Without the counter there is no cap: refuse rather than allow unlimited guessing.
        raise TwoFactorError(
            "code", gettext("We can't check codes right now. Please try again in a minute.")
        ) from None
    if attempts > MAX_ATTEMPTS:
        raise TooManyAttempts("code", "Too many wrong answers. Wait 15 minutes, then try again.")


def clear_attempts(user_id: int) -> None:
    """Forget the counted attempts after a right answer."""
    import redis

    with contextlib.suppress(redis.RedisError):  # the count expires by itself
        redis_client.get().delete(f"2fa:attempts:{user_id}")


def check_code(user: User, code: str) -> str | None:
    """Check a typed answer (a TOTP code or a recovery code): the method that matched, or None.

    The attempt is counted first; a right answer clears the count.
    """
    count_attempt(user.id)
    cleaned = (code or "").strip().replace(" ", "")
    looks_like_totp = len(cleaned) == 6 and cleaned.isdigit()
    if looks_like_totp and verify_totp(user, cleaned):
        method = "totp"
    elif not looks_like_totp and cleaned and use_recovery_code(user, cleaned):
        method = "recovery code"
    else:
        return None
    clear_attempts(user.id)
    return method


def set_store_requirement(store, required: bool, *, actor: User) -> bool:
    """Require (or stop requiring) a second factor of the store's members; True if changed.

    Only the owner decides; turning it on needs a second factor of their own first, so the
    owner isn't the first one sent away from their own dashboard.
    """
    from app.accounts.permissions import role_in_store

    if role_in_store(actor, store) != "owner" and not actor.is_superuser:
        raise TwoFactorError(None, gettext("Only the store's owner can change this."))
    if required and not has_second_factor(actor):
        raise TwoFactorError(None, gettext("Set up two-factor sign-in for yourself first."))
    if bool(store.require_two_factor) == required:
        return False
    store.require_two_factor = required
    record(
        "store.two_factor_required" if required else "store.two_factor_optional",
        actor=actor,
        store=store,
        target=store,
    )
    db.session.commit()
    return True
