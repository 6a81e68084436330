"""The vendor REST API at /api/v1/ on a store's host, described by OpenAPI 3.1.

flask-smorest validates every request with the same marshmallow schemas the OpenAPI document
is generated from. The API has its own blueprint: store hosts only, no CSRF (no cookie ever
authenticates it: `Authorization: Bearer <key>`, app.api.auth), a rate limit per key, and
errors as problem+json (app.api.problems; app/errors.py hands API paths there).
"""

import http

from flask import Flask, g
from flask_smorest import Api
from flask_smorest import Blueprint as ApiBlueprint
from flask_smorest.utils import prepare_response

from app.api.problems import CONTENT_TYPE, ProblemError, ProblemSchema, problem
from app.extensions import csrf, limiter

PREFIX = "/api/v1"
DESCRIPTION = """The store's own data: products, stock, orders and coupons.

Authenticate with a key made in the dashboard (API keys): `Authorization: Bearer <key>`.
Lists are newest first; pass the `next_cursor` of a page as `cursor` for the next one.
Writes accept an `Idempotency-Key` header: repeating a write with the same key answers the
first answer again (`Idempotent-Replayed: true`) and changes nothing. Errors are
`application/problem+json` (RFC 9457), with refused fields under `errors`."""


class PasarApi(Api):
    """flask-smorest's Api, but errors stay ours: problem+json on API paths only (the rest
    of the app keeps its pages), and the spec is served by our blueprint on store hosts."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        pass  # app/errors.py answers API paths with problem+json

    def _register_doc_blueprint(self):
        pass  # /api/v1/openapi.json and /api/v1/docs are routes of the API blueprint

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error (problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


SPEC = {
    "title": "Pasar vendor API",
    "version": "1",
    "openapi_version": "3.1.0",
    "info": {"description": DESCRIPTION},
    "security": [{"bearerAuth": []}],
}
bp = ApiBlueprint("api", __name__, url_prefix=PREFIX, description="The vendor API")


@bp.before_request
def _store_host_and_key():
    """Store hosts only (404 on the platform's); then the bearer key (401 without one)."""
    from app.api.auth import authenticate

    if g.get("host_kind") != "store" or g.get("store") is None:
        raise ProblemError(404, "The API answers on a store's own host.")
    authenticate()


def _problem(exc: ProblemError):
    """A ProblemError raised by a view or a hook of the API: nothing it began is kept."""
    from app.extensions import db

    db.session.rollback()
    return problem(exc.status, exc.detail, errors=exc.errors, headers=exc.headers)


def init_app(app: Flask) -> None:
    """Register the API blueprint with its document, rate limit and CSRF exemption."""
    from app.api import coupons, orders, products, stock  # noqa: F401  (the routes)
    from app.api.auth import rate_limit, rate_limit_key
    from app.api.docs import bp as docs_bp

    api = PasarApi(spec_kwargs=SPEC)  # one per app: the tests make several apps
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "An API key"}
    )
    app.extensions["pasar_api"] = api
    csrf.exempt(bp)
    if not getattr(bp, "_pasar_limited", False):
        # The blueprint is module-level: limit it once, however many apps register it.
        limiter.limit(rate_limit, key_func=rate_limit_key)(bp)
        bp._pasar_limited = True
    api.register_blueprint(bp)
    app.register_blueprint(docs_bp)
    app.register_error_handler(ProblemError, _problem)
