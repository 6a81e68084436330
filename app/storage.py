"""Where uploaded files live: local disk by default, behind an interface an S3 backend can fill."""

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


bp = Blueprint("media", __name__)


@bp.get("/media/<path:key>")
def media_file(key: str):
    """Serve a stored file (only the derived image sizes, never an original upload)."""
    if key.endswith("/original") or ".." in key:
        abort(404)
    response = send_from_directory(current_app.config["MEDIA_ROOT"], key, max_age=31536000)
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response
