"""Error pages for every HTTP error, as full pages or as htmx fragments."""

import logging
from datetime import timedelta

from babel.dates import format_timedelta
from flask import Flask, g, request
from flask.globals import request_ctx
from flask_babel import gettext, lazy_gettext
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db
from app.i18n import format_locale
from app.rendering import is_htmx, render_page_or_partial

log = logging.getLogger(__name__)

TITLES = {
    400: lazy_gettext("Bad request"),
    401: lazy_gettext("Please sign in"),
    403: lazy_gettext("Not allowed"),
    404: lazy_gettext("Page not found"),
    405: lazy_gettext("Method not allowed"),
    413: lazy_gettext("Upload too large"),
    414: lazy_gettext("Address too long"),
    429: lazy_gettext("Too many requests"),
    500: lazy_gettext("Something went wrong"),
    503: lazy_gettext("Unavailable"),
}

MESSAGES = {
    400: lazy_gettext("The request could not be understood. Check what you entered and try again."),
    403: lazy_gettext("You don't have permission to do that."),
    404: lazy_gettext("We couldn't find that page. It may have moved or never existed."),
    405: lazy_gettext("That action isn't possible at this address."),
    413: lazy_gettext("That upload is larger than we accept. Try a smaller file."),
    414: lazy_gettext("That address is too long."),
    429: lazy_gettext("You've made too many requests. Please wait a moment and try again."),
    500: lazy_gettext(
        "An unexpected error happened on our side. It has been logged; please try again."
    ),
    503: lazy_gettext("This service is unavailable at the moment. Please try again later."),
}

CSRF_MESSAGE = lazy_gettext(
    "This form has expired or was sent without its security token. "
    "Reload the page and submit it again."
)


def _message_for(exc: HTTPException) -> str:
    if isinstance(exc, CSRFError):
        return str(CSRF_MESSAGE)
    if isinstance(exc, RateLimitExceeded):
        return gettext(
            "You've made too many requests (%(limit)s). Please wait and try again.",
            limit=exc.description,
        )
    description = exc.description or ""
    # Werkzeug's stock descriptions are written for developers; ours are for people.
    default = getattr(type(exc), "description", None)
    if description and description != default:
        return description
    message = MESSAGES.get(exc.code or 500)
    return str(message) if message is not None else description


def render_error(exc: HTTPException, *, bare: bool = False):
    """The error page (or an htmx fragment) for `exc`, with its status and headers."""
    code = exc.code or 500
    # Without a URL adapter (a Host Werkzeug rejects) nothing can call url_for: keep it bare.
    bare = bare or getattr(request_ctx._get_current_object(), "url_adapter", None) is None
    context = {
        "code": code,
        "title": str(TITLES.get(code, exc.name)),
        "message": _message_for(exc),
        "retry_after": _retry_after(exc),
        "bare": bare,
    }
    context["retry_in"] = _humanised_wait(context["retry_after"], bare=bare)
    page = getattr(exc, "template", None)
    if page is None:
        page = "errors/error.html"
        if not bare and (shell := _admin_shell()) is not None:
            page = "errors/admin.html"
            context.update(shell)
    response = render_page_or_partial(page, "errors/_message.html", code, **context)
    if is_htmx():
        # Errors land in the page's message area, whatever element the request targeted.
        response.headers["HX-Retarget"] = "#messages"
        response.headers["HX-Reswap"] = "innerHTML"
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    if context["retry_after"]:
        response.headers["Retry-After"] = str(context["retry_after"])
    return response


def _admin_shell() -> dict | None:
    """For the dashboard's members and the console's admins: what an error page needs to sit in
    the admin shell. Everyone else (an outsider on a store's /admin, anyone on the storefront)
    gets the ordinary page, which says nothing about whose dashboard it is."""
    from flask_login import current_user

    if not current_user.is_authenticated:
        return None
    path = request.path
    if g.get("host_kind") == "platform" and (path == "/console" or path.startswith("/console/")):
        return {"area": "console"} if current_user.is_superuser else None
    store = g.get("store")
    if g.get("host_kind") != "store" or store is None:
        return None
    if not (path == "/admin" or path.startswith("/admin/")):
        return None
    from app.accounts.permissions import member_stores, role_in_store

    role = g.get("store_role") or role_in_store(current_user, store)
    if role is None and not current_user.is_superuser:
        return None
    g.store_role = role or "superuser"
    stores = []

    def switcher_stores():
        if not stores:
            stores.append(member_stores(current_user))
        return stores[0]

    return {"area": "dashboard", "switcher_stores": switcher_stores}


def _humanised_wait(seconds: int | None, *, bare: bool) -> str | None:
    """'in 15 minutes' rather than 'in 887 seconds', in the store's locale."""
    if not seconds:
        return None
    # A bare page may follow a rollback that expired the store row: it must not query.
    store = None if bare else g.get("store")
    locale = format_locale(store.locale if store is not None else None)
    return format_timedelta(timedelta(seconds=seconds), add_direction=True, locale=locale)


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
    """Any HTTP error raised by a view, a hook or Werkzeug (problem+json on API paths)."""
    if _is_api_request():
        from app.api.problems import from_http_exception

        return from_http_exception(exc, _retry_after(exc))
    return render_error(exc)


def _is_api_request() -> bool:
    from app.api.problems import is_api_request

    return is_api_request()


def handle_unexpected_error(exc: InternalServerError):
    """An unhandled exception: log it, roll back, show a page that needs no database."""
    original = getattr(exc, "original_exception", None) or exc
    log.error("unhandled error", exc_info=original)
    try:
        db.session.rollback()
    except Exception:
        log.exception("rollback after an unhandled error failed")
    if _is_api_request():
        from app.api.problems import problem

        return problem(500, "An unexpected error happened on our side. It has been logged.")
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
