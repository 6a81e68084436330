"""Account jobs: the password-reset email, whose lookup happens here so requests reveal nothing."""

from flask_babel import lazy_gettext

from app.accounts.service import find_user_by_email
from app.accounts.tokens import RESET_MAX_AGE, make_reset_token
from app.i18n import language_for_user
from app.notifications.service import queue_email
from tenants.urls import platform_url


def send_password_reset(
    email: str, base_url: str | None = None, language: str | None = None
) -> bool:
    """Email a reset link if an enabled account has this address; True if one was sent.

    The link is on the platform's own host, from configuration: never the host the request
    came to, which may be a vendor's custom domain or a forged Host header. `base_url` is
    ignored; it is accepted only so jobs queued by an older release still run. The email
    speaks the person's own language, else `language` (the page they asked from).
    """
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return False
    link = platform_url(f"/account/reset/{make_reset_token(user)}")
    queue_email(
        user.email,
        lazy_gettext("Reset your Pasar password"),
        "password_reset",
        user=user,
        language=language_for_user(user, language),
        link=link,
        ttl_minutes=RESET_MAX_AGE // 60,
    )
    return True
