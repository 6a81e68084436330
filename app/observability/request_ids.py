"""Request ids: taken from `X-Request-ID` when it is a sane token, else made; carried into jobs."""

import re
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"
# Letters and digits first, then the punctuation ids from proxies and tracers use (nginx's
# $request_id is 32 hex digits, a UUID has dashes, AWS's trace ids have "=" and ":"). Nothing
# that could break a log line (spaces, quotes, control characters), and at most 128 characters.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/@-]{0,127}")

# The id of the request (or of the request that queued the job) this code runs for; every log
# line carries it. A context variable, so each gthread worker thread has its own.
current_request_id: ContextVar[str | None] = ContextVar("pasar_request_id", default=None)
current_job_id: ContextVar[str | None] = ContextVar("pasar_job_id", default=None)


def new_request_id() -> str:
    """A fresh id: 32 hex digits, like nginx's `$request_id`."""
    return uuid.uuid4().hex


def parse_request_id(value: str | None) -> str | None:
    """The incoming header's id if it is a sane token, else None (then a new one is made)."""
    if not value:
        return None
    value = value.strip()
    return value if _SANE.fullmatch(value) else None


def request_context_meta() -> dict:
    """What a job queued now should carry: the request id and the store it was queued for.

    Empty outside a request or job. RQ keeps it as the job's `meta`; the worker logs it.
    """
    from flask import g, has_app_context

    meta = {}
    request_id = current_request_id.get()
    if request_id:
        meta["request_id"] = request_id
    if has_app_context():
        store_id = _identity(g.get("store"))
        if store_id is not None:
            meta["store_id"] = store_id
    return meta


def _identity(row) -> int | None:
    """A row's primary key without loading anything (it may be expired after a commit)."""
    if row is None:
        return None
    from sqlalchemy import inspect

    state = inspect(row, raiseerr=False)
    if state is None or state.identity is None:
        return getattr(row, "id", None)
    return state.identity[0]
