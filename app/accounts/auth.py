"""Flask-Login wiring: loading the signed-in user from the session."""

from flask import flash, make_response, redirect, url_for

from app.accounts import sessions
from app.accounts.models import User
from app.accounts.redirects import current_path
from app.extensions import login_manager
from app.rendering import is_htmx

login_manager.login_view = "accounts.signin"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"


@login_manager.unauthorized_handler
def unauthorized():
    """Send anonymous users to sign in on this host; htmx gets told to navigate there."""
    target = url_for("accounts.signin", next=current_path())
    if is_htmx():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(target)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load `id:secret`; a revoked or idle session, or a disabled user, is signed out."""
    return sessions.load(user_id)
