"""CSRF tokens bound to the host they were issued on.

The session is shared by the platform and every store subdomain, and so is Flask-WTF's raw
token in it. What binds a token to one host is the key that signs it: each host gets its own,
derived from SECRET_KEY and the host name, so a token read from a page of `acme.<platform>`
fails the signature check on the platform host (the console) and on every other store.
Flask-WTF's CSRFProtect still does the checking and raises its CSRFError (the friendly
"this form has expired" page); only the key changes.
"""

import hashlib
import hmac

from flask import Flask, current_app, request

from app.extensions import csrf


def host_key(secret_key: str | bytes, host: str) -> bytes:
    """The CSRF signing key for `host` (lower-case, port included) under `secret_key`."""
    if isinstance(secret_key, str):
        secret_key = secret_key.encode()
    return hmac.new(secret_key, b"csrf-token-host:" + host.encode(), hashlib.sha256).digest()


class HostBoundKey:
    """The signing key of the current request's host, as itsdangerous' list of keys.

    Flask-WTF hands WTF_CSRF_SECRET_KEY to itsdangerous, which accepts an iterable of keys
    (for key rotation); yielding just the current host's key makes every token generated or
    checked in this request belong to this host, in templates, forms and CSRFProtect alike.
    """

    def __iter__(self):
        yield host_key(current_app.secret_key, request.host.lower())

    def __repr__(self) -> str:
        return "HostBoundKey()"


def init_app(app: Flask) -> None:
    """Sign CSRF tokens per host and let `protect` (run after the Origin check) do the check."""
    app.config["WTF_CSRF_SECRET_KEY"] = HostBoundKey()
    # Flask-WTF's own hook would run before the Origin check; `protect` runs in its place.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False


def protect():
    """Flask-WTF's check of the token on unsafe requests (views it exempts stay exempt)."""
    if current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect(apply_exemptions=True)
