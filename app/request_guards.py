"""Checks every request passes before any view runs: where an unsafe request comes from, and
whether its address and form carry control characters.

Store subdomains are the same *site* as the platform, so SameSite cookies go along with a
request that one store's page makes to the console or to another store. The browser's `Origin`
header (or, without it, `Referer`) says which page sent it: an unsafe request is refused unless
that page is on the scheme and host it is sent to.
"""

import logging
import re
from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.exceptions import BadRequest, Forbidden

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Server-to-server endpoints: payment providers post webhooks with no browser, no Origin and
# no session; they are verified by their signatures instead (app/payments/webhooks.py). The
# vendor API is authenticated by its bearer key alone, which no other site can make a browser send.
SERVER_TO_SERVER_BLUEPRINTS = frozenset({"payments", "api"})

_DEFAULT_PORTS = {"http": 80, "https": 443}

# C0 control characters except tab, LF and CR (text areas send CR LF): PostgreSQL can't store
# NUL in text, and none of the others belongs in anything a person types.
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# A path never has any control character, line breaks and tabs included.
_CONTROL_IN_PATH = re.compile(r"[\x00-\x1f]")

FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class CrossOriginRequest(Forbidden):
    """An unsafe request sent by a page on another host (or an opaque `null` origin)."""

    message = (
        "This form was sent from a page on another site, so we didn't act on it. "
        "Go back, reload the page you were on and try again."
    )

    def __init__(self):
        # An instance description: the error page shows it instead of the generic text.
        super().__init__(description=self.message)


class UnreadableAddress(BadRequest):
    """Control characters (NUL and the like) in the path or the query string."""

    message = (
        "That address has characters we can't read (control characters such as NUL). "
        "Check the link or what you typed in the search or filter boxes, and try again."
    )

    def __init__(self):
        super().__init__(description=self.message)


class UnreadableForm(BadRequest):
    """Control characters in a submitted form's fields."""

    message = (
        "The form has characters we can't read (control characters such as NUL). "
        "Remove them from what you entered and send it again."
    )

    def __init__(self):
        super().__init__(description=self.message)


def _origin(url: str | None) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL or origin, or None if it has none."""
    if not url or url == "null":
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or _DEFAULT_PORTS[scheme]


def request_origins() -> set[tuple[str, str, int]]:
    """The origins this request may come from: its own host, on the scheme it arrived with.

    The configured PREFERRED_URL_SCHEME counts too, so an HTTPS site behind a TLS-terminating
    proxy that isn't listed in TRUSTED_PROXIES (the app then sees plain HTTP) keeps working.
    """
    schemes = {request.scheme, current_app.config["PREFERRED_URL_SCHEME"]}
    found = (_origin(f"{scheme}://{request.host}") for scheme in schemes)
    return {origin for origin in found if origin is not None}


def sender_of_request() -> str | None:
    """The page that sent this request, as the browser states it: Origin, else Referer."""
    return request.headers.get("Origin") or request.headers.get("Referer") or None


def is_same_origin(sender: str, targets: set[tuple[str, str, int]]) -> bool:
    """True when `sender` (an Origin or Referer value) is exactly one of `targets`."""
    return _origin(sender) in targets


def check_origin():
    """Refuse an unsafe request whose Origin (or Referer) is not the host it is sent to.

    A request with neither header passes to the CSRF check: every current browser sends
    Origin with a POST, so a page can't make the browser leave both out, and the
    non-browser clients that do (scripts, tests, webhooks) carry no victim's cookies.
    """
    if request.method not in UNSAFE_METHODS or request.blueprint in SERVER_TO_SERVER_BLUEPRINTS:
        return None
    sender = sender_of_request()
    if sender is None:
        return None
    if not is_same_origin(sender, request_origins()):
        log.warning(
            "refused %s %s on %s sent from %r", request.method, request.path, request.host, sender
        )
        raise CrossOriginRequest()
    return None


def has_control_characters(value: str, *, in_path: bool = False) -> bool:
    """True if `value` has a control character (tab, LF and CR are allowed outside paths)."""
    pattern = _CONTROL_IN_PATH if in_path else _CONTROL_IN_TEXT
    return pattern.search(value) is not None


def _any_control(pairs) -> bool:
    return any(has_control_characters(k) or has_control_characters(v) for k, v in pairs)


def reject_control_characters():
    """400 for control characters in the path, the query string or a submitted form.

    Refused rather than stripped: silently changing what was sent would search for, or save,
    something other than what the person typed.
    """
    if has_control_characters(request.path, in_path=True) or _any_control(
        request.args.items(multi=True)
    ):
        raise UnreadableAddress()
    if (
        request.method in UNSAFE_METHODS
        and request.blueprint not in SERVER_TO_SERVER_BLUEPRINTS
        and request.mimetype in FORM_MIMETYPES
    ):
        names = ((key, file.filename or "") for key, file in request.files.items(multi=True))
        if _any_control(request.form.items(multi=True)) or _any_control(names):
            raise UnreadableForm()
    return None
