"""The settings page's logo and custom domain forms (the general form is in views.py)."""

from flask import flash, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.permissions import require_store_permission
from app.audit.service import record
from app.branding import MAX_LOGO_BYTES, LogoRefused, save_logo
from app.dashboard import bp
from app.dashboard.views import settings_page
from app.extensions import db
from tenants.context import current_store
from tenants.provisioning import StoreSettingsError, set_custom_domain


@bp.post("/settings/logo")
@require_store_permission("settings.change")
def settings_logo():
    """Upload a new logo (made into a small WebP), or remove it with `remove=1`."""
    store = current_store()
    before = store.logo_key
    if request.form.get("remove") == "1":
        store.logo_key = None
        message = gettext("Logo removed.")
    else:
        upload = request.files.get("logo")
        data = upload.read(MAX_LOGO_BYTES + 1) if upload else b""
        try:
            store.logo_key = save_logo(store.id, data)
        except LogoRefused as refused:
            return settings_page(status=422, logo_error=str(refused))
        message = gettext("Logo saved.")
    if before != store.logo_key:
        record(
            "store.logo_changed",
            actor=current_user,
            store=store,
            target=store,
            changes={"logo": [bool(before), bool(store.logo_key)]},
        )
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("dashboard.settings") + "#logo", 303)


@bp.post("/settings/domain")
@require_store_permission("settings.change")
def settings_domain():
    """Set (or clear) the custom domain; it works once a platform admin has verified it."""
    store = current_store()
    typed = (request.form.get("custom_domain") or "")[:300]
    try:
        set_custom_domain(store, typed, actor=current_user)
    except StoreSettingsError as refused:
        db.session.rollback()
        return settings_page(status=422, domain_error=refused.message, domain_value=typed)
    if store.custom_domain:
        flash(
            gettext("%(domain)s saved: create the DNS records below.", domain=store.custom_domain),
            "success",
        )
    else:
        flash(gettext("Custom domain removed."), "success")
    return redirect(url_for("dashboard.settings") + "#domain", 303)
