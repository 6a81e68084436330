"""The session side of two-factor sign-in: the pending sign-in between the password and the
second factor, the time of the last re-authentication, and the step-up guard on sensitive pages.

Both values live in the signed session cookie. The pending sign-in (which comes before any
server-side session) carries a hash of the account's session token, so a sign-out everywhere
voids it. The re-authentication time is bound to the server-side session row it was proven in
(`user_sessions.id`, which `sessions.load` already puts on the user): a sign-out revokes that
row, so the proof can't outlive it, and a cookie copied into another session doesn't carry it.

Re-authenticating means the second factor for accounts that have one; for the others, the
password again (sudo mode), or an emailed code for an account without a password.
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


def session_binding(user) -> str | None:
    """A short hash naming `user`'s current server-side session (its row id and the account's
    session token), or None outside a session."""
    session_id = getattr(user, "session_id", None)
    if session_id is None:
        return None
    raw = f"reauth:{user.id}:{session_id}:{user.session_token}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


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
    # Signing in just proved what the confirm page would ask for (the password or the inbox),
    # as a two-factor sign-in counts as a factor check.
    mark_factor_verified(user)
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


# Recent re-authentication


def mark_factor_verified(user: User) -> None:
    """Record that `user` re-authenticated just now (second factor, or password or emailed code
    without one), in this server-side session."""
    binding = session_binding(user)
    if binding is None:
        return
    session[FACTOR_KEY] = {"u": user.id, "s": binding, "at": int(time.time())}


mark_reauthenticated = mark_factor_verified


def factor_age(user) -> float | None:
    """Seconds since `user` last re-authenticated in this session, or None if they didn't."""
    state = session.get(FACTOR_KEY)
    if not isinstance(state, dict) or user is None or not user.is_authenticated:
        return None
    binding = session_binding(user)
    if binding is None or state.get("u") != user.id or state.get("s") != binding:
        return None
    return max(time.time() - float(state.get("at") or 0), 0.0)


def has_recent_factor(user) -> bool:
    """True if `user` re-authenticated in this session within STEP_UP_MAX_AGE."""
    age = factor_age(user)
    return age is not None and age <= step_up_max_age()


has_recent_reauthentication = has_recent_factor


def _return_path() -> str:
    """Where to come back after confirming: this page for a GET, else the page the form was on."""
    if request.method == "GET" and not is_htmx():
        return request.full_path if request.query_string else request.path
    referrer = request.headers.get("HX-Current-URL") or request.referrer
    return safe_next(referrer, default=request.path if request.method == "GET" else "/")


def ask_for_factor(next_url: str | None = None, *, enrol: bool = False):
    """Send the browser to re-authenticate (or enrol a second factor); htmx gets HX-Redirect."""
    endpoint = "accounts.two_factor_enrol" if enrol else "accounts.two_factor_confirm"
    target = url_for(endpoint, next=next_url or _return_path(), required=1 if enrol else None)
    if request.is_json:
        return make_response({"error": "Confirm it's you first.", "redirect": target}, 401)
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303 if request.method != "GET" else 302)


def requires_recent_factor(view):
    """Guard a sensitive view: every user re-authenticates (second factor, else password, else
    an emailed code) when the last time is older than STEP_UP_MAX_AGE. Put it below the
    permission guard."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user.is_authenticated and not has_recent_factor(current_user):
            return ask_for_factor()
        return view(*args, **kwargs)

    wrapped.step_up = True
    return wrapped
