"""Static files under content-hashed URLs, cached by browsers and CDNs for a year.

`asset("css/pasar.css")` is `/static/css/pasar.css?v=<first 12 hex of its SHA-256>`. A changed
file gets a new URL, so the old one can be cached forever: a request whose `v` is the file's
current hash is answered `public, max-age=31536000, immutable`; any other (no `v`, an old one)
gets the plain answer that browsers revalidate.
"""

import hashlib
import os
from functools import lru_cache

from flask import Flask, current_app, request
from werkzeug.security import safe_join

IMMUTABLE = "public, max-age=31536000, immutable"


@lru_cache(maxsize=512)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()[:12]


def file_hash(name: str) -> str | None:
    """The content hash of static file `name`, or None if there is no such file."""
    path = safe_join(current_app.static_folder, name)  # as Flask's static view: no `..`
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    # Keyed by modification time and size too, so an edited file is hashed again.
    return _digest(path, stat.st_mtime_ns, stat.st_size)


def asset_url(prefix: str, name: str) -> str:
    """The URL of static file `name` with its content hash."""
    digest = file_hash(name)
    return f"{prefix}/{name}?v={digest}" if digest else f"{prefix}/{name}"


def mark_immutable(response):
    """A static file asked for under its current hash may be cached for a year."""
    if request.endpoint == "static" and response.status_code == 200:
        wanted = request.args.get("v")
        if wanted and wanted == file_hash(request.view_args.get("filename", "")):
            response.headers["Cache-Control"] = IMMUTABLE
    return response


def init_app(app: Flask) -> None:
    """Answer hashed static URLs with immutable caching."""
    app.after_request(mark_immutable)
