"""API errors as RFC 9457 problem details (`application/problem+json`), with field errors."""

import json

from flask import Response, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from app.field_errors import FieldError

CONTENT_TYPE = "application/problem+json"
API_PREFIX = "/api/"


class ProblemError(Exception):
    """Raised by API code for an answer other than success; rendered as problem+json."""

    def __init__(
        self, status: int, detail: str = "", *, errors: list[dict] | None = None, headers=None
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


class FieldProblemSchema(Schema):
    location = fields.String(metadata={"description": "json, query, path or header"})
    field = fields.String(allow_none=True)
    message = fields.String()


class ProblemSchema(Schema):
    """RFC 9457 problem details; `errors` lists the fields that were refused."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    errors = fields.List(fields.Nested(FieldProblemSchema))


def is_api_request() -> bool:
    """Whether this request is for the API (errors answer as problem+json there)."""
    return request.path == API_PREFIX.rstrip("/") or request.path.startswith(API_PREFIX)


def problem(
    status: int, detail: str = "", *, errors: list[dict] | None = None, headers=None
) -> Response:
    """A problem+json response; `type` is about:blank, so `title` is the status phrase."""
    body = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail or HTTP_STATUS_CODES.get(status, "Error"),
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def field_errors(messages, location: str = "json") -> list[dict]:
    """Flatten webargs/marshmallow messages ({field: [msg] or nested}) into a list."""
    found: list[dict] = []

    def walk(value, path: list[str]):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, [*path, str(key)])
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, path)
        else:
            field = ".".join(path) if path and path != ["_schema"] else None
            found.append({"location": location, "field": field, "message": str(value)})

    walk(messages, [])
    return found


def from_field_error(exc: FieldError) -> ProblemError:
    """A domain's refusal (FieldError) as a problem with the field to blame."""
    return ProblemError(
        exc.status,
        exc.message,
        errors=[{"location": "json", "field": exc.field, "message": exc.message}],
    )


def from_http_exception(exc: HTTPException, retry_after: int | None = None) -> Response:
    """Any HTTP error on an API path (routing, auth, webargs validation, rate limit)."""
    status = exc.code or 500
    errors = None
    data = getattr(exc, "data", None) or {}
    if status == 422 and "messages" in data:
        errors = []
        for location, messages in data["messages"].items():
            errors += field_errors(messages, location)
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    detail = exc.description if exc.description != type(exc).description else ""
    if status == 422 and errors:
        detail = "The request has invalid fields: see errors."
    return problem(status, str(detail or ""), errors=errors, headers=headers)
