"""Flask-Login wiring: loading the signed-in user from the session."""

from flask import flash, make_response, redirect, request, url_for

from app.accounts.models import User
from app.extensions import db, login_manager
from app.rendering import is_htmx

login_manager.login_view = "accounts.signin"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"


@login_manager.unauthorized_handler
def unauthorized():
    """Send anonymous users to sign in on this host; htmx gets told to navigate there."""
    target = url_for("accounts.signin", next=request.full_path)
    if is_htmx():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(target)


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
