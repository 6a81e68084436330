"""What the admin shell (templates/layouts/admin.html) shows around every dashboard page."""

from flask import g
from flask_login import current_user

from app.accounts.permissions import member_stores
from app.dashboard import bp
from app.i18n import N_
from tenants.models import Store

# Roles and statuses as templates show them, translated there: `_(g.store_role)`,
# `_(product.status|capitalize)`; marked here so the catalogs have them.
ROLE_NAMES = (N_("owner"), N_("manager"), N_("staff"), N_("superuser"))
STATUS_NAMES = (N_("Draft"), N_("Active"), N_("Archived"), N_("Suspended"))


@bp.context_processor
def _shell():
    """The switcher's stores, loaded only when the layout asks (one query)."""

    def switcher_stores() -> list[Store]:
        if "_switcher_stores" not in g:
            g._switcher_stores = member_stores(current_user)
        return g._switcher_stores

    return {"switcher_stores": switcher_stores}
