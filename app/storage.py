"""Where uploaded files live: local disk by default, behind an interface an S3 backend can fill."""

import re
from functools import cache
from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory


class LocalStorage:
    """Files under one directory, addressed by slash-separated keys, served at /media/<key>."""

    def __init__(self, root: Path, url_prefix: str = "/media"):
        self.root = Path(root)
        self.url_prefix = url_prefix

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    def save(self, key: str, data: bytes) -> None:
        """Write `data` at `key` (atomically: readers never see half a file)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> None:
        """Remove every file under `prefix/`."""
        folder = self._path(prefix)
        if folder.is_dir():
            for file in folder.iterdir():
                file.unlink(missing_ok=True)
            folder.rmdir()

    def url(self, key: str) -> str:
        return f"{self.url_prefix}/{key}"


def get_storage() -> LocalStorage:
    """The app's file storage."""
    return LocalStorage(Path(current_app.config["MEDIA_ROOT"]))


@cache
def _served_key() -> re.Pattern:
    from app.catalog.images import SIZES

    sizes = "|".join(map(re.escape, SIZES))
    # The only files ever served: a product image's derived sizes and a store's made logo,
    # spelled exactly as Pasar writes them. Anything else (an original upload, any other
    # spelling of one: a trailing slash, `./`, double slashes, upper case, an extension) is not.
    image = rf"[0-9a-f]{{32}}/(?:{sizes})\.webp"
    logo = r"logo-[0-9a-f]{16}\.webp"
    return re.compile(rf"[0-9]{{1,12}}/(?:{image}|{logo})")


def is_served_key(key: str) -> bool:
    """True if `key` is the canonical key of a file that may be served (an allow-list)."""
    return _served_key().fullmatch(key) is not None


bp = Blueprint("media", __name__)


@bp.get("/media/<path:key>")
def media_file(key: str):
    """Serve a stored file (only the derived image sizes and logos, never an original upload)."""
    if not is_served_key(key):
        abort(404)
    response = send_from_directory(current_app.config["MEDIA_ROOT"], key, max_age=31536000)
    # Every served key is written once (a random name per upload or logo): never changes.
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response
