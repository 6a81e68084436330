"""The console's stores: a searchable list with each store's sales, one store's details, and
suspending, reactivating, verifying a custom domain and allowing test payments (every action
audited)."""

import math

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from app.accounts.models import Membership, User
from app.accounts.permissions import require_superuser
from app.catalog.browse import clean
from app.checkout.models import CheckoutSettings
from app.console.views import bp
from app.extensions import db
from app.orders.models import Order
from app.payments.models import Payment
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
SOLD = ("paid", "fulfilled", "delivered", "partially_refunded", "refunded")
STATUS_FILTERS = ("all", "active", "suspended", "unpublished", "deleted")


def _gmv_by_store():
    """Per store: paid orders' totals less refunds (gross merchandise value) and order count;
    test orders left out."""
    charged = (
        select(
            Order.store_id.label("store_id"),
            func.sum(Order.total).label("gmv"),
            func.count().label("orders"),
        )
        .where(Order.status.in_(SOLD), Order.is_test.is_(False))
        .group_by(Order.store_id)
        .subquery()
    )
    refunds = (
        select(Payment.store_id.label("store_id"), func.sum(Payment.amount).label("refunded"))
        .join(Order, Order.id == Payment.order_id)
        .where(Payment.kind == "refund", Order.is_test.is_(False))
        .group_by(Payment.store_id)
        .subquery()
    )
    return charged, refunds


@bp.get("/stores/")
@require_superuser
def store_list():
    """Every store, searchable by name, subdomain or owner email, with its sales."""
    q = clean(request.args.get("q"), 120).strip()
    status = request.args.get("status", "all")
    if status not in STATUS_FILTERS:
        status = "all"
    charged, refunds = _gmv_by_store()
    conditions = []
    if q:
        like = f"%{q.lower().replace('%', '').replace('_', '')}%"
        owners = (
            select(Membership.store_id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.role == "owner", func.lower(User.email).like(like))
        )
        conditions.append(
            or_(func.lower(Store.name).like(like), Store.slug.like(like), Store.id.in_(owners))
        )
    if status == "unpublished":
        conditions.append(Store.published_at.is_(None))
        conditions.append(Store.deleted_at.is_(None))
    elif status == "deleted":
        conditions.append(Store.deleted_at.is_not(None))
    elif status != "all":
        conditions.append(Store.status == status)
        conditions.append(Store.deleted_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(Store).where(*conditions))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    try:
        page = min(max(int(request.args.get("page", 1)), 1), pages)
    except ValueError:
        page = 1
    rows = db.session.execute(
        select(
            Store,
            func.coalesce(charged.c.gmv, 0) + func.coalesce(refunds.c.refunded, 0),
            func.coalesce(charged.c.orders, 0),
        )
        .outerjoin(charged, charged.c.store_id == Store.id)
        .outerjoin(refunds, refunds.c.store_id == Store.id)
        .where(*conditions)
        .order_by(Store.created_at.desc(), Store.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return render_template(
        "console/stores/list.html",
        rows=rows,
        q=q,
        status=status,
        statuses=STATUS_FILTERS,
        page=page,
        pages=pages,
        total=total,
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
    charged, refunds = _gmv_by_store()
    gmv, orders = db.session.execute(
        select(
            func.coalesce(charged.c.gmv, 0) + func.coalesce(refunds.c.refunded, 0),
            func.coalesce(charged.c.orders, 0),
        )
        .select_from(Store)
        .outerjoin(charged, charged.c.store_id == Store.id)
        .outerjoin(refunds, refunds.c.store_id == Store.id)
        .where(Store.id == store.id)
    ).one()
    test_orders = db.session.scalar(
        select(func.count()).where(Order.store_id == store.id, Order.is_test.is_(True))
    )
    members = db.session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.store_id == store.id)
        .order_by(Membership.created_at, Membership.id)
    ).all()
    return render_template(
        "console/stores/detail.html",
        shop=store,
        gmv=gmv,
        orders=orders,
        test_orders=test_orders,
        members=members,
        checkout=db.session.get(CheckoutSettings, store.id),
    ), status


@bp.post("/stores/<int:store_id>/<any(suspend, reactivate):action>")
@require_superuser
def store_status(store_id: int, action: str):
    """Suspend a store (its storefront, checkout and webhooks stop) or reactivate it."""
    store = _store_or_404(store_id)
    reason = clean(request.form.get("reason"), 500).strip()
    if action == "suspend" and not reason:
        flash("Say why the store is suspended (its owner may ask).", "error")
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
        flash(f"{store.name} is {store.status}.", "success")
    return redirect(url_for(".store_detail", store_id=store.id), 303)


@bp.post("/stores/<int:store_id>/test-payments")
@require_superuser
def store_test_payments(store_id: int):
    """Allow or stop test-gateway payments for one store (in production they are off)."""
    store = _store_or_404(store_id)
    allowed = request.form.get("allowed") == "1"
    reason = clean(request.form.get("reason"), 500).strip()
    if allowed and not reason:
        flash("Say why this store may take test payments (its orders won't be real).", "error")
        return redirect(url_for(".store_detail", store_id=store.id), 303)
    if set_test_payments(store, allowed, actor=current_user, reason=reason):
        flash(
            f"{store.name} {'can now' if allowed else 'can no longer'} take test payments.",
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
        flash(f"{store.custom_domain} now serves {store.name}.", "success")
    else:
        flash("There is no unverified custom domain on this store.", "info")
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
    flash(f"{store.name} is deleted: its addresses answer “no such store”. Its data is kept.")
    return redirect(url_for(".store_detail", store_id=store.id), 303)
