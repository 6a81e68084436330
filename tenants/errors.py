"""HTTP errors raised by tenancy, each with its own page."""

from werkzeug.exceptions import HTTPException, NotFound


class StoreNotFound(NotFound):
    """The host names no store (unknown, reserved or unverified domain)."""

    description = "There is no store at this address."
    template = "errors/store_not_found.html"


class StoreUnavailable(HTTPException):
    """The store exists but is suspended."""

    code = 503
    description = "This store is unavailable at the moment."
    template = "errors/store_unavailable.html"


class StoreNotPublished(NotFound):
    """The store exists but its owner hasn't published it yet (its members still see it)."""

    description = "This store hasn't opened yet."
    template = "errors/store_not_published.html"
