"""Account jobs: the password-reset email, whose lookup happens here so requests reveal nothing."""

from app.accounts.service import find_user_by_email
from app.accounts.tokens import RESET_MAX_AGE, make_reset_token
from app.notifications.service import queue_email


def send_password_reset(email: str, base_url: str) -> bool:
    """Email a reset link if an enabled account has this address; True if one was sent."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return False
    link = f"{base_url.rstrip('/')}/account/reset/{make_reset_token(user)}"
    queue_email(
        user.email,
        "Reset your Pasar password",
        "password_reset",
        user=user,
        link=link,
        ttl_minutes=RESET_MAX_AGE // 60,
    )
    return True
