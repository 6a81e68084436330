"""Launching a new store: the first-run checklist and publishing (owner only)."""

from flask import flash, redirect, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.permissions import require_store_permission
from app.dashboard import bp
from app.onboarding.checklist import checklist
from tenants.context import current_store
from tenants.provisioning import StoreSettingsError, publish_store


@bp.context_processor
def launch_checklist():
    """`launch_steps()` for dashboard pages: the checklist while the store isn't launched."""

    def launch_steps():
        steps = checklist(current_store())
        return [] if all(step.done for step in steps) else steps

    return {"launch_steps": launch_steps}


@bp.post("/publish")
@require_store_permission("store.publish")
def publish():
    """Open the store to shoppers (it was visible to its members only)."""
    store = current_store()
    try:
        published = publish_store(store, actor=current_user)
    except StoreSettingsError as error:
        flash(
            gettext(
                "%(name)s can't be published yet. %(reason)s", name=store.name, reason=error.message
            ),
            "error",
        )
        return redirect(url_for("dashboard.home"), 303)
    if published:
        flash(gettext("%(name)s is open: shoppers can find it now.", name=store.name), "success")
    else:
        flash(gettext("%(name)s was already published.", name=store.name), "info")
    return redirect(url_for("dashboard.home"), 303)
