"""Launching a new store: the first-run checklist and publishing (owner only)."""

from flask import flash, redirect, url_for
from flask_login import current_user

from app.accounts.permissions import require_store_permission
from app.dashboard.views import bp
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
        flash(f"{store.name} can't be published yet. {error.message}", "error")
        return redirect(url_for("dashboard.home"), 303)
    if published:
        flash(f"{store.name} is open: shoppers can find it now.", "success")
    else:
        flash(f"{store.name} was already published.", "info")
    return redirect(url_for("dashboard.home"), 303)
