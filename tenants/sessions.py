"""Session cookies: shared across the platform's subdomains, private to each custom domain."""

from flask import g
from flask.sessions import SecureCookieSessionInterface


class TenantSessionInterface(SecureCookieSessionInterface):
    """Scope the cookie to the platform domain, except on a store's own custom domain."""

    def get_cookie_domain(self, app):
        if g.get("store") is not None and g.get("host_kind") == "store":
            host = g.store.custom_domain
            if host and g.store.custom_domain_verified_at:
                from flask import request

                if request.host.split(":")[0].lower() == host:
                    return None
        return super().get_cookie_domain(app)
