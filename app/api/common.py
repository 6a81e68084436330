"""What every API resource shares: list arguments, the page envelope, id lookups, refusals."""

from flask import g
from marshmallow import Schema, fields, validate

from app.api.problems import ProblemError, from_field_error
from app.field_errors import FieldError
from app.pagination import BadCursor, CursorPage, cursor_paginate
from tenants.query import get_for_store

MAX_LIMIT = 100
MAX_ID = 2**31 - 1


class ListArgs(Schema):
    """A cursor page: `cursor` from the previous page's `next_cursor`, and its size."""

    cursor = fields.String(
        load_default=None, validate=validate.Length(max=200), metadata={"description": "Opaque"}
    )
    limit = fields.Integer(load_default=25, validate=validate.Range(min=1, max=MAX_LIMIT))


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A list answer: `data` (items) and `next_cursor` (null on the last page)."""
    return Schema.from_dict(
        {
            "data": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(allow_none=True, required=True),
        },
        name=name,
    )


def cursor_page(stmt, id_column, args: dict) -> dict:
    """One page of `stmt` as the list answer (422 for a cursor we didn't hand out)."""
    try:
        page: CursorPage = cursor_paginate(stmt, id_column, args.get("cursor"), args["limit"])
    except BadCursor:
        raise ProblemError(
            422,
            "The cursor is not one this API handed out.",
            errors=[{"location": "query", "field": "cursor", "message": "Invalid cursor."}],
        ) from None
    return {"data": page.items, "next_cursor": page.next_cursor}


def get_or_404(model, obj_id):
    """The store's row with this id; another store's id (or none) is 404, nothing said."""
    obj = get_for_store(model, obj_id, g.store) if 1 <= obj_id <= MAX_ID else None
    if obj is None:
        raise ProblemError(404, f"No {model.__name__.lower()} with id {obj_id} in this store.")
    return obj


def refused(exc: FieldError) -> ProblemError:
    """A domain's FieldError as the API's problem (422, or its own status such as 409)."""
    return from_field_error(exc)


# The URL converter of an id: a number no id can have (beyond 32 bits) is a 404 at routing.
ID = f"int(min=1, max={MAX_ID})"

# Documented on every write (app.api.idempotency reads it).
IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Repeat a write safely: the first answer for this key is replayed.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
