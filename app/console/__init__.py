"""The platform admins' console on the platform host, under /console.

The blueprint is here; each module in the list below adds its pages to it, and this list is
the one place they are imported (app/__init__.py registers `bp`). What the pages read is in
`queries`, `overview` and the services they call.
"""

from app.accounts import console_session
from tenants.context import platform_blueprint

bp = platform_blueprint("console", __name__, url_prefix="/console")
bp.after_request(console_session.after_console_request)

# The pages, each module adding its own to `bp`.
from app.console import (  # noqa: E402, F401
    audit,
    operations,
    payouts,
    search,
    stores,
    users,
    views,
)
