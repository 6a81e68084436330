"""Which store slugs are allowed: syntax, length and the reserved names."""

import re

from flask_babel import gettext

SLUG_MIN, SLUG_MAX = 3, 40
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")

# Subdomains the platform keeps for itself or that would confuse shoppers.
RESERVED_SLUGS = frozenset(
    [
        "www",
        "www1",
        "www2",
        "admin",
        "administrator",
        "api",
        "app",
        "apps",
        "assets",
        "auth",
        "billing",
        "blog",
        "cdn",
        "checkout",
        "console",
        "dashboard",
        "dev",
        "docs",
        "email",
        "ftp",
        "help",
        "home",
        "img",
        "images",
        "imap",
        "localhost",
        "mail",
        "mx",
        "news",
        "ns",
        "ns1",
        "ns2",
        "pasar",
        "payments",
        "pop",
        "pop3",
        "root",
        "secure",
        "shop",
        "signin",
        "signup",
        "smtp",
        "staging",
        "static",
        "status",
        "store",
        "stores",
        "support",
        "test",
        "webhooks",
        "webmail",
    ]
)


def slug_problem(slug: str) -> str | None:
    """Why `slug` can't name a store, or None if it can (availability aside)."""
    if not slug:
        return gettext("Choose a subdomain.")
    if slug != slug.strip() or slug != slug.lower():
        return gettext("Use lower-case letters, digits and hyphens only.")
    if not slug.isascii() or not _SLUG_RE.fullmatch(slug):
        if slug.startswith("-") or slug.endswith("-"):
            return gettext("A subdomain can't start or end with a hyphen.")
        return gettext("Use lower-case letters, digits and hyphens only.")
    if "--" in slug:
        return gettext("A subdomain can't contain two hyphens in a row.")
    if len(slug) < SLUG_MIN:
        return gettext("A subdomain needs at least %(min)s characters.", min=SLUG_MIN)
    if len(slug) > SLUG_MAX:
        return gettext("A subdomain can have at most %(max)s characters.", max=SLUG_MAX)
    if slug in RESERVED_SLUGS:
        return gettext("That subdomain is reserved.")
    return None
