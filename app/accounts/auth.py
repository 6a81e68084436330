"""Flask-Login wiring: loading the signed-in user from the session."""

from app.accounts.models import User
from app.extensions import db, login_manager

login_manager.login_view = None


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load `id:session_token`; a rotated token or a disabled user ends the session."""
    raw_id, _, token = (user_id or "").partition(":")
    if not raw_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(raw_id))
    if user is None or user.session_token != token or not user.is_active:
        return None
    return user
