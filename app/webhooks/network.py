"""The SSRF guard: deliveries reach only public addresses, the one that was checked.

A vendor's URL is hostile input: it may name an internal address, or a host whose DNS answers
a public address to a first lookup and a private one to the next (DNS rebinding). So the host
is resolved once, every address it resolves to is checked, and the connection is made to that
checked IP (TLS still verifies the certificate for the host name). Redirects are not followed,
timeouts are short and the answer's body is read only up to a limit.

Private, loopback and unique-local addresses are allowed only with the platform setting
WEBHOOKS_ALLOW_PRIVATE_NETWORKS (tests, a private install); link-local (169.254.169.254, the
cloud metadata service), multicast, reserved and unspecified addresses never are.
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from flask import current_app
from flask_babel import gettext

MAX_URL = 2000
BODY_LIMIT = 2000  # characters of the receiver's answer kept in the log
READ_LIMIT = 64 * 1024  # bytes read at most from an answer


class UnsafeURL(ValueError):
    """The URL may not be delivered to; the message says why, for the vendor."""


@dataclass
class Outcome:
    """What one attempt came to: a status code (None when no answer), timing, body, error."""

    status_code: int | None
    duration_ms: int
    body: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def allow_private() -> bool:
    """Whether the platform lets deliveries reach private and loopback addresses."""
    return bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE_NETWORKS"))


# What WEBHOOKS_ALLOW_PRIVATE_NETWORKS opens: RFC 1918, loopback and unique-local, nothing else.
_PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "::1/128",
        "fc00::/7",
    )
)
# IPv6 forms that carry an IPv4 address to a relay (6to4, Teredo, NAT64): never a receiver.
_TUNNELS = tuple(
    ipaddress.ip_network(net)
    for net in ("2002::/16", "2001::/32", "64:ff9b::/96", "64:ff9b:1::/48")
)


def check_address(address: str, *, private_ok: bool) -> None:
    """Raise UnsafeURL unless `address` (an IP literal) may be connected to."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            # ::ffff:10.0.0.1 reaches 10.0.0.1: judge the IPv4 address.
            check_address(str(ip.ipv4_mapped), private_ok=private_ok)
            return
        if any(ip in net for net in _TUNNELS):
            raise UnsafeURL(gettext("%(address)s is not a public address.", address=address))
    if any(ip in net for net in _PRIVATE):
        if private_ok:
            return
        raise UnsafeURL(gettext("%(address)s is a private or loopback address.", address=address))
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_link_local:
        raise UnsafeURL(gettext("%(address)s is not a public address.", address=address))


def check_url(url: str, *, private_ok: bool | None = None) -> tuple[str, str, int]:
    """Parse and check an endpoint URL's form; returns (scheme, host, port).

    HTTPS only, unless private networks are allowed (a test server on loopback speaks HTTP).
    An IP literal is checked here already; a host name is checked when it is resolved.
    """
    private_ok = allow_private() if private_ok is None else private_ok
    url = (url or "").strip()
    if not url or len(url) > MAX_URL:
        raise UnsafeURL(gettext("Enter the endpoint's address, up to 2000 characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL(gettext("That address isn't a valid URL.")) from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (private_ok and scheme == "http"):
        raise UnsafeURL(gettext("The address must start with https://."))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL(gettext("The address needs a host name."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL(gettext("Leave user names and passwords out of the address."))
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UnsafeURL(gettext("That address isn't a valid URL."))
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        loopback_name = host.lower() == "localhost" or host.lower().endswith(".localhost")
        if loopback_name and not private_ok:
            raise UnsafeURL(
                gettext("%(address)s is a private or loopback address.", address=host)
            ) from None
    else:
        check_address(host, private_ok=private_ok)
    return scheme, host, port or (443 if scheme == "https" else 80)


def resolve(host: str, port: int, *, private_ok: bool) -> str:
    """Resolve `host` once and return an address to connect to; every answer must be safe
    (a name that resolves to one public and one private address is refused)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(
            gettext("%(host)s could not be resolved (%(error)s).", host=host, error=exc)
        ) from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise UnsafeURL(gettext("%(host)s could not be resolved.", host=host))
    for address in addresses:
        check_address(address, private_ok=private_ok)
    return addresses[0]


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST `body` to `url` through the guard; never raises for network trouble."""
    config = current_app.config
    started = time.monotonic()
    private_ok = allow_private()
    try:
        scheme, host, port = check_url(url, private_ok=private_ok)
        address = resolve(host, port, private_ok=private_ok)
    except UnsafeURL as exc:
        return Outcome(None, _ms(started), error=f"Refused: {exc}")
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if scheme == "https" else 80
    host_header = host if ":" not in host else f"[{host}]"
    if port != default_port:
        host_header += f":{port}"
    timeout = urllib3.Timeout(
        connect=config["WEBHOOKS_CONNECT_TIMEOUT"], read=config["WEBHOOKS_READ_TIMEOUT"]
    )
    pool_args = {"timeout": timeout, "retries": False, "maxsize": 1}
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            **pool_args,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **pool_args)
    try:
        response = pool.urlopen(
            "POST",
            target,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            raw = _read_some(response, started + config["WEBHOOKS_READ_TIMEOUT"])
        finally:
            response.release_conn()
        text = raw.decode("utf-8", errors="replace")[:BODY_LIMIT]
        error = None
        if not 200 <= response.status < 300:
            error = f"The endpoint answered {response.status}."
            if 300 <= response.status < 400:
                error += " Redirects are not followed."
        return Outcome(response.status, _ms(started), text, error)
    except Exception as exc:  # every network failure is an attempt's outcome, not a crash
        return Outcome(None, _ms(started), error=f"{type(exc).__name__}: {exc}"[:1000])
    finally:
        pool.close()


def _read_some(response, deadline: float) -> bytes:
    """Up to READ_LIMIT bytes of the answer, and no longer than until `deadline`: a receiver
    that drips its answer a byte at a time can't hold a worker past the read timeout."""
    chunks, size = [], 0
    while size < READ_LIMIT and time.monotonic() < deadline:
        chunk = response.read(min(8192, READ_LIMIT - size), decode_content=False)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
