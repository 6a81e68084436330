"""The session side of two-factor sign-in: the pending sign-in between the password and the
second factor, the time of the last factor check, and the step-up guard on sensitive pages.

Both values live in the signed session cookie and carry a hash of the account's session
token, so a sign-out everywhere (which rotates the token) voids them along with the session.
"""

import hashlib
import time
from functools import wraps

from flask import current_app, make_response, redirect, request, session, url_for
from flask_login import current_user

from app.accounts.models import User
from app.accounts.redirects import safe_next
from app.extensions import db
from app.rendering import is_htmx

PENDING_KEY = "2fa_pending"
FACTOR_KEY = "2fa_at"
PENDING_TTL = 5 * 60  # seconds between the password (or emailed code) and the second factor


def token_hash(user: User) -> str:
    """A short hash of the user's session token, to bind session values to it."""
    return hashlib.sha256(f"2fa:{user.session_token}".encode()).hexdigest()[:24]


def step_up_max_age() -> int:
    """How long a factor check counts as recent (STEP_UP_MAX_AGE seconds, 15 minutes)."""
    return int(current_app.config.get("STEP_UP_MAX_AGE") or 900)


# Pending sign-in


def start_pending(user: User, *, remember: bool, next_url: str, method: str) -> None:
    """Hold a half-finished sign-in: the first factor passed, the second is still to come."""
    session.clear()  # nothing from before the sign-in survives it (fixation)
    session[PENDING_KEY] = {
        "u": user.id,
        "t": token_hash(user),
        "r": bool(remember),
        "n": next_url,
        "m": method,
        "e": int(time.time()) + PENDING_TTL,
    }


def begin_sign_in(user: User, *, remember: bool = False, method: str, next_url: str):
    """Sign `user` in, or, if they have a second factor, hold the sign-in and return the
    redirect to the second step. None means the user is signed in now."""
    from app.accounts import service
    from app.accounts.twofactor import has_second_factor

    if has_second_factor(user):
        start_pending(user, remember=remember, next_url=next_url, method=method)
        return redirect(url_for("accounts.two_factor"), code=303)
    service.sign_in(user, remember=remember, method=method)
    return None


def pending() -> tuple[User, dict] | None:
    """The user of a live pending sign-in and its state, or None (expired, or token rotated)."""
    state = session.get(PENDING_KEY)
    if not isinstance(state, dict) or state.get("e", 0) < time.time():
        return None
    user = db.session.get(User, state.get("u") or 0)
    if user is None or not user.is_active or token_hash(user) != state.get("t"):
        return None
    return user, state


def clear_pending() -> None:
    """End the pending sign-in."""
    session.pop(PENDING_KEY, None)


# Recent factor


def mark_factor_verified(user: User) -> None:
    """Record that `user` passed a second-factor check just now, in this session."""
    session[FACTOR_KEY] = {"u": user.id, "t": token_hash(user), "at": int(time.time())}


def factor_age(user) -> float | None:
    """Seconds since this session's last factor check for `user`, or None if there was none."""
    state = session.get(FACTOR_KEY)
    if not isinstance(state, dict) or user is None or not user.is_authenticated:
        return None
    if state.get("u") != user.id or state.get("t") != token_hash(user):
        return None
    return max(time.time() - float(state.get("at") or 0), 0.0)


def has_recent_factor(user) -> bool:
    """True if the session checked `user`'s second factor within STEP_UP_MAX_AGE."""
    age = factor_age(user)
    return age is not None and age <= step_up_max_age()


def _return_path() -> str:
    """Where to come back after confirming: this page for a GET, else the page the form was on."""
    if request.method == "GET" and not is_htmx():
        return request.full_path if request.query_string else request.path
    referrer = request.headers.get("HX-Current-URL") or request.referrer
    return safe_next(referrer, default=request.path if request.method == "GET" else "/")


def ask_for_factor(next_url: str | None = None, *, enrol: bool = False):
    """Send the browser to confirm (or enrol) a second factor; htmx gets HX-Redirect."""
    endpoint = "accounts.two_factor_enrol" if enrol else "accounts.two_factor_confirm"
    target = url_for(endpoint, next=next_url or _return_path(), required=1 if enrol else None)
    if request.is_json:
        return make_response(
            {"error": "Confirm your second factor first.", "redirect": target}, 401
        )
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303 if request.method != "GET" else 302)


def requires_recent_factor(view):
    """Guard a sensitive view: users with a second factor confirm it again when their last
    check is older than STEP_UP_MAX_AGE. Put it below the permission guard."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        from app.accounts.twofactor import has_second_factor

        if (
            current_user.is_authenticated
            and has_second_factor(current_user)
            and not has_recent_factor(current_user)
        ):
            return ask_for_factor()
        return view(*args, **kwargs)

    wrapped.step_up = True
    return wrapped
