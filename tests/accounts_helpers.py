"""Helpers for account tests: read the emails the app sent, pull codes and links out of them."""

import html
import re

from sqlalchemy import select

from app.extensions import db
from app.notifications.models import EmailMessage


def emails_to(app, address: str) -> list[EmailMessage]:
    """Every email recorded for `address`, oldest first (detached)."""
    with app.app_context():
        rows = db.session.scalars(
            select(EmailMessage).where(EmailMessage.to_address == address).order_by(EmailMessage.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def last_email(app, address: str) -> EmailMessage:
    rows = emails_to(app, address)
    assert rows, f"no email was sent to {address}"
    return rows[-1]


def code_in(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, f"no 6-digit code in: {text!r}"
    return match.group(1)


def link_in(text: str) -> str:
    match = re.search(r"https?://\S+/account/reset/\S+", text)
    assert match, f"no reset link in: {text!r}"
    return match.group(0)


def text(response) -> str:
    """The response body with HTML entities decoded, for asserting on messages."""
    return html.unescape(response.get_data(as_text=True))


def flashes(response) -> str:
    """The text of the flash messages on a page."""
    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>(.*?)</', text(response), flags=re.S))


TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # the authenticator app the helpers enrol


def enrol_totp(app, user, secret: str = TOTP_SECRET) -> str:
    """Give `user` a confirmed authenticator app with a known secret; returns the secret."""
    from app.accounts.factor_models import TotpFactor
    from app.checkout.secrets import encrypt
    from app.database import utcnow

    with app.test_request_context():
        db.session.add(
            TotpFactor(user_id=user.id, secret_encrypted=encrypt(secret), confirmed_at=utcnow())
        )
        db.session.commit()
    return secret


def _session_binding(client, user) -> str:
    """The step-up binding of the client's current server-side session for `user`."""
    from app.accounts import sessions
    from app.accounts.stepup import session_binding

    with client.session_transaction() as sess:
        cookie_id = sess.get("_user_id")
    host = getattr(client, "host", "pasar.test")
    with client.application.test_request_context(headers={"Host": host}):
        loaded = sessions.load(cookie_id or "")
        assert loaded is not None and loaded.id == user.id, "sign the client in first"
        return session_binding(loaded)


def mark_recently_confirmed(client, user) -> None:
    """Record in the signed-in client's session that `user` re-authenticated just now (as the
    confirm page does after a right password, code or second factor).

    Tests of pages behind the step-up guard call this after `sign_in_as`; the tests in
    tests/security/test_step_up.py prove the guard asks without it.
    """
    import time

    binding = _session_binding(client, user)
    with client.session_transaction() as sess:
        sess["2fa_at"] = {"u": user.id, "s": binding, "at": int(time.time())}


def sign_in_with_factor(client, user, *, enrol: bool = True) -> None:
    """Sign `user` in as after a real two-factor sign-in: a second factor (enrolled unless told
    not to), a recent factor check in the session and, on the platform host, a console cookie.

    Tests of the console use this instead of `sign_in_as`; the tests in tests/security/ prove
    what happens without it.
    """
    import time

    from app.accounts import console_session
    from tests.conftest import sign_in_as

    app = client.application
    if enrol:
        with app.app_context():
            from app.accounts.factor_models import TotpFactor

            has_one = db.session.scalar(select(TotpFactor.id).where(TotpFactor.user_id == user.id))
        if has_one is None:
            enrol_totp(app, user)

    sign_in_as(client, user)  # a real server-side session row, as a sign-in makes
    mark_recently_confirmed(client, user)
    binding = _session_binding(client, user)
    with client.session_transaction() as sess:
        sess[console_session.NONCE_KEY] = "test-console-nonce"
    with app.test_request_context(headers={"Host": client.host}):
        from flask import g

        from app.accounts.console_session import _serializer

        g.host_kind = "platform"
        value = _serializer().dumps(
            {"u": user.id, "t": binding, "n": "test-console-nonce", "i": int(time.time())}
        )
    client.set_cookie(
        console_session.COOKIE_NAME, value, domain=client.host, path=console_session.COOKIE_PATH
    )
