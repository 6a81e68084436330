"""The dashboard's API keys page: make a key (its secret shown once), see when each was last
used, revoke one at once. Owners and managers (settings.change)."""

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.permissions import require_store_permission
from app.api import keys
from app.api.models import ApiKey
from app.dashboard import bp
from app.extensions import db
from tenants.context import current_store
from tenants.query import get_for_store_or_404

TEMPLATE = "admin/api_keys.html"


def _page(status: int = 200, **context):
    store = current_store()
    response = make_response(
        render_template(
            TEMPLATE,
            keys=keys.list_keys(store),
            scopes=keys.SCOPES,
            scope_labels=keys.SCOPE_LABELS,
            **{"new_key": None, "error": None, "values": {"name": "", "scopes": []}, **context},
        ),
        status,
    )
    # A page that shows a new key's secret must not be kept by the browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api-keys/")
@require_store_permission("settings.change")
def api_keys():
    """The store's API keys, and the form for a new one."""
    return _page()


@bp.post("/api-keys/")
@require_store_permission("settings.change")
def api_key_create():
    """Make a key; the answer shows its secret, this once (it is stored only as a hash)."""
    values = {"name": request.form.get("name", ""), "scopes": request.form.getlist("scopes")}
    try:
        made = keys.create_key(
            current_store(), values["name"], values["scopes"], actor=current_user
        )
    except keys.ApiKeyError as exc:
        db.session.rollback()
        return _page(422, error=exc, values=values)
    db.session.commit()
    return _page(new_key=made)


@bp.post("/api-keys/<int:key_id>/revoke")
@require_store_permission("settings.change")
def api_key_revoke(key_id: int):
    """Revoke a key: the next request that sends it is refused."""
    key = get_for_store_or_404(ApiKey, key_id)
    if keys.revoke_key(current_store(), key, actor=current_user):
        db.session.commit()
        flash(gettext("The key %(name)s is revoked.", name=key.name), "success")
    return redirect(url_for("dashboard.api_keys"), code=303)
