"""Parsing the Host header and deciding what it names: the platform, a store, or nothing."""

import re
from dataclasses import dataclass

_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PORT_RE = re.compile(r"^[0-9]{1,5}$")


@dataclass(frozen=True)
class HostTarget:
    """What a Host header points at.

    kind is "platform", "subdomain" (value: the slug), "custom" (value: the domain),
    "redirect" (value: the host to send the browser to) or "invalid".
    """

    kind: str
    value: str | None = None


INVALID = HostTarget("invalid")


def normalise_host(raw: str | None) -> str | None:
    """Lower-case host name without port or trailing dot, or None if it isn't a valid DNS name."""
    if not raw or len(raw) > 300:
        return None
    host = raw.strip().lower()
    if host.startswith("["):
        return None  # IP literals never name a store or the platform
    if ":" in host:
        host, _, port = host.rpartition(":")
        if not _PORT_RE.fullmatch(port):
            return None
    host = host.rstrip(".") if host.endswith(".") and not host.endswith("..") else host
    if not host or len(host) > 253:
        return None
    labels = host.split(".")
    if not all(_LABEL_RE.fullmatch(label) for label in labels):
        return None
    return host


def classify_host(raw: str | None, platform_host: str) -> HostTarget:
    """Map a raw Host header to a HostTarget, without touching the database."""
    host = normalise_host(raw)
    if host is None:
        return INVALID
    if host == platform_host:
        return HostTarget("platform")
    suffix = "." + platform_host
    if host.endswith(suffix):
        label = host[: -len(suffix)]
        if label == "www":
            return HostTarget("redirect", platform_host)
        if "." in label:
            return HostTarget("subdomain", None)  # deeper names are never stores
        return HostTarget("subdomain", label)
    return HostTarget("custom", host)
