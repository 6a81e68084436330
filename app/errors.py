"""Error pages for every HTTP error, as full pages or as htmx fragments."""

import logging

from flask import Flask, make_response, render_template
from flask.globals import request_ctx
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db
from app.rendering import is_htmx

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    413: "Upload too large",
    414: "Address too long",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Unavailable",
}

MESSAGES = {
    400: "The request could not be understood. Check what you entered and try again.",
    403: "You don't have permission to do that.",
    404: "We couldn't find that page. It may have moved or never existed.",
    405: "That action isn't possible at this address.",
    413: "That upload is larger than we accept. Try a smaller file.",
    414: "That address is too long.",
    429: "You've made too many requests. Please wait a moment and try again.",
    500: "An unexpected error happened on our side. It has been logged; please try again.",
    503: "This service is unavailable at the moment. Please try again later.",
}

CSRF_MESSAGE = (
    "This form has expired or was sent without its security token. "
    "Reload the page and submit it again."
)


def _message_for(exc: HTTPException) -> str:
    if isinstance(exc, CSRFError):
        return CSRF_MESSAGE
    if isinstance(exc, RateLimitExceeded):
        return f"You've made too many requests ({exc.description}). Please wait and try again."
    description = exc.description or ""
    # Werkzeug's stock descriptions are written for developers; ours are for people.
    default = getattr(type(exc), "description", None)
    if description and description != default:
        return description
    return MESSAGES.get(exc.code or 500, description)


def render_error(exc: HTTPException, *, bare: bool = False):
    """The error page (or an htmx fragment) for `exc`, with its status and headers."""
    code = exc.code or 500
    # Without a URL adapter (a Host Werkzeug rejects) nothing can call url_for: keep it bare.
    bare = bare or getattr(request_ctx._get_current_object(), "url_adapter", None) is None
    context = {
        "code": code,
        "title": TITLES.get(code, exc.name),
        "message": _message_for(exc),
        "retry_after": _retry_after(exc),
        "bare": bare,
    }
    if is_htmx():
        body = render_template("errors/_message.html", **context)
        response = make_response(body, code)
        # Errors land in the page's message area, whatever element the request targeted.
        response.headers["HX-Retarget"] = "#messages"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        template = getattr(exc, "template", "errors/error.html")
        response = make_response(render_template(template, **context), code)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    if context["retry_after"]:
        response.headers["Retry-After"] = str(context["retry_after"])
    response.vary.add("HX-Request")
    return response


def _retry_after(exc: HTTPException) -> int | None:
    if not isinstance(exc, RateLimitExceeded):
        seconds = getattr(exc, "retry_after", None)
        return seconds if isinstance(seconds, int) else None
    import time

    from app.extensions import limiter

    limit = limiter.current_limit
    if limit is None:
        return None
    return max(1, int(limit.reset_at - time.time()))


def handle_http_error(exc: HTTPException):
    """Any HTTP error raised by a view, a hook or Werkzeug."""
    return render_error(exc)


def handle_unexpected_error(exc: InternalServerError):
    """An unhandled exception: log it, roll back, show a page that needs no database."""
    original = getattr(exc, "original_exception", None) or exc
    log.error("unhandled error", exc_info=original)
    try:
        db.session.rollback()
    except Exception:
        log.exception("rollback after an unhandled error failed")
    return render_error(InternalServerError(), bare=True)


def handle_otp_unavailable(exc):
    """Codes live in Redis; while it is away, say so instead of failing with a 500."""
    from werkzeug.exceptions import ServiceUnavailable

    log.warning("one-time codes unavailable: %s", exc.__cause__)
    return render_error(ServiceUnavailable(description=exc.message))


def register(app: Flask) -> None:
    """Install the handlers on the app."""
    from app import database_outage
    from app.accounts.otp import OtpUnavailable

    app.register_error_handler(OtpUnavailable, handle_otp_unavailable)
    database_outage.init_app(app)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(InternalServerError, handle_unexpected_error)
