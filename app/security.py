"""Security headers on every response: CSP, Permissions-Policy, framing, private caching."""

from flask import current_app, g, request, session

_BASE_CSP = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
]

# Powerful browser features no Pasar page uses are switched off for every page and frame;
# payments and passkeys (WebAuthn) stay available to our own pages only.
PERMISSIONS_POLICY = ", ".join(
    [
        "accelerometer=()",
        "browsing-topics=()",
        "camera=()",
        "display-capture=()",
        "geolocation=()",
        "gyroscope=()",
        "hid=()",
        "magnetometer=()",
        "microphone=()",
        "midi=()",
        "payment=(self)",
        "publickey-credentials-create=(self)",
        "publickey-credentials-get=(self)",
        "serial=()",
        "usb=()",
    ]
)

# Areas whose every page is about one person (their account, cart, checkout, orders) or one
# store's back office, signed in or not.
PRIVATE_BLUEPRINTS = frozenset(
    {
        "accounts",
        "account_orders",
        "addresses",
        "cart",
        "checkout",
        "console",
        "dashboard",
        "onboarding",
        "shopper_orders",
        "test_gateway",
    }
)
# Files that are the same for everyone and are meant to be cached.
PUBLIC_FILE_ENDPOINTS = frozenset({"static", "media.media_file"})


def allow_form_action(*sources: str) -> None:
    """Let this page's forms lead to `sources` too (e.g. a payment provider's hosted page).

    Browsers apply form-action to every redirect a form submission follows, so a form that
    posts to us and is redirected elsewhere needs the final origin here.
    """
    g.setdefault("form_action_sources", [])
    g.form_action_sources.extend(sources)


def own_hosts() -> list[str]:
    """CSP sources for the platform host and every store subdomain."""
    scheme = current_app.config["PREFERRED_URL_SCHEME"]
    domain = current_app.config["PLATFORM_DOMAIN"]
    return [f"{scheme}://{domain}", f"{scheme}://*.{domain}"]


def content_security_policy() -> str:
    """The CSP: no inline scripts, no framing; forms go to our own hosts (sign-in's `next`
    may lead from a store to the platform and back) and to what the page allowed."""
    form_action = ["'self'", *own_hosts(), *g.get("form_action_sources", [])]
    return "; ".join([*_BASE_CSP, "form-action " + " ".join(dict.fromkeys(form_action))])


def _signed_in() -> bool:
    user = g.get("_login_user")
    if user is not None:
        return bool(user.is_authenticated)
    return "_user_id" in session


def is_private_response(response) -> bool:
    """True when a shared cache (or the browser's history) must not keep this response."""
    if request.endpoint in PUBLIC_FILE_ENDPOINTS or response.cache_control.public:
        # Files, and answers a view declared the same for everyone (a store's theme.css).
        return False
    return request.blueprint in PRIVATE_BLUEPRINTS or _signed_in()


def add_security_headers(response):
    """CSP without inline scripts, no sniffing or framing, a strict referrer, HSTS on HTTPS,
    a Permissions-Policy, and `no-store` on every private page."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if current_app.config.get("HSTS"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if is_private_response(response):
        headers["Cache-Control"] = "no-store"
    return response
