"""Server-side sign-in sessions: one `user_sessions` row per signed-in browser.

The session cookie and the remember-me cookie carry `"<user id>:<secret>"`; the row keeps a
hash of the secret. Signing out revokes the row, so every copy of either cookie dies with it.
"""

import hashlib
import secrets
from datetime import timedelta

from flask import g, request
from flask_login import current_user
from sqlalchemy import delete, or_, select, update

from app.accounts.models import User, UserSession
from app.database import utcnow
from app.extensions import db

SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often per session
IDLE_LIMIT = timedelta(days=30)  # a session unused for this long is over
# Ended sessions are kept this long: their addresses say where the owner signs in from, which
# the sign-in throttle trusts (app.accounts.throttle.is_known_source).
KEEP_ENDED = timedelta(days=90)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start(user: User, *, method: str, remember: bool) -> UserSession:
    """Open a session for `user` in this browser; `user.get_id()` then carries its secret."""
    secret = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user.id,
        token_hash=_hash(secret),
        method=(method or "")[:32],
        remember=bool(remember),
        ip=_client_ip(),
        user_agent=_user_agent(),
    )
    db.session.add(row)
    db.session.flush()
    user.session_secret, user.session_id = secret, row.id
    return row


def load(user_id: str) -> User | None:
    """The user a cookie's `id:secret` names, if its session is live and the account enabled."""
    raw_id, _, secret = (user_id or "").partition(":")
    if not raw_id.isdigit() or not secret:
        return None
    found = db.session.execute(
        select(User, UserSession)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == _hash(secret))
    ).first()
    if found is None:
        return None
    user, row = found
    now = utcnow()
    if (
        user.id != int(raw_id)
        or row.revoked_at is not None
        or not user.is_active
        or now - row.last_seen_at > IDLE_LIMIT
    ):
        return None
    user.session_secret, user.session_id = secret, row.id
    if now - row.last_seen_at >= SEEN_EVERY:
        g.pasar_session_to_touch = row.id
    return user


def touch() -> None:
    """Record that the current session was used (at most once a minute; before any view runs)."""
    endpoint = request.endpoint or ""
    if endpoint == "static" or endpoint.startswith(("health.", "media.", "api.", "api_docs.")):
        return  # probes and files answer without the database; the API never uses sessions
    current_user._get_current_object()  # runs the user loader now, while nothing is pending
    session_id = g.pop("pasar_session_to_touch", None)
    if session_id is None:
        return
    db.session.execute(
        update(UserSession)
        .where(UserSession.id == session_id)
        .values(last_seen_at=utcnow(), ip=_client_ip())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def end_current() -> None:
    """Revoke this browser's session, if it has one (not committed)."""
    if not current_user.is_authenticated:
        return
    session_id = getattr(current_user, "session_id", None)
    if session_id is not None:
        revoke(current_user.id, session_id)


def revoke(user_id: int, session_id: int) -> bool:
    """End one of `user_id`'s sessions (not committed); False if there was no such live one."""
    ended = db.session.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return ended.rowcount == 1


def live_sessions(user: User) -> list[UserSession]:
    """The account's sessions that still work, most recently used first."""
    return db.session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
            UserSession.last_seen_at > utcnow() - IDLE_LIMIT,
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    ).all()


def prune() -> int:
    """Delete sessions that ended (or went idle) long ago; returns how many."""
    cutoff = utcnow() - KEEP_ENDED
    pruned = db.session.execute(
        delete(UserSession)
        .where(
            or_(
                UserSession.revoked_at < cutoff,
                UserSession.last_seen_at < cutoff - IDLE_LIMIT,
            )
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return pruned.rowcount


def _client_ip() -> str | None:
    return (request.remote_addr or "")[:45] or None


def _user_agent() -> str:
    return (request.user_agent.string or "")[:255]


def describe_agent(user_agent: str) -> str:
    """A person's name for a browser: "Firefox on Android"; the raw string if unknown."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if token in ua
        ),
        None,
    )
    system = next(
        (
            name
            for token, name in (
                ("Android", "Android"),
                ("iPhone", "iOS"),
                ("iPad", "iOS"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("Linux", "Linux"),
            )
            if token in ua
        ),
        None,
    )
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (ua[:60] or "Unknown browser")
