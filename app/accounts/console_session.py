"""The console's own session cookie: host-only on the platform host, sent only to /console.

The platform-wide session cookie is scoped to the platform domain, so every store subdomain
(a vendor's page) makes the browser send it. The console therefore also wants this cookie,
which only the platform host ever receives: issued when a platform admin passes a second-factor
check there, signed with its own salt, bound to the admin's id, their server-side session
(its row and the account's session token) and a nonce kept in the session (so it dies with a
sign-out), lasting STEP_UP_MAX_AGE idle and CONSOLE_SESSION_MAX_AGE at most.
"""

import secrets
import time

from flask import current_app, g, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.accounts.stepup import session_binding, step_up_max_age

COOKIE_NAME = "pasar_console"
COOKIE_PATH = "/console"
NONCE_KEY = "console_nonce"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="pasar-console-session")


def _absolute_max_age() -> int:
    return int(current_app.config.get("CONSOLE_SESSION_MAX_AGE") or 8 * 3600)


def _on_platform_host() -> bool:
    return g.get("host_kind") == "platform"


def issue(response, user, *, issued_at: int | None = None) -> None:
    """Set the console cookie for `user` on `response` (platform host only, never a Domain)."""
    if not _on_platform_host() or not user.is_superuser:
        return
    nonce = session.get(NONCE_KEY)
    if not nonce:
        nonce = session[NONCE_KEY] = secrets.token_urlsafe(16)
    payload = {
        "u": user.id,
        "t": session_binding(user),
        "n": nonce,
        "i": issued_at or int(time.time()),
    }
    response.set_cookie(
        COOKIE_NAME,
        _serializer().dumps(payload),
        max_age=step_up_max_age(),
        path=COOKIE_PATH,
        domain=None,  # host-only: a store subdomain never receives it
        secure=request.scheme == "https" or current_app.config["PREFERRED_URL_SCHEME"] == "https",
        httponly=True,
        samesite="Strict",
    )


def current_payload(user) -> dict | None:
    """The console cookie's contents if it is valid for `user` in this session, else None."""
    raw = request.cookies.get(COOKIE_NAME)
    if not raw or not _on_platform_host() or user is None or not user.is_authenticated:
        return None
    try:
        payload = _serializer().loads(raw, max_age=step_up_max_age())
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    nonce = session.get(NONCE_KEY)
    binding = session_binding(user)
    if (
        binding is None
        or payload.get("u") != user.id
        or payload.get("t") != binding
        or not nonce
        or not secrets.compare_digest(str(payload.get("n")), nonce)
        or time.time() - float(payload.get("i") or 0) > _absolute_max_age()
    ):
        return None
    return payload


def is_valid(user) -> bool:
    """True if this request carries a live console cookie for `user`."""
    return current_payload(user) is not None


def refresh(response, user) -> None:
    """Slide the idle expiry forward on a console page (the absolute cap stays)."""
    payload = current_payload(user)
    if payload is not None:
        issue(response, user, issued_at=int(payload["i"]))


def forget(response) -> None:
    """Delete the console cookie (sign-out)."""
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, domain=None)


def guard():
    """For a signed-in platform admin on a console route: None if they may go on; else the
    redirect to enrol a second factor (none yet) or to confirm it (no live console cookie)."""
    from flask_login import current_user

    from app.accounts.stepup import ask_for_factor
    from app.accounts.twofactor import has_second_factor

    if not has_second_factor(current_user):
        return ask_for_factor(enrol=True)
    if not is_valid(current_user):
        return ask_for_factor()
    return None


def after_console_request(response):
    """Slide a live console cookie's idle expiry; drop one that no longer matches the session."""
    from flask_login import current_user

    if COOKIE_NAME not in request.cookies or g.get("host_kind") is None:
        # No host resolved: the request was refused before routing (a forged cross-origin
        # post, say); it must not cost the admin their console session.
        return response
    if current_user.is_authenticated and is_valid(current_user):
        if response.status_code < 400:
            refresh(response, current_user)
    else:
        forget(response)
    return response
