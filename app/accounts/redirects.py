"""Where a `next=` parameter may send the browser: this platform's own hosts only."""

from urllib.parse import urlsplit

from flask import current_app, request


def is_platform_host(host: str) -> bool:
    """True for the platform host and its store subdomains (any port)."""
    host = host.lower().rstrip(".")
    platform = current_app.config["PLATFORM_HOST"]
    return host == platform or host.endswith("." + platform)


def safe_next(target: str | None, default: str = "/") -> str:
    """`target` if it stays on the platform (a local path or a platform URL), else `default`."""
    if not target or len(target) > 2000 or any(ord(ch) < 32 for ch in target):
        return default
    target = target.strip()
    if "\\" in target:
        return default
    parts = urlsplit(target)
    if not parts.scheme and not parts.netloc:
        # A local path; "//evil.com" has a netloc and is handled below.
        return target if target.startswith("/") else default
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return default
    if parts.username or parts.password:
        return default
    return target if is_platform_host(parts.hostname) else default


def current_path() -> str:
    """This request's path with its query string, without the bare `?` of `request.full_path`."""
    return request.full_path if request.query_string else request.path
