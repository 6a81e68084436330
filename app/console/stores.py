"""The console's stores: a searchable list with each store's sales, one store's details, and
suspending, reactivating, verifying a custom domain and allowing test payments (every action
audited)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.permissions import require_superuser
from app.catalog.browse import clean
from app.checkout.models import CheckoutSettings
from app.console import bp, queries
from app.extensions import db
from app.payments.test_mode import set_test_payments
from tenants.models import Store
from tenants.provisioning import (
    StoreSettingsError,
    delete_store,
    set_store_status,
    verify_custom_domain,
)
from tenants.query import MAX_ID

PAGE_SIZE = 25
STATUS_FILTERS = queries.STORE_FILTERS


@bp.get("/stores/")
@require_superuser
def store_list():
    """Every store, searchable by name, subdomain or owner email, with its sales."""
    q = clean(request.args.get("q"), 120).strip()
    status = request.args.get("status", "all")
    if status not in STATUS_FILTERS:
        status = "all"
    rows = queries.stores(q, status, request.args.get("page"), PAGE_SIZE)
    return render_template(
        "console/stores/list.html",
        rows=rows,
        q=q,
        status=status,
        statuses=STATUS_FILTERS,
    )


def _store_or_404(store_id: int) -> Store:
    store = db.session.get(Store, store_id) if 1 <= store_id <= MAX_ID else None
    if store is None:
        abort(404)
    return store


@bp.get("/stores/<int:store_id>")
@require_superuser
def store_detail(store_id: int, status: int = 200):
    """One store: its members, sales, settings and the actions a platform admin can take."""
    store = _store_or_404(store_id)
    gmv, orders = queries.store_sales(store)
    return render_template(
        "console/stores/detail.html",
        shop=store,
        gmv=gmv,
        orders=orders,
        test_orders=queries.count_test_orders(store),
        members=queries.store_members(store),
        checkout=db.session.get(CheckoutSettings, store.id),
        status_change=queries.store_status_change(store),
    ), status


@bp.post("/stores/<int:store_id>/<any(suspend, reactivate):action>")
@require_superuser
def store_status(store_id: int, action: str):
    """Suspend a store (its storefront, checkout and webhooks stop) or reactivate it."""
    store = _store_or_404(store_id)
    reason = clean(request.form.get("reason"), 500).strip()
    if action == "suspend" and not reason:
        flash(gettext("Say why the store is suspended (its owner may ask)."), "error")
        return redirect(url_for(".store_detail", store_id=store.id), 303)
    try:
        set_store_status(
            store,
            "suspended" if action == "suspend" else "active",
            actor=current_user,
            reason=reason,
        )
    except StoreSettingsError as error:
        flash(error.message, "error")
    else:
        flash(
            gettext("%(name)s is %(status)s.", name=store.name, status=gettext(store.status)),
            "success",
        )
    return redirect(url_for(".store_detail", store_id=store.id), 303)


@bp.post("/stores/<int:store_id>/test-payments")
@require_superuser
def store_test_payments(store_id: int):
    """Allow or stop test-gateway payments for one store (in production they are off)."""
    store = _store_or_404(store_id)
    allowed = request.form.get("allowed") == "1"
    reason = clean(request.form.get("reason"), 500).strip()
    if allowed and not reason:
        flash(
            gettext("Say why this store may take test payments (its orders won't be real)."),
            "error",
        )
        return redirect(url_for(".store_detail", store_id=store.id), 303)
    if set_test_payments(store, allowed, actor=current_user, reason=reason):
        flash(
            gettext("%(name)s can now take test payments.", name=store.name)
            if allowed
            else gettext("%(name)s can no longer take test payments.", name=store.name),
            "success",
        )
    return redirect(url_for(".store_detail", store_id=store.id), 303)


@bp.post("/stores/<int:store_id>/verify-domain")
@require_superuser
def store_verify_domain(store_id: int):
    """Mark the store's custom domain verified, so it starts serving the store."""
    store = _store_or_404(store_id)
    try:
        verified = verify_custom_domain(store, actor=current_user)
    except StoreSettingsError as error:
        flash(error.message, "error")
        return redirect(url_for(".store_detail", store_id=store.id), 303)
    if verified:
        flash(
            gettext("%(domain)s now serves %(name)s.", domain=store.custom_domain, name=store.name),
            "success",
        )
    else:
        flash(gettext("There is no unverified custom domain on this store."), "info")
    return redirect(url_for(".store_detail", store_id=store.id), 303)


@bp.post("/stores/<int:store_id>/delete")
@require_superuser
def store_delete(store_id: int):
    """Soft-delete a store after its subdomain is typed; its data is kept."""
    store = _store_or_404(store_id)
    try:
        delete_store(
            store,
            actor=current_user,
            confirm=clean(request.form.get("confirm"), 100),
            reason=clean(request.form.get("reason"), 500).strip(),
        )
    except StoreSettingsError as error:
        db.session.rollback()
        flash(error.message, "error")
        status = 409 if store.is_deleted else 422
        return store_detail(store_id, status=status)
    flash(
        gettext(
            "%(name)s is deleted: its addresses answer “no such store”. Its data is kept.",
            name=store.name,
        )
    )
    return redirect(url_for(".store_detail", store_id=store.id), 303)
